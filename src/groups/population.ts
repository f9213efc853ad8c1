/**
 * Questions about a group type's whole population: a page of groups filtered, searched and
 * sorted, or aggregates over them (optionally grouped by columns). GroupsQuery (query/) and the
 * web app's list ask them; this module turns them into SQL for the engine.
 *
 * Orders (every one ends with the key, so pages never repeat or skip a group):
 * - created_at, updated_at: time; key: code point; group_name: the case-folded display name.
 * - A property: groups without it (missing or JSON null) last in both directions; ascending,
 *   numbers (JSON numbers and numeric strings, by the filter language's rule) come before text
 *   (code point order), descending the whole order reverses.
 * - The key that breaks ties sorts in the direction of the first term.
 * Search: a case-insensitive substring of the display name or the key, ranked 0 (the display name
 * equals it), 1 (starts with it), 2 (contains it, or only the key does).
 */
import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import type { Engine } from '../db/dialect.ts'
import { fold } from '../db/text.ts'
import { compileExpr, type Fragment, GROUP_ROW, type SqlDialect } from '../filters/sql.ts'
import { postgresDialect } from '../filters/sql-postgres.ts'
import { jsonPath, sqliteDialect } from '../filters/sql-sqlite.ts'
import { type Expr, groupPropertyKeys } from '../filters/tree.ts'
import { TRIGRAM } from './derived.ts'

export type SortKey =
  | { kind: 'created_at' | 'updated_at' | 'key' | 'group_name' }
  | { kind: 'property'; key: string }

export interface Sort {
  key: SortKey
  desc: boolean
}

export interface PopulationFilter {
  projectId: number
  index: number
  /** Group-property filters (the filter language, over this type's groups). */
  where: Expr
  /** Search text as sent; empty or null: none. */
  search: string | null
}

export interface PageQuery extends PopulationFilter {
  /** The requested order (empty: newest first); ties by key are added here. */
  order: Sort[]
  /** Whether the search rank comes before `order` (no order was requested) or after it. */
  rankFirst: boolean
  limit: number
  offset: number
}

export interface PopulationRow {
  group_key: string
  group_properties: Record<string, unknown>
  created_at: string
  updated_at: string
}

export type Aggregate = { fn: 'count' } | { fn: 'sum' | 'avg' | 'min' | 'max'; key: string }

/** A column aggregates are grouped by: a stored column, or a property's JSON value. */
export type GroupByColumn = { kind: 'key' | 'created_at' | 'updated_at' } | { kind: 'property'; key: string }

export interface AggregateQuery extends PopulationFilter {
  groupBy: GroupByColumn[]
  aggregates: Aggregate[]
  /** Output columns to sort by: `groupBy` first, then `aggregates`, by position. */
  order: { column: number; desc: boolean }[]
  limit: number
  offset: number
}

/** What differs between the engines beyond the filter language. */
interface GroupsSql {
  dialect: SqlDialect
  contains(column: Fragment, needle: string): Fragment
  startsWith(column: Fragment, needle: string): Fragment
  /** Code point order for text, whatever the database's collation. */
  binary(text: Fragment): Fragment
  /** A condition every search match meets that the trigram index answers (a candidate set). */
  searchCandidates(needle: string): Fragment
  /** A property's JSON value as text (missing and JSON null: NULL). */
  jsonValue(key: string): Fragment
}

const likeEscape = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`)
const codePoints = (text: string) => [...text].length

const ENGINES: Record<Engine, GroupsSql> = {
  postgres: {
    dialect: postgresDialect(GROUP_ROW),
    contains: (column, needle) => sql`(strpos(${column}, ${needle}::text) > 0)`,
    startsWith: (column, needle) => sql`(left(${column}, ${codePoints(needle)}) = ${needle}::text)`,
    binary: (text) => sql`${text} COLLATE "C"`,
    // The expression of migration 009's GIN index: the planner uses it for this LIKE.
    searchCandidates: (needle) =>
      sql`((g.key_fold || chr(10) || g.display_fold || chr(10) || lower(g.group_properties::text)) LIKE ${`%${likeEscape(needle)}%`})`,
    jsonValue: (key) => sql`NULLIF(g.group_properties -> ${key}::text, 'null'::jsonb)`,
  },
  sqlite: {
    dialect: sqliteDialect(GROUP_ROW),
    contains: (column, needle) => sql`(instr(${column}, ${needle}) > 0)`,
    startsWith: (column, needle) => sql`(substr(${column}, 1, ${codePoints(needle)}) = ${needle})`,
    binary: (text) => text,
    searchCandidates(needle) {
      if (codePoints(needle) < TRIGRAM) return sql`(1 = 1)`
      // The name sits in the indexed JSON text escaped as JSON writes it.
      const escaped = JSON.stringify(needle).slice(1, -1)
      const phrase = (text: string) => `"${text.replace(/"/g, '""')}"`
      const match = escaped === needle ? phrase(needle) : `${phrase(needle)} OR ${phrase(escaped)}`
      return sql`(g.id IN (SELECT rowid FROM groups_search WHERE groups_search MATCH ${match}))`
    },
    jsonValue: (key) => sql`NULLIF(g.group_properties -> ${jsonPath(key)}, 'null')`,
  },
}

const COLUMNS = sql`g.group_key, g.group_properties, g.created_at, g.updated_at`

function whereOf(engine: GroupsSql, q: PopulationFilter): Fragment {
  const parts: Fragment[] = [
    sql`g.project_id = ${q.projectId}`,
    sql`g.group_type_index = ${q.index}`,
    compileExpr(q.where, engine.dialect),
  ]
  const needle = q.search ? fold(q.search) : ''
  if (needle) {
    parts.push(engine.searchCandidates(needle))
    parts.push(
      sql`(${engine.contains(sql.ref('g.display_fold'), needle)} OR ${engine.contains(sql.ref('g.key_fold'), needle)})`,
    )
  }
  return sql.join(parts, sql` AND `)
}

/** The ORDER BY terms of one sort key, ascending or descending. */
function sortTerms(engine: GroupsSql, sort: Sort): Fragment[] {
  const dir = sort.desc ? sql`DESC` : sql`ASC`
  const { key } = sort
  switch (key.kind) {
    case 'created_at':
    case 'updated_at':
      return [sql`${sql.ref(`g.${key.kind}`)} ${dir}`]
    case 'key':
      return [sql`${engine.binary(sql.ref('g.group_key'))} ${dir}`]
    case 'group_name':
      return [sql`${engine.binary(sql.ref('g.display_fold'))} ${dir}`]
    case 'property':
      return propertyTerms(engine, key.key, sort.desc, (f) => f)
  }
}

/** A property's sort: missing last, then numbers before text (reversed when descending). */
function propertyTerms(
  engine: GroupsSql,
  key: string,
  desc: boolean,
  wrap: (fragment: Fragment) => Fragment,
): Fragment[] {
  const field = { source: 'group', index: 0, key } as const
  const text = wrap(engine.dialect.text(field))
  const number = wrap(engine.dialect.number(field))
  const dir = desc ? sql`DESC` : sql`ASC`
  return [
    sql`(${text} IS NULL) ASC`,
    sql`(${number} IS NULL) ${dir}`,
    sql`${number} ${dir}`,
    sql`${engine.binary(text)} ${dir}`,
  ]
}

function rankTerm(engine: GroupsSql, search: string): Fragment {
  const needle = fold(search)
  return sql`(CASE WHEN g.display_fold = ${needle} THEN 0 WHEN ${engine.startsWith(sql.ref('g.display_fold'), needle)} THEN 1 ELSE 2 END) ASC`
}

const NEWEST: Sort = { key: { kind: 'created_at' }, desc: true }

function orderOf(engine: GroupsSql, q: PageQuery): Fragment {
  const order = q.order.length > 0 ? q.order : [NEWEST]
  const terms = order.flatMap((s) => sortTerms(engine, s))
  if (q.search && fold(q.search)) {
    const rank = rankTerm(engine, q.search)
    if (q.rankFirst) terms.unshift(rank)
    else terms.push(rank)
  }
  terms.push(...sortTerms(engine, { key: { kind: 'key' }, desc: (order[0] as Sort).desc }))
  return sql.join(terms)
}

/** The statement of listPopulation (exposed for plans and benchmarks). */
export function pageSql(database: Database, q: PageQuery) {
  const engine = ENGINES[database.engine]
  return sql<Omit<PopulationRow, 'group_properties'> & { group_properties: string }>`
    /* groupd:groups-page */
    SELECT ${COLUMNS} FROM groups g
    WHERE ${whereOf(engine, q)}
    ORDER BY ${orderOf(engine, q)}
    LIMIT ${q.limit} OFFSET ${q.offset}`
}

/** One page (limit rows from offset) of the population in the query's order. */
export async function listPopulation(database: Database, q: PageQuery): Promise<PopulationRow[]> {
  const { rows } = await pageSql(database, q).execute(database.reads)
  return rows.map((r) => ({ ...r, group_properties: JSON.parse(r.group_properties) }))
}

function groupByExpr(engine: GroupsSql, column: GroupByColumn): Fragment {
  if (column.kind === 'property') return engine.jsonValue(column.key)
  return column.kind === 'key' ? engine.binary(sql.ref('g.group_key')) : sql.ref(`g.${column.kind}`)
}

/** The rows aggregates read: the groups, or the population counts standing in for them. */
interface Source {
  from: Fragment
  /** How many groups a row stands for. */
  count: Fragment
}

const GROUPS: Source = { from: sql`groups g`, count: sql`COUNT(*)` }

function aggregateExpr(engine: GroupsSql, aggregate: Aggregate, source: Source): Fragment {
  if (aggregate.fn === 'count') return source.count
  const number = engine.dialect.number({ source: 'group', index: 0, key: aggregate.key })
  if (aggregate.fn === 'sum') return sql`COALESCE(SUM(${number}), 0)`
  return sql`${sql.raw(aggregate.fn.toUpperCase())}(${number})`
}

/**
 * Aggregates over the matching groups: one row, or one per distinct combination of `groupBy`
 * values. Rows are lists: the group-by values (properties as their JSON values), then the aggregates.
 */
export async function aggregatePopulation(database: Database, q: AggregateQuery): Promise<unknown[][]> {
  const counted = countedKey(q)
  let rows: Record<string, unknown>[] | undefined
  if (counted !== undefined) {
    rows = (await aggregateSql(database, q, countsSource(database, q, counted)).execute(database.reads)).rows
    if (counted !== null && !(await valuesCounted(database, q.projectId, q.index, counted))) rows = undefined
  }
  rows ??= (await aggregateSql(database, q).execute(database.reads)).rows
  return rows.map((row) =>
    [...q.groupBy, ...q.aggregates].map((_, i) => {
      const value = row[`c${i}`] ?? null
      const by = q.groupBy[i]
      if (by?.kind === 'property') return value === null ? null : JSON.parse(String(value))
      if (i >= q.groupBy.length) return value === null ? null : Number(value)
      return value
    }),
  )
}

/** The statement of aggregatePopulation (exposed for plans and benchmarks). */
export function aggregateSql(database: Database, q: AggregateQuery, source = GROUPS) {
  const engine = ENGINES[database.engine]
  // Grouped by position: PostgreSQL would not see `-> $1` and `-> $4` as one expression.
  const groups = q.groupBy.map((c) => groupByExpr(engine, c))
  const outputs = [...groups, ...q.aggregates.map((a) => aggregateExpr(engine, a, source))]
  const selected = outputs.map((expr, i) => sql`${expr} AS ${sql.ref(`c${i}`)}`)
  const order: Fragment[] = []
  const requested = q.order.length > 0 ? q.order : q.groupBy.map((_, column) => ({ column, desc: false }))
  for (const { column, desc } of requested) {
    const by = q.groupBy[column]
    const expr = outputs[column] as Fragment
    const dir = desc ? sql`DESC` : sql`ASC`
    // A property's values sort by the rule of sortTerms; its text is the same in every row of a group.
    if (by?.kind === 'property') order.push(...propertyTerms(engine, by.key, desc, (f) => sql`MIN(${f})`))
    else order.push(sql`(${expr} IS NULL) ASC`, sql`${expr} ${dir}`)
  }
  return sql<Record<string, unknown>>`
    /* groupd:groups-aggregate */
    SELECT ${sql.join(selected)} FROM ${source.from}
    WHERE ${whereOf(engine, q)}
    ${groups.length > 0 ? sql`GROUP BY ${sql.join(groups.map((_, i) => sql.raw(String(i + 1))))}` : sql``}
    ${order.length > 0 ? sql`ORDER BY ${sql.join(order)}` : sql``}
    LIMIT ${q.limit} OFFSET ${q.offset}`
}

/**
 * The one property key an aggregate's answer depends on when the population counts can give it
 * (counts.ts): only count(), no search, group-by and filters on at most one property key. null:
 * no key at all (the type's group count); undefined: the groups must be read.
 */
function countedKey(q: AggregateQuery): string | null | undefined {
  if (q.search && fold(q.search)) return undefined
  if (!q.aggregates.every((a) => a.fn === 'count')) return undefined
  const keys = groupPropertyKeys(q.where)
  for (const c of q.groupBy) {
    if (c.kind !== 'property') return undefined
    keys.add(c.key)
  }
  if (keys.size > 1) return undefined
  return keys.size === 0 ? null : ([...keys][0] as string)
}

/**
 * Rows shaped as groups (`g.project_id`, `g.group_type_index`, `g.group_properties`) that stand
 * for `weight` groups each: per counted value of `key` a row with just that property, and one
 * without it for the groups that lack the key; without a key, one row for the whole type.
 */
function countsSource(database: Database, q: AggregateQuery, key: string | null): Source {
  const empty = database.engine === 'postgres' ? sql`'{}'::jsonb` : sql`'{}'`
  const type = (alias: string) =>
    sql`${sql.ref(`${alias}.project_id`)} = ${q.projectId} AND ${sql.ref(`${alias}.group_type_index`)} = ${q.index}`
  const population = sql`SELECT p.project_id, p.group_type_index, ${empty} AS group_properties`
  const rows =
    key === null
      ? sql`${population}, p.groups AS weight FROM group_population p WHERE ${type('p')}`
      : sql`
          SELECT v.project_id, v.group_type_index, v.properties AS group_properties, v.groups AS weight
          FROM group_property_values v WHERE ${type('v')} AND v.key = ${key}
          UNION ALL
          ${population}, p.groups - COALESCE((
            SELECT k.groups FROM group_property_keys k WHERE ${type('k')} AND k.key = ${key}), 0) AS weight
          FROM group_population p WHERE ${type('p')}`
  return {
    from: sql`(SELECT * FROM (${rows}) c WHERE c.weight > 0) g`,
    count: sql`COALESCE(SUM(g.weight), 0)`,
  }
}

/**
 * Whether the counts hold every value of the key (a key with no row yet is counted). Asked after
 * reading the counts: a key only ever stops being counted, so counted now means counted then.
 */
export async function valuesCounted(
  database: Database,
  projectId: number,
  index: number,
  key: string,
): Promise<boolean> {
  const row = await database.reads
    .selectFrom('group_property_keys' as never)
    .select(sql<boolean | number>`values_counted`.as('counted'))
    .where(sql<boolean>`project_id = ${projectId} AND group_type_index = ${index} AND key = ${key}`)
    .executeTakeFirst()
  return row === undefined || Boolean((row as { counted: boolean | number }).counted)
}
