/**
 * What only the ClickHouse events store has to prove (runs in the ClickHouse pass of
 * scripts/test.sh): the one escaping function round-trips any string, a retried batch is counted
 * once though its duplicate rows are stored, an unreachable ClickHouse answers 503 and
 * rolls the request back, and SIGKILL while capturing loses nothing acknowledged.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { sql } from 'kysely'
import { buildApp } from '../src/app.ts'
import { clickhouseConfig } from '../src/config.ts'
import { migrate } from '../src/db/migrate.ts'
import { ClickHouse, identifier } from '../src/events/clickhouse.ts'
import { clickhouseMigrations, migrateClickHouse } from '../src/events/clickhouse-migrations.ts'
import { ClickHouseEventsStore, EVENTS_TABLE } from '../src/events/clickhouse-store.ts'
import { RowBinaryWriter } from '../src/events/row-binary.ts'
import { literal } from '../src/filters/clickhouse.ts'
import { DAY_MS } from '../src/filters/dates.ts'
import { and, type Expr, TRUE } from '../src/filters/tree.ts'
import { sendCapture } from './helpers/capture.ts'
import {
  CLICKHOUSE_CLUSTER,
  CLICKHOUSE_SHARDS,
  CLICKHOUSE_URL,
  client,
  createTenant,
  ENGINE,
  EVENTS,
  openTestDatabase,
  startServer,
  type Tenant,
  type TestServer,
} from './helpers/harness.ts'
import { createMetric, valuesAt } from './helpers/metric-values.ts'
import { freePort, startServerProcess } from './helpers/processes.ts'

const skip = EVENTS === 'clickhouse' ? false : 'ClickHouse pass only (GROUPD_TEST_EVENTS=clickhouse)'

function clickhouseOf(server: { events: unknown }): ClickHouse {
  assert.ok(server.events instanceof ClickHouseEventsStore)
  return server.events.clickhouse
}

const batchOf = (uuids: string[], group = 'acme') =>
  uuids.map((uuid, i) => ({
    event: 'x',
    distinct_id: 'u',
    uuid,
    properties: { $groups: { company: group }, amount: i + 1 },
  }))

describe('ClickHouse events store', { skip }, () => {
  let server: TestServer
  before(async () => {
    server = await startServer()
  })
  after(() => server?.close())

  it('literal() round-trips any string through ClickHouse (fast-check)', async () => {
    const ch = clickhouseOf(server)
    const text = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.string({
        unit: fc.constantFrom("'", '\\', '\0', '\n', '\r', '\t', '"', '`', '?', '{', 'x', 'é', '🎉'),
      }),
    )
    await fc.assert(
      fc.asyncProperty(fc.array(text, { minLength: 1, maxLength: 40 }), async (values) => {
        const { rows } = await ch.query<{ v: string[] }>(`SELECT [${values.map(literal).join(', ')}] AS v`)
        assert.deepEqual(rows[0]?.v, values)
      }),
      { numRuns: 60, seed: 20261130 },
    )
  })

  it('RowBinaryWriter round-trips every column type groupd inserts (fast-check)', async () => {
    const ch = clickhouseOf(server)
    const table = `rowbinary_${process.pid}`
    await ch.command(
      `CREATE TABLE ${ch.table(table)} (k UInt64, b UInt8, d UInt32, i Int64, id UUID, s String, ` +
        'n Nullable(String), a Array(String), f Array(Float64)) ENGINE = MergeTree ORDER BY k',
    )
    const columns = ['k', 'b', 'd', 'i', 'id', 's', 'n', 'a', 'f']
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.string({ unit: fc.constantFrom('\0', "'", '\\', '\t', '\n', 'é', '🎉', 'x'), maxLength: 200 }),
    )
    const row = fc.record({
      b: fc.integer({ min: 0, max: 255 }),
      d: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      i: fc.maxSafeInteger(),
      id: fc.uuid(),
      s: text,
      n: fc.option(text),
      a: fc.array(text, { maxLength: 5 }),
      f: fc.array(fc.oneof(fc.double({ noDefaultInfinity: true }), fc.constant(Number.NaN)), {
        maxLength: 5,
      }),
    })
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 30 }), async (rows) => {
          await ch.command(`TRUNCATE TABLE ${ch.table(table)}`)
          const out = new RowBinaryWriter()
          for (const [k, r] of rows.entries()) {
            out.int64(k).uint8(r.b).uint32(r.d).int64(r.i).uuid(r.id).string(r.s).nullableString(r.n)
            out.strings(r.a).float64s(r.f)
          }
          await ch.insertRowBinary(table, columns, out.view())
          const { rows: back } = await ch.query<Record<string, unknown>>(
            `SELECT k, b, d, toString(i) AS i, toString(id) AS id, s, n, a, ` +
              `arrayMap(x -> if(isNaN(x), 'nan', toString(x)), f) AS f FROM ${ch.table(table)} ORDER BY k`,
          )
          const floats = (v: unknown) => (v as string[]).map((x) => (x === 'nan' ? Number.NaN : Number(x)))
          assert.deepEqual(
            back.map((r) => ({ ...r, f: floats(r.f) })),
            rows.map((r, k) => ({
              k,
              b: r.b,
              d: r.d,
              i: String(r.i),
              id: r.id.toLowerCase(),
              s: r.s,
              n: r.n,
              a: r.a,
              f: r.f,
            })),
          )
        }),
        { numRuns: 40, seed: 20261130 },
      )
    } finally {
      await ch.command(`DROP TABLE IF EXISTS ${ch.table(table)}`)
    }
  })

  it('a retried batch is counted once, its duplicate rows stored and unmerged', async () => {
    const ch = clickhouseOf(server)
    await ch.command(`SYSTEM STOP MERGES ${ch.table(EVENTS_TABLE)}`)
    try {
      const t = await createTenant(server.database)
      await createMetric(server.url, t, { name: 'xs', filters: { events: [{ id: 'x' }] } })
      await createMetric(server.url, t, {
        name: 'amount',
        math: 'sum',
        math_property: 'amount',
        filters: { events: [{ id: 'x' }] },
      })
      const batch = batchOf(Array.from({ length: 20 }, () => randomUUID()))
      for (let attempt = 0; attempt < 3; attempt++) {
        const res = await sendCapture(server.url, '/batch/', { api_key: t.project.api_token, batch })
        assert.equal(res.status, 200)
      }
      const { rows } = await ch.query<{ n: number }>(
        `SELECT count() AS n FROM ${ch.table(EVENTS_TABLE)} WHERE project_id = ${t.project.id}`,
      )
      assert.equal(rows[0]?.n, 60, 'the three copies are all stored, unmerged')
      const values = await valuesAt(server, t, Date.now())
      assert.deepEqual(
        values.map((m) => [m.name, m.value]),
        [
          ['xs', 20],
          ['amount', 210],
        ],
      )
    } finally {
      await ch.command(`SYSTEM START MERGES ${ch.table(EVENTS_TABLE)}`)
    }
  })

  it('concurrent captures share INSERTs (fewer parts than requests), each acknowledged with its rows stored', async () => {
    const ch = clickhouseOf(server)
    const parts = async () =>
      (
        await ch.query<{ n: number }>(
          `SELECT count() AS n FROM system.parts WHERE database = ${literal(ch.database)} AND table = ${literal(EVENTS_TABLE)} AND active`,
        )
      ).rows[0]?.n ?? 0
    await ch.command(`SYSTEM STOP MERGES ${ch.table(EVENTS_TABLE)}`)
    try {
      const t = await createTenant(server.database)
      const before = await parts()
      const batches = Array.from({ length: 40 }, () =>
        batchOf(Array.from({ length: 10 }, () => randomUUID())),
      )
      const statuses = await Promise.all(
        batches.map(
          async (batch) =>
            (await sendCapture(server.url, '/batch/', { api_key: t.project.api_token, batch })).status,
        ),
      )
      assert.deepEqual(new Set(statuses), new Set([200]))
      const added = (await parts()) - before
      assert.ok(added < 40, `${added} parts for 40 requests`)
      const { rows } = await ch.query<{ n: number }>(
        `SELECT uniqExact(uuid) AS n FROM ${ch.table(EVENTS_TABLE)} WHERE project_id = ${t.project.id}`,
      )
      assert.equal(rows[0]?.n, 400)
    } finally {
      await ch.command(`SYSTEM START MERGES ${ch.table(EVENTS_TABLE)}`)
    }
  })
})

describe('Capture into ClickHouse in steady state', { skip }, () => {
  it('holds no metadata transaction (no lock on a table) while it waits for ClickHouse', {
    skip: ENGINE === 'postgres' ? false : 'reads pg_locks; on SQLite the concurrency test above shows it',
  }, async () => {
    const server = await startServer()
    try {
      const t = await createTenant(server.database)
      const send = () =>
        sendCapture(server.url, '/batch/', {
          api_key: t.project.api_token,
          batch: batchOf(Array.from({ length: 20 }, () => randomUUID())),
        })
      assert.equal((await send()).status, 200, 'the first capture registers the group type')
      // Sessions holding a lock on this test's tables (each test database is its own schema) while
      // idle in a transaction for over 20 ms: waiting for something outside PostgreSQL (a statement
      // is idle in its implicit transaction for microseconds between its Execute and Sync).
      const holders = sql<{ n: string }>`SELECT count(*) AS n FROM pg_locks l
        JOIN pg_class c ON c.oid = l.relation JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE c.relnamespace = current_schema()::regnamespace AND a.state = 'idle in transaction'
          AND clock_timestamp() - a.state_change > interval '20 milliseconds'`
      const probe = async () => Number((await holders.execute(server.database.db)).rows[0]?.n)
      let captures = 0
      let maxLocks = 0
      const sending = Promise.all(
        Array.from({ length: 4 }, async () => {
          for (let i = 0; i < 10; i++) {
            assert.equal((await send()).status, 200)
            captures++
          }
        }),
      )
      let done = false
      void sending.finally(() => {
        done = true
      })
      while (!done) maxLocks = Math.max(maxLocks, await probe())
      await sending
      assert.equal(captures, 40)
      assert.equal(maxLocks, 0, 'a capture held a lock while waiting for ClickHouse')
    } finally {
      await server.close()
    }
  })
})

describe('ClickHouse unreachable', { skip }, () => {
  it('capture answers 503 with Retry-After, rolls its metadata back; /_ready is 503', async () => {
    const testDb = await openTestDatabase()
    await migrate(testDb.database)
    const down = new ClickHouseEventsStore(
      ClickHouse.open({
        url: `http://127.0.0.1:${await freePort()}`,
        username: 'default',
        password: '',
        database: 'groupd',
        cluster: null,
      }),
      0,
    )
    const app = await buildApp({ database: testDb.database, events: down })
    try {
      const t = await createTenant(testDb.database)
      const res = await app.inject({
        method: 'POST',
        url: '/batch/',
        payload: { api_key: t.project.api_token, batch: batchOf([randomUUID()], 'new-co') },
      })
      assert.equal(res.statusCode, 503, res.body)
      assert.equal(res.headers['retry-after'], '5')
      assert.equal(res.json().code, 'database_unavailable')
      const ready = await app.inject({ method: 'GET', url: '/_ready' })
      assert.equal(ready.statusCode, 503)
      assert.equal(ready.headers['retry-after'], '5')
      const types = await app.inject({
        method: 'GET',
        url: `/api/projects/${t.project.id}/groups_types/`,
        headers: { authorization: `Bearer ${t.key}` },
      })
      assert.deepEqual(types.json(), [], 'the group type of the refused batch was rolled back')
    } finally {
      await app.close()
      await down.close()
      await testDb.cleanup()
    }
  })
})

describe('SIGKILL while capturing into ClickHouse', { skip }, () => {
  it('keeps every acknowledged event, each counted once, even when the batches are sent again', async () => {
    const testDb = await openTestDatabase()
    await migrate(testDb.database)
    try {
      const t: Tenant = await createTenant(testDb.database)
      const acked: string[][] = []
      for (let cycle = 0; cycle < 3; cycle++) {
        const server = await startServerProcess(testDb.env)
        let killed = false
        const writer = async () => {
          while (!killed) {
            const uuids = Array.from({ length: 50 }, () => randomUUID())
            try {
              const res = await sendCapture(server.url, '/batch/', {
                api_key: t.project.api_token,
                batch: batchOf(uuids),
              })
              if (res.status === 200) acked.push(uuids)
            } catch {
              return // killed mid-request
            }
          }
        }
        const writers = [writer(), writer()]
        await new Promise((r) => setTimeout(r, 300 + cycle * 200))
        killed = true
        server.child.kill('SIGKILL')
        await server.exited
        await Promise.all(writers)
      }
      assert.ok(acked.length > 0, 'some batches were acknowledged')
      const server = await startServerProcess(testDb.env)
      try {
        // The SDK's retry of batches it may not have seen acknowledged: nothing is counted twice.
        for (const uuids of acked.slice(-3)) {
          const res = await sendCapture(server.url, '/batch/', {
            api_key: t.project.api_token,
            batch: batchOf(uuids),
          })
          assert.equal(res.status, 200)
        }
        const ch = clickhouseOf(testDb)
        const ackedUuids = new Set(acked.flat())
        const { rows } = await ch.query<{ uuid: string }>(
          `SELECT DISTINCT toString(uuid) AS uuid FROM ${ch.table(EVENTS_TABLE)} WHERE project_id = ${t.project.id}`,
        )
        const stored = new Set(rows.map((r) => r.uuid))
        for (const uuid of ackedUuids) assert.ok(stored.has(uuid), `acknowledged event ${uuid} is missing`)
        await createMetric(server.url, t, { name: 'xs', filters: { events: [{ id: 'x' }] } })
        const res = await client(server.url, t.key).post(`/api/projects/${t.project.id}/query/`, {
          body: { query: { kind: 'UsageMetricsQuery', group_type_index: 0, group_key: 'acme' } },
        })
        assert.equal(res.status, 200, res.text)
        assert.equal(res.body.results[0].value, stored.size, 'each stored event counted once')
      } finally {
        await server.stop()
      }
    } finally {
      await testDb.cleanup()
    }
  })
})

describe('ClickHouse migration 002 (events_v2)', { skip }, () => {
  const targets = [{ name: 'a single server', url: CLICKHOUSE_URL, cluster: '' }]
  const [shard] = CLICKHOUSE_SHARDS
  if (shard && CLICKHOUSE_CLUSTER)
    targets.push({ name: 'a two-shard cluster', url: shard, cluster: CLICKHOUSE_CLUSTER })
  for (const target of targets)
    it(`copies 001's events month by month, resumes an interrupted copy, and they read and count as before (${target.name})`, async () => {
      const config = clickhouseConfig({
        GROUPD_CLICKHOUSE_URL: `${target.url}/groupd_migrate_${process.pid}`,
        GROUPD_CLICKHOUSE_CLUSTER: target.cluster,
      })
      assert.ok(config)
      const ch = ClickHouse.open(config)
      const database = `${identifier(config.database)}${ch.onCluster}`
      try {
        await ch.command(`DROP DATABASE IF EXISTS ${database}`)
        await ch.command(`CREATE DATABASE ${database}`)
        const first = clickhouseMigrations.find((m) => m.name === '001-events-and-groups')
        await first?.up(ch, () => {})
        const now = Date.parse('2026-11-30T12:00:00.000Z')
        const [a, b] = [randomUUID(), randomUUID()]
        const earlier = now - 40 * DAY_MS // the month before: two partitions to copy
        // a: in acme (company) and w1 (workspace), its primary row stored twice (a retry), its
        // other row with JSON text that 001 would not read (002 keeps '' there); b: in no group.
        const aJson = '{"n":7,"$group_0":"acme","$group_1":"w1"}'
        const row = (gti: number, key: string, primary: number, uuid: string, ms: number, json: string) =>
          `(1, ${gti}, '${key}', ${primary}, '${uuid}', 'x', 'u1', toDateTime(${Math.floor(ms / 1000)}), ${ms}, ` +
          `${gti === 255 ? 'NULL' : "'acme'"}, ${gti === 255 ? 'NULL' : "'w1'"}, NULL, NULL, NULL, '${json}', ` +
          `['n', 'at'], ['7', '2026-01-02'], [7, nan], [nan, 1767312000000])`
        await ch.command(
          `INSERT INTO ${ch.table('events')} (project_id, group_type_index, group_key, is_primary, uuid, event,
          distinct_id, timestamp, time_ms, group_0, group_1, group_2, group_3, group_4, properties, prop_keys,
          prop_values, prop_numbers, prop_times) VALUES ` +
            [
              row(0, 'acme', 1, a, now - 1000, aJson),
              row(1, 'w1', 0, a, now - 1000, aJson),
              row(0, 'acme', 1, a, now - 1000, aJson),
              row(255, '', 1, b, earlier, '{"n":7}'),
            ].join(', '),
          { insert_distributed_sync: 1 },
        )
        const month = (ms: number) => new Date(ms).toISOString().slice(0, 7).replace('-', '')
        // Interrupted once the first month is copied (a process killed, a timeout).
        await assert.rejects(
          migrateClickHouse(ch, (line) => {
            throw new Error(`stopped after: ${line}`)
          }),
          { message: `stopped after: events_v2: copied events of ${month(earlier)} (1/2)` },
        )
        const lines: string[] = []
        assert.deepEqual(await migrateClickHouse(ch, (line) => lines.push(line)), ['002-events-v2'])
        assert.deepEqual(lines, [
          `events_v2: events of ${month(earlier)} already copied (1/2)`,
          `events_v2: copied events of ${month(now)} (2/2)`,
        ])
        const { rows: tables } = await ch.query<{ name: string }>(
          `SELECT name FROM system.tables WHERE database = ${literal(config.database)} ORDER BY name`,
        )
        assert.deepEqual(
          tables.map((t) => t.name),
          target.cluster
            ? [
                'events_v2',
                'events_v2_local',
                'groupd_migrations',
                'groupd_migrations_all',
                'groups',
                'groups_local',
              ]
            : ['events_v2', 'groupd_migrations', 'groups'],
        )
        // Every row once (the first month was not copied again), each column as 001 had it.
        const { rows: copied } = await ch.query(
          `SELECT toString(uuid) AS uuid, group_type_index AS gti, group_key, event, distinct_id, time_ms,
            group_keys, properties, prop.key AS k, prop.value AS v,
            arrayMap(x -> if(isNaN(x), 'none', toString(x)), prop.number) AS n,
            arrayMap(x -> if(isNaN(x), 'none', toString(x)), prop.time) AS t
          FROM ${ch.table(EVENTS_TABLE)} ORDER BY time_ms, gti`,
        )
        const view = {
          k: ['n', 'at'],
          v: ['7', '2026-01-02'],
          n: ['7', 'none'],
          t: ['none', '1767312000000'],
        }
        const copy = (
          uuid: string,
          gti: number,
          key: string,
          ms: number,
          groups: (string | null)[],
          json: string,
        ) => ({
          uuid,
          gti,
          group_key: key,
          event: 'x',
          distinct_id: 'u1',
          time_ms: ms,
          group_keys: groups,
          properties: json,
          ...view,
        })
        const aGroups = ['acme', 'w1', null, null, null]
        assert.deepEqual(copied, [
          copy(b, 255, '', earlier, [null, null, null, null, null], '{"n":7}'),
          copy(a, 0, 'acme', now - 1000, aGroups, aJson),
          copy(a, 0, 'acme', now - 1000, aGroups, aJson),
          copy(a, 1, 'w1', now - 1000, aGroups, ''),
        ])
        const store = new ClickHouseEventsStore(ch, 0)
        const listed = await store.listEvents({ projectId: 1, expr: TRUE, limit: 10 })
        assert.deepEqual(
          listed.map((e) => [e.uuid, e.properties, e.timestamp]),
          [
            [a, JSON.parse(aJson), new Date(now - 1000).toISOString()],
            [b, { n: 7 }, new Date(earlier).toISOString()],
          ],
        )
        const inW1: Expr = {
          kind: 'cond',
          cond: { op: 'eq', field: { source: 'column', column: 'group_1' }, values: ['w1'], negate: false },
        }
        const series = (expr: Expr) => ({ expr, sumProperty: 'n', since: now - 60 * DAY_MS })
        for (const [groupTypeIndex, groupKey] of [
          [0, 'acme'],
          [1, 'w1'],
        ] as const) {
          const buckets = await store.metricBuckets({
            projectId: 1,
            groupTypeIndex,
            groupKey,
            now,
            series: [series(eventIsX), series(and([eventIsX, inW1]))],
          })
          assert.deepEqual(
            buckets.map((bucket) => bucket.sums),
            [[7, 7]],
            `${groupKey}: a counted once, its other group's key kept`,
          )
        }
        assert.deepEqual(await migrateClickHouse(ch), [], 'recorded: a third run does nothing')
      } finally {
        await ch.command(`DROP DATABASE IF EXISTS ${database}`)
        await ch.close()
      }
    })
})

const eventIsX: Expr = {
  kind: 'cond',
  cond: { op: 'eq', field: { source: 'column', column: 'event' }, values: ['x'], negate: false },
}
