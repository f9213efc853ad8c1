/**
 * The events store on the SQL database (PostgreSQL or SQLite). Metric values are one statement:
 * one scan of the target group's events over the widest window (index on project, group column,
 * timestamp), grouped by UTC day half, with one filtered aggregate per series; the filter tree is
 * compiled by the engine's SqlDialect with every value bound as a parameter.
 */
import { type RawBuilder, sql } from 'kysely'
import type { Database, Executor } from '../db/database.ts'
import { DAY_MS } from '../filters/dates.ts'
import { compileExpr, EVENT_ROW, type Fragment, type SqlDialect } from '../filters/sql.ts'
import { postgresDialect } from '../filters/sql-postgres.ts'
import { sqliteDialect } from '../filters/sql-sqlite.ts'
import { anyEventNames, type Expr, groupIndexes } from '../filters/tree.ts'
import type {
  EventListQuery,
  EventsStore,
  MetricBucket,
  MetricBucketsQuery,
  MetricSeries,
  NewEvent,
  StoredEvent,
} from './store.ts'

/** What the SQL store needs per engine beyond the filter language. */
interface EngineSql {
  dialect: SqlDialect
  /** The event's UTC day, and whether its time of day is at or after `time` (an ISO-8601 instant). */
  dayHalf(time: string): Fragment
  /** The day column as YYYY-MM-DD. */
  label(day: unknown): string
}

const ENGINES: Record<Database['engine'], EngineSql> = {
  postgres: {
    dialect: postgresDialect(EVENT_ROW),
    // A day number and a time comparison cost less per row than formatting text.
    dayHalf: (time) =>
      sql`(e.timestamp AT TIME ZONE 'UTC')::date - DATE '1970-01-01' AS day, (e.timestamp AT TIME ZONE 'UTC')::time >= (${time}::timestamptz AT TIME ZONE 'UTC')::time AS late`,
    label: (day) => new Date(Number(day) * DAY_MS).toISOString().slice(0, 10),
  },
  sqlite: {
    dialect: sqliteDialect(EVENT_ROW),
    // Stored times are fixed-width ISO-8601 UTC text: the day and time of day are substrings.
    dayHalf: (time) =>
      sql`substr(e.timestamp, 1, 10) AS day, substr(e.timestamp, 12) >= ${time.slice(11)} AS late`,
    label: (day) => String(day),
  },
}

const iso = (ms: number) => new Date(ms).toISOString()

/** Rows per INSERT statement (SQLite allows 32,766 bound values; an event row binds 12). */
const CHUNK = 500

export class SqlEventsStore implements EventsStore {
  readonly external = false
  private readonly engine: EngineSql

  constructor(private readonly database: Database) {
    this.engine = ENGINES[database.engine]
  }

  /** Group snapshots are the SQL `groups` table itself, which the transaction already updated. */
  async insert(tx: Executor, events: NewEvent[]): Promise<void> {
    for (let i = 0; i < events.length; i += CHUNK) {
      await tx
        .insertInto('events')
        .values(events.slice(i, i + CHUNK).map((e) => e.row))
        .onConflict((oc) => oc.doNothing())
        .execute()
    }
  }

  /** The SQL database is the one /_ready pings. */
  async ping(): Promise<void> {}

  async close(): Promise<void> {}

  async metricBuckets(query: MetricBucketsQuery): Promise<MetricBucket[]> {
    if (query.series.length === 0) return []
    const { rows } = await this.metricBucketsSql(query).execute(this.database.reads)
    return rows.map((row) => ({
      day: this.engine.label(row.day),
      late: Boolean(row.late),
      sums: query.series.map((_, i) => Number(row[`s${i}`] ?? 0)),
    }))
  }

  /** The one statement of metricBuckets (exposed for plans and benchmarks). */
  metricBucketsSql(query: MetricBucketsQuery): RawBuilder<Record<string, string | number | null>> {
    const { dialect, dayHalf } = this.engine
    const now = iso(query.now)
    // One sum per series; a series skips events older than its previous window.
    const sums = query.series.map((series, i) => {
      const filter = sql`FILTER (WHERE e.timestamp >= ${iso(series.since)} AND ${compileExpr(series.expr, dialect)})`
      const aggregate =
        series.sumProperty === null
          ? sql`COUNT(*) ${filter}`
          : sql`SUM(${dialect.number({ source: 'event', key: series.sumProperty })}) ${filter}`
      return sql`${aggregate} AS ${sql.ref(`s${i}`)}`
    })
    const earliest = iso(Math.min(...query.series.map((s) => s.since)))
    return sql<Record<string, string | number | null>>`
      SELECT ${dayHalf(now)}, ${sql.join(sums)}
      FROM events e ${groupJoins(query.series.map((s) => s.expr))}
      WHERE e.project_id = ${query.projectId}
        AND ${sql.ref(`e.group_${query.groupTypeIndex}`)} = ${query.groupKey}
        AND e.timestamp >= ${earliest} AND e.timestamp <= ${now}
        ${eventNameFilter(query.series)}
      GROUP BY 1, 2`
  }

  async listEvents(query: EventListQuery): Promise<StoredEvent[]> {
    const where: Fragment[] = [
      sql`e.project_id = ${query.projectId}`,
      compileExpr(query.expr, this.engine.dialect),
    ]
    if (query.event !== undefined) where.push(sql`e.event = ${query.event}`)
    if (query.before) where.push(sql`e.timestamp < ${query.before}`)
    if (query.after) where.push(sql`e.timestamp > ${query.after}`)
    if (query.cursor) {
      const { timestamp, uuid } = query.cursor
      where.push(sql`(e.timestamp < ${timestamp} OR (e.timestamp = ${timestamp} AND e.uuid < ${uuid}))`)
    }
    const rows = await sql<Omit<StoredEvent, 'properties'> & { properties: string }>`
      /* groupd:events-list */
      SELECT e.uuid, e.event, e.distinct_id, e.properties, e.timestamp
      FROM events e ${groupJoins([query.expr])}
      WHERE ${sql.join(where, sql` AND `)}
      ORDER BY e.timestamp DESC, e.uuid DESC
      LIMIT ${query.limit}`.execute(this.database.reads)
    return rows.rows.map((r) => ({ ...r, properties: JSON.parse(r.properties) }))
  }
}

/** The current properties of the groups that group-property filters read, one join per type. */
function groupJoins(exprs: Expr[]): RawBuilder<unknown> {
  const indexes = new Set(exprs.flatMap((expr) => [...groupIndexes(expr)]))
  return sql.join(
    [...indexes].sort().map((n) => {
      const g = `g${n}`
      return sql`LEFT JOIN groups ${sql.raw(g)} ON ${sql.ref(`${g}.project_id`)} = e.project_id AND ${sql.ref(`${g}.group_type_index`)} = ${n} AND ${sql.ref(`${g}.group_key`)} = ${sql.ref(`e.group_${n}`)}`
    }),
    sql` `,
  )
}

/** When every series names its events, only those events are read at all. */
function eventNameFilter(series: MetricSeries[]): RawBuilder<unknown> {
  const names = anyEventNames(series.map((s) => s.expr))
  if (names === null) return sql``
  if (names.size === 0) return sql`AND 1 = 0`
  return sql`AND e.event IN (${sql.join([...names].map((n) => sql`${n}`))})`
}
