/**
 * ClickHouse's own ordered, forward-only migrations, recorded in `groupd_migrations` inside
 * groupd's ClickHouse database and applied by `groupd migrate` and on serve. Every statement is
 * idempotent (IF NOT EXISTS), so processes starting at once may both run one harmlessly.
 *
 * With a cluster, each table is a local table on every shard (`<name>_local`, ON CLUSTER) and a
 * Distributed table `<name>` over them, sharded by a hash of (project, group key): one group's
 * events and snapshots live on one shard. Without one, `<name>` is the MergeTree table itself.
 */
import { literal } from '../filters/clickhouse.ts'
import { type ClickHouse, identifier } from './clickhouse.ts'
import { RowBinaryWriter } from './row-binary.ts'

/** A line about a long step (a data copy), for the operator. */
export type MigrationProgress = (line: string) => void

interface ClickHouseMigration {
  name: string
  up(ch: ClickHouse, progress: MigrationProgress): Promise<void>
}

/** A MergeTree table, plus its Distributed table on a cluster, under the name callers use. */
async function createTable(ch: ClickHouse, name: string, columns: string, engine: string): Promise<void> {
  const local = ch.cluster ? `${name}_local` : name
  await ch.command(
    `CREATE TABLE IF NOT EXISTS ${ch.table(local)}${ch.onCluster} (${columns}) ENGINE = ${engine}`,
  )
  if (ch.cluster) {
    await ch.command(
      `CREATE TABLE IF NOT EXISTS ${ch.table(name)}${ch.onCluster} AS ${ch.table(local)} ` +
        `ENGINE = Distributed(${identifier(ch.cluster)}, ${identifier(ch.database)}, ${identifier(local)}, cityHash64(project_id, group_key))`,
    )
  }
}

/**
 * The filter language's view of a properties object (events/properties.ts): parallel arrays, with
 * NaN for "not a number / not a datetime" (JSON null parses as NaN). No Nullable inside arrays:
 * 18.16 crashes filling them for the unmatched rows of a LEFT JOIN.
 */
const PROPERTY_COLUMNS = `prop_keys Array(String), prop_values Array(String),
  prop_numbers Array(Float64), prop_times Array(Float64)`

/** Whether a table (the Distributed one on a cluster) exists in groupd's database. */
async function tableExists(ch: ClickHouse, name: string): Promise<boolean> {
  const { rows } = await ch.query<{ n: number }>(
    `SELECT count() AS n FROM system.tables WHERE database = ${literal(ch.database)} AND name = ${literal(name)}`,
  )
  return Number(rows[0]?.n ?? 0) > 0
}

/**
 * Migration records: `groupd_migrations` on the server groupd talks to. On a cluster that table
 * exists on every shard, and records are read through `groupd_migrations_all`, a Distributed table
 * over all of them, so a groupd pointed at any server of the cluster (behind a load balancer, after
 * a failover) reads the same records. Records written before the cluster table existed stay where
 * they were and are read through it as well.
 */
const RECORDS = 'groupd_migrations'
const CLUSTER_RECORDS = 'groupd_migrations_all'

async function createRecords(ch: ClickHouse): Promise<void> {
  await ch.command(
    `CREATE TABLE IF NOT EXISTS ${ch.table(RECORDS)}${ch.onCluster} (name String, applied_at DateTime('UTC')) ENGINE = MergeTree ORDER BY name`,
  )
  if (ch.cluster) {
    await ch.command(
      `CREATE TABLE IF NOT EXISTS ${ch.table(CLUSTER_RECORDS)}${ch.onCluster} AS ${ch.table(RECORDS)} ` +
        `ENGINE = Distributed(${identifier(ch.cluster)}, ${identifier(ch.database)}, ${identifier(RECORDS)}, rand())`,
    )
  }
}

/** Records a migration (or a step of one) as applied, on the server groupd talks to. */
async function record(ch: ClickHouse, name: string): Promise<void> {
  const row = new RowBinaryWriter().string(name).uint32(Math.floor(Date.now() / 1000))
  await ch.insertRowBinary(RECORDS, ['name', 'applied_at'], row.view())
}

/** Every migration (and step of one) recorded as applied, on any server of the cluster. */
async function recorded(ch: ClickHouse): Promise<Set<string>> {
  const { rows } = await ch.query<{ name: string }>(
    `SELECT DISTINCT name FROM ${ch.table(ch.cluster ? CLUSTER_RECORDS : RECORDS)}`,
  )
  return new Set(rows.map((r) => r.name))
}

/** Longest a migration's copy statement may run (below open.ts's timeout for migrations). */
const COPY_MAX_SECONDS = 5 * 3600

/** Drops a table created by createTable (its local tables too, on a cluster). */
async function dropTable(ch: ClickHouse, name: string): Promise<void> {
  await ch.command(`DROP TABLE IF EXISTS ${ch.table(name)}${ch.onCluster}`)
  if (ch.cluster) await ch.command(`DROP TABLE IF EXISTS ${ch.table(`${name}_local`)}${ch.onCluster}`)
}

export const clickhouseMigrations: ClickHouseMigration[] = [
  {
    name: '001-events-and-groups',
    async up(ch) {
      // One row per (event, group it belongs to), ordered by group and time, so a metric query for
      // a group reads that group's rows only. An event without groups has one row under
      // group_type_index 255; is_primary marks the one row to read for "each event once". Rows
      // with the same uuid are one event: reads keep one (LIMIT 1 BY uuid), merges drop the rest.
      await createTable(
        ch,
        'events',
        `project_id UInt64, group_type_index UInt8, group_key String, is_primary UInt8,
        uuid UUID, event String, distinct_id String,
        timestamp DateTime('UTC'), time_ms Int64,
        group_0 Nullable(String), group_1 Nullable(String), group_2 Nullable(String),
        group_3 Nullable(String), group_4 Nullable(String),
        properties String, ${PROPERTY_COLUMNS}`,
        'ReplacingMergeTree PARTITION BY toYYYYMM(timestamp) ORDER BY (project_id, group_type_index, group_key, timestamp, uuid)',
      )
      // Full property snapshots of groups after each $groupidentify; the newest version wins.
      await createTable(
        ch,
        'groups',
        `project_id UInt64, group_type_index UInt8, group_key String, properties String,
        ${PROPERTY_COLUMNS}, version UInt64`,
        'ReplacingMergeTree(version) ORDER BY (project_id, group_type_index, group_key)',
      )
    },
  },
  {
    // The same rows in fewer files, merged more cheaply. Every INSERT writes a part with two files
    // per column (four per Nullable or array), and on ext4 creating and deleting those files was
    // most of what an INSERT and its merges cost: 62 files per part become 38. The second's
    // DateTime is gone (time_ms orders and partitions), the five Nullable group columns are one
    // array, the property view is a Nested structure whose arrays share one offsets file, and
    // is_primary is `properties != ''`. Plain MergeTree: reads count each uuid once anyway, and
    // replacing merges only reclaimed the disk of retried batches, for 15% of ClickHouse's CPU per
    // inserted row (measured with 4,000-row INSERTs and their merges).
    name: '002-events-v2',
    async up(ch, progress) {
      await createTable(
        ch,
        'events_v2',
        `project_id UInt64, group_type_index UInt8, group_key String, uuid UUID, event String,
        distinct_id String, time_ms Int64, group_keys Array(Nullable(String)), properties String,
        prop Nested(key String, value String, number Float64, time Float64)`,
        // UTC months of the second within DateTime's range, as 001 partitioned its `timestamp`.
        `MergeTree PARTITION BY toYYYYMM(toDateTime(least(greatest(intDiv(time_ms, 1000), 0), 4294967295), 'UTC')) ` +
          'ORDER BY (project_id, group_type_index, group_key, time_ms, uuid)',
      )
      if (await tableExists(ch, 'events')) {
        // Month by month (001's partitions), each recorded once copied: a large table shows
        // progress, and a run interrupted and started again copies only the months it had not
        // finished (the rows of a month it was copying are stored twice; reads count them once).
        const step = '002-events-v2/copied '
        const copied = await recorded(ch)
        const { rows: months } = await ch.query<{ month: number }>(
          `SELECT DISTINCT toYYYYMM(timestamp) AS month FROM ${ch.table('events')} ORDER BY month`,
        )
        for (const [i, { month }] of months.entries()) {
          const of = `(${i + 1}/${months.length})`
          if (copied.has(`${step}${month}`)) {
            progress(`events_v2: events of ${month} already copied ${of}`)
            continue
          }
          await ch.command(
            `INSERT INTO ${ch.table('events_v2')} (project_id, group_type_index, group_key, uuid, event,
            distinct_id, time_ms, group_keys, properties, prop.key, prop.value, prop.number, prop.time)
          SELECT project_id, group_type_index, group_key, uuid, event, distinct_id, time_ms,
            [group_0, group_1, group_2, group_3, group_4], if(is_primary = 1, properties, ''),
            prop_keys, prop_values, prop_numbers, prop_times
          FROM ${ch.table('events')} WHERE toYYYYMM(timestamp) = ${Number(month)}`,
            { max_execution_time: COPY_MAX_SECONDS, ...(ch.cluster ? { insert_distributed_sync: 1 } : {}) },
          )
          await record(ch, `${step}${month}`)
          progress(`events_v2: copied events of ${month} ${of}`)
        }
      }
      // Also when `events` is gone: a run stopped between the two drops left `events_local`.
      await dropTable(ch, 'events')
    },
  },
]

export async function migrateClickHouse(
  ch: ClickHouse,
  progress: MigrationProgress = () => {},
): Promise<string[]> {
  await ch.command(`CREATE DATABASE IF NOT EXISTS ${identifier(ch.database)}${ch.onCluster}`)
  await createRecords(ch)
  const applied = await recorded(ch)
  const ran: string[] = []
  for (const migration of clickhouseMigrations) {
    if (applied.has(migration.name)) continue
    await migration.up(ch, progress)
    await record(ch, migration.name)
    ran.push(migration.name)
  }
  return ran
}
