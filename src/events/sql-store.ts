/**
 * The events store on the SQL database (PostgreSQL or SQLite). Metric values are one statement:
 * one scan of the target group's events over the widest window (index on project, group column,
 * timestamp), grouped by UTC day, with a pair of conditional sums per series; the filter tree is
 * compiled by the engine's SqlDialect with every value bound as a parameter.
 */
import { type RawBuilder, sql } from 'kysely'
import type { Database, Executor } from '../db/database.ts'
import type { EventsTable } from '../db/schema.ts'
import { compileExpr, type Fragment, type SqlDialect } from '../query/compile.ts'
import { postgresDialect } from '../query/dialect-postgres.ts'
import { sqliteDialect } from '../query/dialect-sqlite.ts'
import { eventNames, groupIndexes } from '../query/filters.ts'
import type { EventsStore, MetricDay, MetricDaysQuery, MetricSeries } from './store.ts'

/** What the SQL store needs per engine beyond the filter language. */
interface EngineSql {
  dialect: SqlDialect
  /** The UTC day of the event, `YYYY-MM-DD`. */
  day: Fragment
}

const ENGINES: Record<Database['engine'], EngineSql> = {
  postgres: { dialect: postgresDialect, day: sql`to_char(e.timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD')` },
  sqlite: { dialect: sqliteDialect, day: sql`substr(e.timestamp, 1, 10)` },
}

const iso = (ms: number) => new Date(ms).toISOString()

/** Rows per INSERT statement (SQLite allows 32,766 bound values; an event row binds 12). */
const CHUNK = 500

export class SqlEventsStore implements EventsStore {
  private readonly engine: EngineSql

  constructor(private readonly database: Database) {
    this.engine = ENGINES[database.engine]
  }

  /** Group snapshots are the SQL `groups` table itself, which the transaction already updated. */
  async insert(tx: Executor, events: EventsTable[]): Promise<void> {
    for (let i = 0; i < events.length; i += CHUNK) {
      await tx
        .insertInto('events')
        .values(events.slice(i, i + CHUNK))
        .onConflict((oc) => oc.doNothing())
        .execute()
    }
  }

  /** The SQL database is the one /_ready pings. */
  async ping(): Promise<void> {}

  async close(): Promise<void> {}

  async metricDays(query: MetricDaysQuery): Promise<MetricDay[]> {
    if (query.series.length === 0) return []
    const { dialect, day } = this.engine
    const now = iso(query.now)
    const sums: Fragment[] = []
    query.series.forEach((series, i) => {
      const cond = compileExpr(series.expr, dialect)
      const x = seriesValue(series, dialect)
      const from = iso(series.from)
      sums.push(
        sql`SUM(CASE WHEN e.timestamp >= ${from} AND e.timestamp <= ${now} AND ${cond} THEN ${x} END) AS ${sql.ref(`c${i}`)}`,
        sql`SUM(CASE WHEN e.timestamp >= ${iso(series.previousFrom)} AND e.timestamp < ${from} AND ${cond} THEN ${x} END) AS ${sql.ref(`p${i}`)}`,
      )
    })
    const earliest = iso(Math.min(...query.series.map((s) => s.previousFrom)))
    const rows = await sql<Record<string, string | number | null>>`
      SELECT ${day} AS day, ${sql.join(sums)}
      FROM events e ${groupJoins(query.series)}
      WHERE e.project_id = ${query.projectId}
        AND ${sql.ref(`e.group_${query.groupTypeIndex}`)} = ${query.groupKey}
        AND e.timestamp >= ${earliest} AND e.timestamp <= ${now}
        ${eventNameFilter(query.series)}
      GROUP BY 1`.execute(this.database.db)
    return rows.rows.map((row) => ({
      day: String(row.day),
      current: query.series.map((_, i) => Number(row[`c${i}`] ?? 0)),
      previous: query.series.map((_, i) => Number(row[`p${i}`] ?? 0)),
    }))
  }
}

/** 1 per matching event for a count, the property's number for a sum (NULL adds nothing). */
function seriesValue(series: MetricSeries, dialect: SqlDialect): Fragment {
  return series.sumProperty === null ? sql`1` : dialect.number({ source: 'event', key: series.sumProperty })
}

/** The current properties of the groups that group-property filters read, one join per type. */
function groupJoins(series: MetricSeries[]): RawBuilder<unknown> {
  const indexes = new Set(series.flatMap((s) => [...groupIndexes(s.expr)]))
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
  const names = new Set<string>()
  for (const s of series) {
    const own = eventNames(s.expr)
    if (own === null) return sql``
    for (const name of own) names.add(name)
  }
  if (names.size === 0) return sql`AND 1 = 0`
  return sql`AND e.event IN (${sql.join([...names].map((n) => sql`${n}`))})`
}
