/**
 * The events store on ClickHouse (tables in clickhouse-migrations.ts). An event is written once per
 * group it belongs to, so a metric query reads one group's rows by the sort key; properties are
 * written with their filter-language view (properties.ts). The table keeps a retried batch's
 * duplicate rows; reads count each event once: metric values count distinct uuids in each bucket
 * (and sum distinct (uuid, value) pairs), the events list keeps one row per uuid.
 */
import { compileClickHouse, literal, number } from '../filters/clickhouse.ts'
import { DAY_MS } from '../filters/dates.ts'
import { anyEventNames, type Expr, GROUP_COLUMNS, groupIndexes } from '../filters/tree.ts'
import type { ClickHouse } from './clickhouse.ts'
import { InsertBatcher } from './insert-batcher.ts'
import { flattenProperties, PROPERTY_COLUMNS } from './properties.ts'
import { RowBinaryWriter } from './row-binary.ts'
import type {
  EventListQuery,
  EventsStore,
  GroupSnapshot,
  MetricBucket,
  MetricBucketsQuery,
  MetricSeries,
  NewEvent,
  StoredEvent,
} from './store.ts'

/** The events table (clickhouse-migrations.ts 002): one row per (event, group it belongs to). */
export const EVENTS_TABLE = 'events_v2'
/** group_type_index of the one row of an event that belongs to no group. */
export const NO_GROUP = 255
/** An event's second within DateTime's range, from time_ms (migration 002 partitions by its month). */
const EPOCH_SECONDS = 'least(greatest(intDiv(time_ms, 1000), 0), 4294967295)'

/** The columns of the events table in the order encodeEvents writes them. */
export const EVENT_COLUMNS = [
  'project_id',
  'group_type_index',
  'group_key',
  'uuid',
  'event',
  'distinct_id',
  'time_ms',
  'group_keys',
  'properties',
  'prop.key',
  'prop.value',
  'prop.number',
  'prop.time',
]

/**
 * What the filter compiler and the stores' outer queries call each value (the names of the SQL
 * store's columns and of properties.ts's arrays), as an expression over the events table.
 */
const SOURCE_COLUMNS: [alias: string, expression: string][] = [
  ['event', 'event'],
  ['distinct_id', 'distinct_id'],
  ['properties', 'properties'],
  ['timestamp', `toDateTime(${EPOCH_SECONDS}, 'UTC')`],
  ['prop_keys', 'prop.key'],
  ['prop_values', 'prop.value'],
  ['prop_numbers', 'prop.number'],
  ['prop_times', 'prop.time'],
  ...GROUP_COLUMNS.map((alias, n): [string, string] => [alias, `group_keys[${n + 1}]`]),
]
const GROUP_SNAPSHOT_COLUMNS = [
  'project_id',
  'group_type_index',
  'group_key',
  'properties',
  ...PROPERTY_COLUMNS,
  'version',
]

export interface EncodedRows {
  data: Buffer
  rows: number
}

/**
 * The ClickHouse rows of some events in RowBinary: one row per group an event belongs to, or one
 * under NO_GROUP. Only the primary row, the one the events list reads, carries the properties'
 * JSON text (never empty: `{}` at least); every row carries their filter view, which metric values
 * read.
 */
export function encodeEvents(events: NewEvent[]): EncodedRows {
  const out = new RowBinaryWriter()
  const columns = new RowBinaryWriter()
  const view = new RowBinaryWriter()
  let rows = 0
  for (const { row: event, properties } of events) {
    const timeMs = Date.parse(event.timestamp)
    columns.clear().uuid(event.uuid).string(event.event).string(event.distinct_id).int64(timeMs)
    columns.nullableStrings(GROUP_COLUMNS.map((column) => event[column]))
    writeProperties(view.clear(), properties)
    const row = (index: number, key: string, primary: boolean) => {
      out.int64(event.project_id).uint8(index).string(key).raw(columns.view())
      out.string(primary ? event.properties : '').raw(view.view())
      rows++
    }
    let primary = true
    for (const [index, column] of GROUP_COLUMNS.entries()) {
      const key = event[column]
      if (key === null) continue
      row(index, key, primary)
      primary = false
    }
    if (primary) row(NO_GROUP, '', true)
  }
  return { data: out.view(), rows }
}

/** Group snapshots in RowBinary. */
export function encodeGroups(groups: GroupSnapshot[]): EncodedRows {
  const out = new RowBinaryWriter()
  for (const g of groups) {
    out.int64(g.project_id).uint8(g.group_type_index).string(g.group_key).string(g.properties)
    writeProperties(out, JSON.parse(g.properties)).int64(g.version)
  }
  return { data: out.view(), rows: groups.length }
}

/** The filter language's view of a properties object (properties.ts), as the four array columns. */
function writeProperties(out: RowBinaryWriter, properties: Record<string, unknown>): RowBinaryWriter {
  const flat = flattenProperties(properties)
  return out
    .strings(flat.prop_keys)
    .strings(flat.prop_values)
    .float64s(flat.prop_numbers)
    .float64s(flat.prop_times)
}

export class ClickHouseEventsStore implements EventsStore {
  readonly external = true
  private readonly eventRows: InsertBatcher
  private readonly groupRows: InsertBatcher

  /** `insertIntervalMs`: see InsertBatcher. */
  constructor(
    readonly clickhouse: ClickHouse,
    insertIntervalMs: number,
  ) {
    this.eventRows = new InsertBatcher(
      (data) => clickhouse.insertRowBinary(EVENTS_TABLE, EVENT_COLUMNS, data),
      insertIntervalMs,
    )
    this.groupRows = new InsertBatcher(
      (data) => clickhouse.insertRowBinary('groups', GROUP_SNAPSHOT_COLUMNS, data),
      insertIntervalMs,
    )
  }

  async insert(_tx: unknown, events: NewEvent[], groups: GroupSnapshot[]): Promise<void> {
    const rows = encodeEvents(events)
    const snapshots = encodeGroups(groups)
    await Promise.all([
      this.eventRows.insert(rows.data, rows.rows),
      this.groupRows.insert(snapshots.data, snapshots.rows),
    ])
  }

  ping(): Promise<void> {
    return this.clickhouse.ping()
  }

  close(): Promise<void> {
    return this.clickhouse.close()
  }

  async metricBuckets(query: MetricBucketsQuery): Promise<MetricBucket[]> {
    if (query.series.length === 0) return []
    const { rows } = await this.clickhouse.query<Record<string, string | number | null>>(
      this.metricSql(query),
    )
    return rows.map((row) => ({
      day: new Date(Number(row.day) * DAY_MS).toISOString().slice(0, 10),
      late: Number(row.late) === 1,
      sums: query.series.map((_, i) => Number(row[`s${i}`] ?? 0)),
    }))
  }

  /**
   * One scan of the target group's rows over the widest window, summed per UTC day half. A retried
   * event's rows are identical, in the same bucket: counting distinct uuids there counts it once
   * without first keeping one row per uuid, which cost 18.16 more than the rest of the query.
   */
  metricSql(query: MetricBucketsQuery): string {
    const sums = query.series.map((series, i) => {
      const matches = `time_ms >= ${series.since} AND ${compileClickHouse(series.expr)}`
      if (series.sumProperty === null) return `uniqExactIf(uuid, ${matches}) AS s${i}`
      const value = number({ source: 'event', key: series.sumProperty })
      return `arraySum(arrayMap(e -> ifNull(tupleElement(e, 2), 0), groupUniqArrayIf((uuid, ${value}), ${matches}))) AS s${i}`
    })
    const earliest = Math.min(...query.series.map((s) => s.since))
    const target = `project_id = ${query.projectId} AND group_type_index = ${query.groupTypeIndex} AND group_key = ${literal(query.groupKey)}`
    const range = `time_ms >= ${earliest} AND time_ms <= ${query.now}`
    // The day (days since the epoch) and its half: whether the time of day is at or after now's,
    // where every window boundary falls.
    const late = `modulo(time_ms, ${DAY_MS}) >= ${((query.now % DAY_MS) + DAY_MS) % DAY_MS}`
    const outer = `SELECT intDiv(time_ms, ${DAY_MS}) AS day, ${late} AS late, ${sums.join(', ')}`
    const source = this.source(
      outer,
      false,
      `${target} AND ${range}${eventNameFilter(query.series)}`,
      query.series.map((s) => s.expr),
      query.projectId,
      (n) =>
        n === query.groupTypeIndex
          ? `group_key = ${literal(query.groupKey)}`
          : `group_key GLOBAL IN (SELECT group_keys[${n + 1}] FROM ${this.eventsTable} WHERE ${target} AND ${range})`,
    )
    return `${outer} FROM (${source}) GROUP BY day, late /* groupd:metric-buckets */`
  }

  async listEvents(query: EventListQuery): Promise<StoredEvent[]> {
    // The primary row of each event: the one carrying its JSON text.
    const where = [`project_id = ${query.projectId}`, "properties != ''"]
    if (query.event !== undefined) where.push(`event = ${literal(query.event)}`)
    if (query.before) where.push(`time_ms < ${Date.parse(query.before)}`)
    if (query.after) where.push(`time_ms > ${Date.parse(query.after)}`)
    if (query.cursor) {
      const t = Date.parse(query.cursor.timestamp)
      where.push(`(time_ms < ${t} OR (time_ms = ${t} AND uuid < ${literal(query.cursor.uuid)}))`)
    }
    const outer = `SELECT uuid, event, distinct_id, properties, time_ms`
    const rest =
      ` WHERE ${compileClickHouse(query.expr)} ` +
      `ORDER BY time_ms DESC, uuid DESC LIMIT ${Math.max(0, Math.floor(query.limit))} /* groupd:events-list */`
    const source = this.source(
      outer + rest,
      true,
      where.join(' AND '),
      [query.expr],
      query.projectId,
      (n) =>
        `group_key GLOBAL IN (SELECT group_keys[${n + 1}] FROM ${this.eventsTable} WHERE project_id = ${query.projectId})`,
    )
    const { rows } = await this.clickhouse.query<{
      uuid: string
      event: string
      distinct_id: string
      properties: string
      time_ms: number | string
    }>(`${outer} FROM (${source})${rest}`)
    return rows.map((r) => ({
      uuid: r.uuid,
      event: r.event,
      distinct_id: r.distinct_id,
      properties: JSON.parse(r.properties),
      timestamp: new Date(Number(r.time_ms)).toISOString(),
    }))
  }

  private get eventsTable(): string {
    return this.clickhouse.table(EVENTS_TABLE)
  }

  /**
   * The event rows matching `where` (one per uuid when `onePerUuid`), with the current properties
   * of the groups that group-property filters read joined as gN_* columns (`keys` picks which
   * groups' snapshots). Only the SOURCE_COLUMNS that `outer`, the SQL reading it, names are read:
   * 18.16 does not prune a LIMIT BY subquery's columns itself, and a count need not decompress any
   * property.
   */
  private source(
    outer: string,
    onePerUuid: boolean,
    where: string,
    exprs: Expr[],
    projectId: number,
    keys: (index: number) => string,
  ): string {
    const indexes = [...new Set(exprs.flatMap((e) => [...groupIndexes(e)]))].sort()
    const columns = SOURCE_COLUMNS.filter(([alias]) => new RegExp(`\\b${alias}\\b`).test(outer)).map(
      ([alias, expression]) => (alias === expression ? alias : `${expression} AS ${alias}`),
    )
    let source =
      `SELECT ${['uuid', 'time_ms', ...columns].join(', ')}` +
      `${indexes.map((n) => `, ifNull(concat('=', group_keys[${n + 1}]), '') AS j${n}`).join('')} ` +
      `FROM ${this.eventsTable} WHERE ${where}${onePerUuid ? ' LIMIT 1 BY uuid' : ''}`
    // 18.16 allows one JOIN per SELECT: one level per group type whose properties are read.
    for (const n of indexes) {
      const snapshot =
        `SELECT concat('=', group_key) AS j${n}, argMax(prop_keys, version) AS g${n}_keys, ` +
        `argMax(prop_values, version) AS g${n}_values, argMax(prop_numbers, version) AS g${n}_numbers, ` +
        `argMax(prop_times, version) AS g${n}_times FROM ${this.clickhouse.table('groups')} ` +
        `WHERE project_id = ${projectId} AND group_type_index = ${n} AND ${keys(n)} GROUP BY group_key`
      source = `SELECT * FROM (${source}) ANY LEFT JOIN (${snapshot}) USING j${n}`
    }
    return source
  }
}

/** When every series names its events, only those events are read at all. */
function eventNameFilter(series: MetricSeries[]): string {
  const names = anyEventNames(series.map((s) => s.expr))
  if (names === null) return ''
  if (names.size === 0) return ' AND 0'
  return ` AND event IN (${[...names].map(literal).join(', ')})`
}
