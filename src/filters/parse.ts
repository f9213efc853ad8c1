/**
 * PostHog's filter JSON (a metric's `filters`, a project's test-account filters, the events list's
 * `properties`) parsed once into a small dialect-neutral tree. Compilers (one per engine) turn the
 * tree into SQL; nothing here knows SQL. Parsing is also validation: whatever groupd cannot
 * evaluate is refused with a sentence naming the problem (a FilterError), never silently ignored.
 * The tree and its value semantics: tree.ts.
 */
import { compileRegex, datetimeValue, numericValue } from '../db/functions.ts'
import { isPlainObject } from '../db/text.ts'
import { resolveDate } from './dates.ts'
import {
  and,
  type Comparison,
  type Condition,
  type EventColumn,
  type Expr,
  type Field,
  FilterError,
  or,
  TRUE,
} from './tree.ts'

/** Longest regex a filter may hold (JavaScript's backtracking engine runs them on SQLite). */
export const MAX_REGEX_LENGTH = 1000

export interface ParseContext {
  /** The request's one `now` (epoch ms), for relative dates such as `-7d`. */
  now: number
  /**
   * Filters over one group type's groups (GroupsQuery): only `group` filters of this index are
   * allowed, since there is no event to read.
   */
  groupTypeIndex?: number
}

/** Property types that address data groupd has, and why the others are refused. */
const UNSUPPORTED_TYPES: Record<string, string> = {
  person: 'groupd has no persons',
  cohort: 'groupd has no persons or cohorts',
  'static-cohort': 'groupd has no persons or cohorts',
  'precalculated-cohort': 'groupd has no persons or cohorts',
  element: 'groupd does not store autocapture elements',
  hogql: 'groupd has no HogQL',
  session: 'groupd has no sessions',
  recording: 'groupd has no recordings',
  data_warehouse: 'groupd has no data warehouse',
  data_warehouse_person_property: 'groupd has no data warehouse',
  flag: 'groupd has no feature flags',
}

const METADATA_COLUMNS: Record<string, EventColumn> = {
  event: 'event',
  distinct_id: 'distinct_id',
  timestamp: 'timestamp',
  $group_0: 'group_0',
  $group_1: 'group_1',
  $group_2: 'group_2',
  $group_3: 'group_3',
  $group_4: 'group_4',
}

const OPERATORS = [
  'exact',
  'is_not',
  'icontains',
  'not_icontains',
  'icontains_multi',
  'not_icontains_multi',
  'regex',
  'not_regex',
  'gt',
  'gte',
  'lt',
  'lte',
  'min',
  'max',
  'between',
  'not_between',
  'is_set',
  'is_not_set',
  'is_date_exact',
  'is_date_before',
  'is_date_after',
  'in',
  'not_in',
] as const
type Operator = (typeof OPERATORS)[number]
const UNSUPPORTED_OPERATORS = new Set([
  'is_cleaned_path_exact',
  'semver_eq',
  'semver_neq',
  'semver_gt',
  'semver_gte',
  'semver_lt',
  'semver_lte',
  'semver_tilde',
  'semver_caret',
  'semver_wildcard',
  'flag_evaluates_to',
])

const RANGE_OPERATORS: Record<'gt' | 'gte' | 'min' | 'lt' | 'lte' | 'max', Comparison> = {
  gt: '>',
  gte: '>=',
  min: '>=',
  lt: '<',
  lte: '<=',
  max: '<=',
}

/** What a filter value may hold: scalars compared as PostHog's text form. */
function textOf(value: unknown, where: string): string {
  if (typeof value === 'string') return value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  throw new FilterError(`${where}: value must be a string, a number, a boolean or a list of them.`)
}

/** A filter value as a list: `[x]` and `x` mean the same; `[]` means no filter. */
function listOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [value]
}

function fieldOf(filter: Record<string, unknown>, where: string, ctx: ParseContext): Field {
  const type = filter.type ?? 'event'
  const key = filter.key as string
  if (ctx.groupTypeIndex !== undefined) {
    const only = `filters here read the properties of group type index ${ctx.groupTypeIndex}: use {"type": "group", "group_type_index": ${ctx.groupTypeIndex}}`
    if (type !== 'group')
      throw new FilterError(
        `${where}: property filters of type ${JSON.stringify(type)} are not supported; ${only}.`,
      )
    if (filter.group_type_index !== ctx.groupTypeIndex)
      throw new FilterError(
        `${where}: group_type_index ${JSON.stringify(filter.group_type_index ?? null)} is not supported; ${only}.`,
      )
  }
  if (type === 'event' || type === 'feature') return { source: 'event', key }
  if (type === 'event_metadata') {
    if (key === 'person_id')
      throw new FilterError(`${where}: "person_id" needs persons, which groupd does not have.`)
    const column = METADATA_COLUMNS[key]
    if (!column) {
      throw new FilterError(
        `${where}: event_metadata key ${JSON.stringify(key)} is not supported; use one of ${Object.keys(METADATA_COLUMNS).join(', ')}.`,
      )
    }
    return { source: 'column', column }
  }
  if (type === 'group') {
    const index = filter.group_type_index
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > 4) {
      throw new FilterError(`${where}: a group property filter needs a group_type_index from 0 to 4.`)
    }
    return { source: 'group', index, key }
  }
  if (typeof type === 'string' && UNSUPPORTED_TYPES[type]) {
    throw new FilterError(
      `${where}: property filters of type "${type}" are not supported (${UNSUPPORTED_TYPES[type]}).`,
    )
  }
  throw new FilterError(
    `${where}: property filter type ${JSON.stringify(type)} is not supported; use event, feature, event_metadata or group.`,
  )
}

function numberOf(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null
  return typeof value === 'string' ? numericValue(value) : null
}

/** One property filter object to an expression. */
function propertyFilter(raw: unknown, where: string, ctx: ParseContext): Expr {
  if (!isPlainObject(raw)) throw new FilterError(`${where} must be an object with a "key".`)
  if (typeof raw.key !== 'string' || raw.key === '') throw new FilterError(`${where} has no "key".`)
  const operator = raw.operator ?? 'exact'
  if (typeof operator !== 'string' || !(OPERATORS as readonly string[]).includes(operator)) {
    const why =
      typeof operator === 'string' && UNSUPPORTED_OPERATORS.has(operator) ? 'is not supported' : 'is unknown'
    throw new FilterError(`${where}: operator ${JSON.stringify(operator)} ${why}.`)
  }
  const field = fieldOf(raw, where, ctx)
  return conditionFor(operator as Operator, field, raw.value, where, ctx)
}

function conditionFor(
  operator: Operator,
  field: Field,
  value: unknown,
  where: string,
  ctx: ParseContext,
): Expr {
  const cond = (c: Condition): Expr => ({ kind: 'cond', cond: c })
  if (operator === 'is_set' || operator === 'is_not_set') {
    return cond({ op: 'set', field, negate: operator === 'is_not_set' })
  }
  if (operator === 'between' || operator === 'not_between') {
    const pair = Array.isArray(value) ? value.map(numberOf) : []
    const [min, max] = pair
    if (pair.length !== 2 || min == null || max == null || min > max) {
      throw new FilterError(`${where}: "${operator}" needs a list of two numbers [min, max] with min ≤ max.`)
    }
    return cond({ op: 'between', field, min, max, negate: operator === 'not_between' })
  }
  const list = listOf(value)
  if (list.length === 0) return TRUE
  const texts = list.map((v) => textOf(v, where))
  switch (operator) {
    case 'exact':
    case 'in':
      return cond({ op: 'eq', field, values: texts, negate: false })
    case 'is_not':
    case 'not_in':
      return cond({ op: 'eq', field, values: texts, negate: true })
    case 'icontains':
    case 'icontains_multi':
      return cond({ op: 'contains', field, values: texts, negate: false })
    case 'not_icontains':
    case 'not_icontains_multi':
      return cond({ op: 'contains', field, values: texts, negate: true })
    case 'regex':
    case 'not_regex':
      for (const pattern of texts) {
        if (pattern.length > MAX_REGEX_LENGTH) {
          throw new FilterError(
            `${where}: a regular expression may have at most ${MAX_REGEX_LENGTH} characters.`,
          )
        }
        try {
          compileRegex(pattern)
        } catch (error) {
          throw new FilterError(
            `${where}: ${JSON.stringify(pattern)} is not a valid regular expression (${(error as Error).message}).`,
          )
        }
      }
      return cond({ op: 'regex', field, patterns: texts, negate: operator === 'not_regex' })
    case 'is_date_exact':
    case 'is_date_before':
    case 'is_date_after': {
      if (texts.length !== 1) throw new FilterError(`${where}: "${operator}" needs one date.`)
      const text = texts[0] as string
      const at = resolveDate(text, ctx.now) ?? datetimeValue(text)
      if (at === null) {
        throw new FilterError(
          `${where}: ${JSON.stringify(text)} is not a date: use an ISO-8601 date or time, or a relative one such as -7d, -2w, -1m, -30M.`,
        )
      }
      const cmp = operator === 'is_date_exact' ? '=' : operator === 'is_date_before' ? '<' : '>'
      return cond({ op: 'date', field, cmp, at, day: cmp === '=' && /^\d{4}-\d{2}-\d{2}$/.test(text) })
    }
    default: {
      const cmp = RANGE_OPERATORS[operator]
      const values = list.map((v, i) => numberOf(v) ?? (texts[i] as string))
      return cond({ op: 'compare', field, cmp, values })
    }
  }
}

/** A list of filters (ANDed) or a `{type: AND|OR, values}` group, nested to any depth. */
export function parseProperties(raw: unknown, where: string, ctx: ParseContext): Expr {
  if (raw === undefined || raw === null) return TRUE
  if (Array.isArray(raw)) return and(raw.map((item, i) => parsePropertyItem(item, `${where}[${i}]`, ctx)))
  if (isPlainObject(raw) && (raw.type === 'AND' || raw.type === 'OR') && 'values' in raw) {
    if (!Array.isArray(raw.values)) throw new FilterError(`${where}.values must be a list.`)
    const items = raw.values.map((item, i) => parsePropertyItem(item, `${where}.values[${i}]`, ctx))
    return raw.type === 'AND' ? and(items) : or(items)
  }
  throw new FilterError(
    `${where} must be a list of property filters or a {"type": "AND"|"OR", "values": [...]} group.`,
  )
}

function parsePropertyItem(raw: unknown, where: string, ctx: ParseContext): Expr {
  if (isPlainObject(raw) && (raw.type === 'AND' || raw.type === 'OR') && 'values' in raw) {
    return parseProperties(raw, where, ctx)
  }
  return propertyFilter(raw, where, ctx)
}

export interface MetricFilters {
  /** The metric's condition without the test-account filters. */
  expr: Expr
  /** Whether the project's test-account filters are ANDed in front. */
  filterTestAccounts: boolean
}

/**
 * A metric's `filters` (events source): AND(global properties, OR(entry₁, entry₂, …)), each entry
 * `event = id` (any event when id is null) AND its own properties. Keys groupd does not use are
 * ignored (they stay stored as sent).
 */
export function parseMetricFilters(filters: Record<string, unknown>, ctx: ParseContext): MetricFilters {
  const { events, actions, properties, filter_test_accounts } = filters
  if (actions !== undefined && actions !== null) {
    if (!Array.isArray(actions)) throw new FilterError('actions must be a list.')
    if (actions.length > 0)
      throw new FilterError('actions are not supported: groupd has no actions; match events instead.')
  }
  let entries: Expr = TRUE
  if (events !== undefined && events !== null) {
    if (!Array.isArray(events)) throw new FilterError('events must be a list.')
    if (events.length > 0) entries = or(events.map((entry, i) => eventEntry(entry, `events[${i}]`, ctx)))
  }
  if (
    filter_test_accounts !== undefined &&
    filter_test_accounts !== null &&
    typeof filter_test_accounts !== 'boolean'
  ) {
    throw new FilterError('filter_test_accounts must be true or false.')
  }
  return {
    // Entries first: their event-name test is the cheapest and rules most rows out early.
    expr: and([entries, parseProperties(properties, 'properties', ctx)]),
    filterTestAccounts: filter_test_accounts === true,
  }
}

function eventEntry(raw: unknown, where: string, ctx: ParseContext): Expr {
  if (!isPlainObject(raw)) throw new FilterError(`${where} must be an object.`)
  if (raw.type !== undefined && raw.type !== null && raw.type !== 'events') {
    throw new FilterError(
      `${where}: entries of type ${JSON.stringify(raw.type)} are not supported; use "events".`,
    )
  }
  const id = raw.id ?? null
  if (id !== null && typeof id !== 'string')
    throw new FilterError(`${where}.id must be an event name or null.`)
  const name: Expr =
    id === null
      ? TRUE
      : {
          kind: 'cond',
          cond: { op: 'eq', field: { source: 'column', column: 'event' }, values: [id], negate: false },
        }
  return and([name, parseProperties(raw.properties, `${where}.properties`, ctx)])
}
