/**
 * GroupsQuery (PostHog's newest generation, wave-3 notes §5.2): a page of a group type's groups,
 * or aggregates over them, as columns of the select expressions (groups-expressions.ts).
 * - Without aggregates: one row per group, `hasMore` from fetching limit + 1, `group_name` as
 *   {display_name, key}, properties as their JSON values (null when missing).
 * - With an aggregate: the plain columns beside it are what rows are grouped by (an extension:
 *   `["properties.plan", "count()"]` is the plan breakdown), ordered by them unless orderBy says.
 * Knows no SQL: groups/population.ts runs it.
 */
import { createHash } from 'node:crypto'
import type { Database } from '../db/database.ts'
import type { Expr, Field } from '../filters/tree.ts'
import { validatePropertyFilters } from '../filters/validate.ts'
import { MAX_GROUP_TYPES_PER_PROJECT } from '../group-types/service.ts'
import { displayName } from '../groups/derived.ts'
import {
  type Aggregate,
  aggregatePopulation,
  type GroupByColumn,
  listPopulation,
  type PopulationRow,
  type Sort,
} from '../groups/population.ts'
import { validationError } from '../http/errors.ts'
import { drfDateTime } from '../http/wire.ts'
import {
  canonical,
  type Expression,
  expression,
  MAX_ORDER_BY,
  MAX_SELECT,
  type OrderTerm,
  orderTerm,
} from './groups-expressions.ts'

/** PostHog's page bounds (HogQLHasMorePaginator): a limit of 0 or less is the default. */
export const DEFAULT_LIMIT = 100
export const MAX_LIMIT = 50_000
/** Longest search text, and most property filters in one query. */
export const MAX_SEARCH_LENGTH = 1000
export const MAX_FILTERS = 100

const invalid = (detail: string, attr: string | null = null) => validationError('invalid_input', detail, attr)

export interface GroupsQuery {
  index: number
  /** The select expressions as sent (duplicates removed), each parsed. */
  columns: { text: string; expression: Expression }[]
  where: Expr
  search: string | null
  order: OrderTerm[]
  limit: number
  offset: number
}

/** An optional integer field: null or missing is undefined. */
function integer(value: unknown, attr: string): number | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value === 'number' && Number.isInteger(value)) return value
  if (typeof value === 'string' && /^\s*-?\d{1,15}\s*$/.test(value)) return Number(value)
  throw invalid(`${attr} must be an integer.`, attr)
}

function list(value: unknown, attr: string, max: number): unknown[] {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value)) throw invalid(`${attr} must be a list.`, attr)
  if (value.length > max) throw invalid(`${attr} may have at most ${max} entries.`, attr)
  return value
}

function countFilters(raw: unknown): number {
  if (Array.isArray(raw)) return raw.reduce<number>((n, item) => n + countFilters(item), 0)
  if (raw && typeof raw === 'object' && Array.isArray((raw as { values?: unknown }).values))
    return countFilters((raw as { values: unknown[] }).values)
  return 1
}

/** The request's query object as a GroupsQuery, or a 400 naming what is wrong. */
export async function parseGroupsQuery(
  database: Database,
  query: Record<string, unknown>,
  now: number,
): Promise<GroupsQuery> {
  const index = integer(query.group_type_index, 'group_type_index')
  if (index === undefined) throw invalid('GroupsQuery needs a group_type_index.', 'group_type_index')
  if (index < 0 || index >= MAX_GROUP_TYPES_PER_PROJECT)
    throw invalid(
      `group_type_index must be between 0 and ${MAX_GROUP_TYPES_PER_PROJECT - 1}.`,
      'group_type_index',
    )
  const columns: GroupsQuery['columns'] = []
  for (const raw of list(query.select, 'select', MAX_SELECT)) {
    const e = expression(raw, 'select')
    const text = (raw as string).trim()
    if (!columns.some((c) => c.text === text)) columns.push({ text, expression: e })
  }
  if (columns.length === 0) columns.push({ text: 'group_name', expression: { kind: 'group_name' } })
  const order = list(query.orderBy, 'orderBy', MAX_ORDER_BY).map(orderTerm)
  const search = query.search ?? null
  if (search !== null && typeof search !== 'string') throw invalid('search must be a string.', 'search')
  if (search !== null && search.length > MAX_SEARCH_LENGTH)
    throw invalid(`search may have at most ${MAX_SEARCH_LENGTH} characters.`, 'search')
  const filters = query.properties ?? []
  if (countFilters(filters) > MAX_FILTERS)
    throw invalid(`properties may hold at most ${MAX_FILTERS} filters.`, 'properties')
  const where = await validatePropertyFilters(database, filters, 'properties', { now, groupTypeIndex: index })
  const limit = integer(query.limit, 'limit') ?? 0
  const offset = integer(query.offset, 'offset') ?? 0
  const parsed: GroupsQuery = {
    index,
    columns,
    where,
    search: search === '' ? null : search,
    order,
    limit: Math.min(MAX_LIMIT, limit > 0 ? limit : DEFAULT_LIMIT),
    offset: Math.max(0, offset),
  }
  checkOrder(parsed)
  return parsed
}

const isAggregate = (e: Expression) => e.kind === 'aggregate'

/** List mode sorts by plain expressions; aggregation mode by the columns it outputs. */
function checkOrder(q: GroupsQuery): void {
  const aggregating = q.columns.some((c) => isAggregate(c.expression))
  const name = q.columns.find((c) => c.expression.kind === 'group_name')
  if (aggregating && name)
    throw invalid(
      `${JSON.stringify(name.text)} cannot stand beside an aggregate: group by key instead.`,
      'select',
    )
  for (const term of q.order) {
    if (!aggregating && isAggregate(term.expression))
      throw invalid(
        `${JSON.stringify(term.text)}: an aggregate sorts only a query that selects aggregates.`,
        'orderBy',
      )
    if (aggregating && !q.columns.some((c) => canonical(c.expression) === canonical(term.expression)))
      throw invalid(
        `${JSON.stringify(term.text)}: a query with aggregates sorts only by its select expressions.`,
        'orderBy',
      )
  }
}

export interface GroupsQueryResult {
  columns: string[]
  results: unknown[][]
  types: string[]
  hasMore: boolean
  limit: number
  offset: number
  hogql: string
  cache_key: string
}

/** ClickHouse type names of the columns, as PostHog reports them; property values stay JSON. */
function typeOf(e: Expression): string {
  switch (e.kind) {
    case 'group_name':
      return 'Tuple(String, String)'
    case 'key':
      return 'String'
    case 'created_at':
    case 'updated_at':
      return "DateTime64(6, 'UTC')"
    case 'property':
      return 'Dynamic'
    case 'aggregate':
      return e.fn === 'count' ? 'UInt64' : e.fn === 'sum' ? 'Float64' : 'Nullable(Float64)'
  }
}

function cell(e: Expression, row: PopulationRow): unknown {
  switch (e.kind) {
    case 'group_name':
      return { display_name: displayName(row.group_key, row.group_properties), key: row.group_key }
    case 'key':
      return row.group_key
    case 'created_at':
    case 'updated_at':
      return drfDateTime(row[e.kind])
    case 'property':
      return row.group_properties[e.key] ?? null
    case 'aggregate':
      throw new Error('aggregates are not cells of a row')
  }
}

function sortOf(e: Expression, desc: boolean): Sort {
  if (e.kind === 'property') return { key: { kind: 'property', key: e.key }, desc }
  return { key: { kind: e.kind as 'key' }, desc }
}

export async function runGroupsQuery(
  database: Database,
  projectId: number,
  q: GroupsQuery,
): Promise<GroupsQueryResult> {
  const filter = { projectId, index: q.index, where: q.where, search: q.search }
  const expressions = q.columns.map((c) => c.expression)
  let rows: unknown[][]
  if (expressions.some(isAggregate)) {
    const plain = q.columns.filter((c) => !isAggregate(c.expression))
    const aggregates = q.columns.filter((c) => isAggregate(c.expression))
    const outputs = [...plain, ...aggregates].map((c) => canonical(c.expression))
    const grouped = await aggregatePopulation(database, {
      ...filter,
      groupBy: plain.map((c) => groupByOf(c.expression)),
      aggregates: aggregates.map((c) => c.expression as Aggregate & Expression),
      order: q.order.map((t) => ({ column: outputs.indexOf(canonical(t.expression)), desc: t.desc })),
      limit: q.limit + 1,
      offset: q.offset,
    })
    // Back to select order; timestamps in the wire format.
    const positions = q.columns.map((c) => outputs.indexOf(canonical(c.expression)))
    rows = grouped.map((row) =>
      positions.map((p, i) => {
        const kind = (q.columns[i] as GroupsQuery['columns'][number]).expression.kind
        const value = row[p]
        return kind === 'created_at' || kind === 'updated_at' ? drfDateTime(value as string | null) : value
      }),
    )
  } else {
    const page = await listPopulation(database, {
      ...filter,
      order: q.order.map((t) => sortOf(t.expression, t.desc)),
      rankFirst: q.order.length === 0,
      limit: q.limit + 1,
      offset: q.offset,
    })
    rows = page.map((row) => expressions.map((e) => cell(e, row)))
  }
  const hasMore = rows.length > q.limit
  return {
    columns: q.columns.map((c) => c.text),
    results: rows.slice(0, q.limit),
    types: expressions.map(typeOf),
    hasMore,
    limit: q.limit,
    offset: q.offset,
    hogql: hogql(q),
    cache_key: `cache_${createHash('sha256')
      .update(JSON.stringify([projectId, q]))
      .digest('hex')
      .slice(0, 40)}`,
  }
}

function groupByOf(e: Expression): GroupByColumn {
  if (e.kind === 'property') return { kind: 'property', key: e.key }
  return { kind: e.kind as 'key' }
}

/** An informational HogQL rendering of what ran (PostHog returns the HogQL it executed). */
function hogql(q: GroupsQuery): string {
  const select = q.columns.map((c) =>
    c.expression.kind === 'group_name'
      ? 'tuple(coalesce(toString(properties.name), toString(key)), toString(key))'
      : canonical(c.expression),
  )
  const where = [`index = ${q.index}`]
  if (q.where.kind !== 'const') where.push(renderFilter(q.where))
  if (q.search)
    where.push(
      `(properties.name ILIKE ${quote(`%${q.search}%`)} OR toString(key) ILIKE ${quote(`%${q.search}%`)})`,
    )
  const order = q.order.map((t) => `${canonical(t.expression)} ${t.desc ? 'DESC' : 'ASC'}`)
  return (
    `SELECT ${select.join(', ')} FROM groups WHERE ${where.join(' AND ')}` +
    (order.length ? ` ORDER BY ${order.join(', ')}` : '') +
    ` LIMIT ${q.limit + 1} OFFSET ${q.offset}`
  )
}

const quote = (text: string) => `'${text.replace(/[\\']/g, '\\$&')}'`

const property = (field: Field) => canonical({ kind: 'property', key: (field as { key: string }).key })

/** The filter tree in HogQL's words (informational). */
function renderFilter(expr: Expr): string {
  if (expr.kind === 'const') return expr.value ? 'true' : 'false'
  if (expr.kind !== 'cond')
    return `(${expr.items.map(renderFilter).join(expr.kind === 'and' ? ' AND ' : ' OR ')})`
  const c = expr.cond
  const p = property(c.field)
  const not = (text: string, negate: boolean) => (negate ? `NOT (${text})` : text)
  switch (c.op) {
    case 'eq':
      return not(`${p} IN (${c.values.map(quote).join(', ')})`, c.negate)
    case 'contains':
      return not(c.values.map((v) => `${p} ILIKE ${quote(`%${v}%`)}`).join(' OR '), c.negate)
    case 'regex':
      return not(c.patterns.map((v) => `match(${p}, ${quote(v)})`).join(' OR '), c.negate)
    case 'compare':
      return c.values.map((v) => `${p} ${c.cmp} ${typeof v === 'number' ? v : quote(v)}`).join(' OR ')
    case 'between':
      return not(`${p} BETWEEN ${c.min} AND ${c.max}`, c.negate)
    case 'set':
      return c.negate ? `isNull(${p})` : `isNotNull(${p})`
    case 'date':
      return `toDateTime(${p}) ${c.cmp} ${quote(new Date(c.at).toISOString())}`
  }
}
