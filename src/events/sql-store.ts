/**
 * The events store on the SQL database (PostgreSQL or SQLite). Metric values are one statement:
 * one scan of the target group's events over the widest window (index on project, group column,
 * timestamp), grouped by UTC day, with a pair of conditional sums per series; the filter tree is
 * compiled by the engine's SqlDialect with every value bound as a parameter.
 */
import { type RawBuilder, sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { compileExpr, type Fragment, type SqlDialect } from '../query/compile.ts'
import { postgresDialect } from '../query/dialect-postgres.ts'
import { sqliteDialect } from '../query/dialect-sqlite.ts'
import { type Expr, eventNames, groupIndexes } from '../query/filters.ts'
import type {
  EventListQuery,
  EventsStore,
  MetricDay,
  MetricDaysQuery,
  MetricSeries,
  StoredEvent,
} from './store.ts'

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

export class SqlEventsStore implements EventsStore {
  private readonly engine: EngineSql

  constructor(private readonly database: Database) {
    this.engine = ENGINES[database.engine]
  }

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
      FROM events e ${groupJoins(query.series.map((s) => s.expr))}
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
      LIMIT ${query.limit}`.execute(this.database.db)
    return rows.rows.map((r) => ({ ...r, properties: JSON.parse(r.properties) }))
  }
}

/** 1 per matching event for a count, the property's number for a sum (NULL adds nothing). */
function seriesValue(series: MetricSeries, dialect: SqlDialect): Fragment {
  return series.sumProperty === null ? sql`1` : dialect.number({ source: 'event', key: series.sumProperty })
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
  const names = new Set<string>()
  for (const s of series) {
    const own = eventNames(s.expr)
    if (own === null) return sql``
    for (const name of own) names.add(name)
  }
  if (names.size === 0) return sql`AND 1 = 0`
  return sql`AND e.event IN (${sql.join([...names].map((n) => sql`${n}`))})`
}
