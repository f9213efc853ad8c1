/**
 * The filter language's tree: what parse.ts produces from PostHog's filter JSON and every compiler
 * (sql.ts with its dialects, clickhouse.ts) consumes, with the analyses stores use to narrow a scan.
 * Value semantics (next-wave notes §2.3–2.4): a property's value P is its text (strings unquoted,
 * numbers as written, true/false as text), NULL when missing or JSON null. Negative operators match
 * a missing property; range operators compare numerically when the filter value is numeric.
 */

/** Where a compared value comes from. */
export type Field =
  /** A top-level key of the event's properties. */
  | { source: 'event'; key: string }
  /** A top-level key of the current properties of the event's group of this type. */
  | { source: 'group'; index: number; key: string }
  /** An events column. */
  | { source: 'column'; column: EventColumn }

export const GROUP_COLUMNS = ['group_0', 'group_1', 'group_2', 'group_3', 'group_4'] as const
export type EventColumn = 'event' | 'distinct_id' | 'timestamp' | (typeof GROUP_COLUMNS)[number]

/** A comparison on one field. Lists are already expanded: every `values` array is non-empty. */
export type Condition =
  /** P equals one of the values (negate: P is missing or equals none of them). */
  | { op: 'eq'; field: Field; values: string[]; negate: boolean }
  /** P contains one of the values, case-insensitively and literally (negate: none, or missing). */
  | { op: 'contains'; field: Field; values: string[]; negate: boolean }
  /** P matches one of the patterns (negate: none, or missing). */
  | { op: 'regex'; field: Field; patterns: string[]; negate: boolean }
  /** P compared with each value, any matching: numerically for numbers, else as text. */
  | { op: 'compare'; field: Field; cmp: Comparison; values: (number | string)[] }
  /** The number P within [min, max] (negate: outside it; a non-number matches neither). */
  | { op: 'between'; field: Field; min: number; max: number; negate: boolean }
  /** P is present and not null (negate: missing or null). */
  | { op: 'set'; field: Field; negate: boolean }
  /** The datetime P compared with an instant (epoch ms); `day` compares UTC calendar days. */
  | { op: 'date'; field: Field; cmp: '=' | '<' | '>'; at: number; day: boolean }

export type Comparison = '>' | '>=' | '<' | '<='

export type Expr =
  | { kind: 'and'; items: Expr[] }
  | { kind: 'or'; items: Expr[] }
  | { kind: 'const'; value: boolean }
  | { kind: 'cond'; cond: Condition }

export const TRUE: Expr = { kind: 'const', value: true }
export const FALSE: Expr = { kind: 'const', value: false }

/**
 * A filter groupd refuses, with the sentence to show and the request field it came from (set by
 * validate.ts); the API's error handler answers it as a 400 invalid_input naming that field.
 */
export class FilterError extends Error {
  constructor(
    message: string,
    readonly attr: string | null = null,
  ) {
    super(message)
  }
}

export function and(items: Expr[]): Expr {
  const flat: Expr[] = []
  for (const item of items) {
    if (item.kind === 'const') {
      if (!item.value) return FALSE
      continue
    }
    if (item.kind === 'and') flat.push(...item.items)
    else flat.push(item)
  }
  return flat.length === 0 ? TRUE : flat.length === 1 ? (flat[0] as Expr) : { kind: 'and', items: flat }
}

export function or(items: Expr[]): Expr {
  const flat: Expr[] = []
  for (const item of items) {
    if (item.kind === 'const') {
      if (item.value) return TRUE
      continue
    }
    if (item.kind === 'or') flat.push(...item.items)
    else flat.push(item)
  }
  return flat.length === 0 ? FALSE : flat.length === 1 ? (flat[0] as Expr) : { kind: 'or', items: flat }
}

/** The patterns of every regex condition, for an engine to check it can run them. */
export function regexPatterns(expr: Expr): string[] {
  if (expr.kind === 'cond') return expr.cond.op === 'regex' ? expr.cond.patterns : []
  if (expr.kind === 'const') return []
  return expr.items.flatMap(regexPatterns)
}

/** The group type indexes whose properties the expression reads. */
export function groupIndexes(expr: Expr): Set<number> {
  const out = new Set<number>()
  const walk = (e: Expr) => {
    if (e.kind === 'cond') {
      if (e.cond.field.source === 'group') out.add(e.cond.field.index)
    } else if (e.kind !== 'const') e.items.forEach(walk)
  }
  walk(expr)
  return out
}

/** The group property keys the expression reads. */
export function groupPropertyKeys(expr: Expr): Set<string> {
  const out = new Set<string>()
  const walk = (e: Expr) => {
    if (e.kind === 'cond') {
      if (e.cond.field.source === 'group') out.add(e.cond.field.key)
    } else if (e.kind !== 'const') e.items.forEach(walk)
  }
  walk(expr)
  return out
}

/**
 * The event names any of the expressions can match, or null when one of them can match any event:
 * lets a store read only those events before evaluating each expression per row.
 */
export function anyEventNames(exprs: Expr[]): Set<string> | null {
  const names = new Set<string>()
  for (const expr of exprs) {
    const own = eventNames(expr)
    if (own === null) return null
    for (const name of own) names.add(name)
  }
  return names
}

/**
 * The event names an expression can match, or null when it can match any event: lets a query
 * narrow its scan to those names before evaluating the rest per row.
 */
export function eventNames(expr: Expr): Set<string> | null {
  if (expr.kind === 'const') return expr.value ? null : new Set()
  if (expr.kind === 'cond') {
    const c = expr.cond
    return c.op === 'eq' && !c.negate && c.field.source === 'column' && c.field.column === 'event'
      ? new Set(c.values)
      : null
  }
  if (expr.kind === 'or') {
    const out = new Set<string>()
    for (const item of expr.items) {
      const names = eventNames(item)
      if (names === null) return null
      for (const n of names) out.add(n)
    }
    return out
  }
  // AND: any conjunct that limits the names limits the whole.
  let best: Set<string> | null = null
  for (const item of expr.items) {
    const names = eventNames(item)
    if (names !== null && (best === null || names.size < best.size)) best = names
  }
  return best
}
