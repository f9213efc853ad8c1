/**
 * The filter tree to parameter-bound SQL. The operator rules (lists, NULL handling, negation) are
 * written once here as a table; each engine supplies a SqlDialect with the few fragments that
 * differ (how to read a property's text, number and datetime, case folding, regex, collation).
 * Every value, key and pattern reaches SQL as a bound parameter through Kysely's `sql` template.
 */
import { type RawBuilder, sql } from 'kysely'
import { DAY_MS } from './dates.ts'
import type { Comparison, Condition, EventColumn, Expr, Field } from './tree.ts'

export type Fragment = RawBuilder<unknown>

export type PropertyField = Exclude<Field, { source: 'column' }>

/** What a compiled expression reads a field from, in the query it is part of. */
export interface RowSources {
  /** The JSON object a property field reads. */
  properties(field: PropertyField): Fragment
  /** An events column (event_metadata filters). */
  column(column: EventColumn): Fragment
}

/** An events row `e`, with the current properties of its groups joined as `gN` (one per type). */
export const EVENT_ROW: RowSources = {
  properties: (field) =>
    field.source === 'event' ? sql.ref('e.properties') : sql.ref(`g${field.index}.group_properties`),
  column: (column) => sql.ref(`e.${column}`),
}

/** A groups row `g`: group filters of its type (the parser allows no others, see ParseContext). */
export const GROUP_ROW: RowSources = {
  properties: () => sql.ref('g.group_properties'),
  column: (column) => {
    throw new Error(`a groups row has no events column ${column}`)
  },
}

export interface SqlDialect {
  /** P: the field's text, NULL when missing or JSON null. */
  text(field: Field): Fragment
  /** F(P): the field's number, NULL when it is not one. */
  number(field: Field): Fragment
  /** The field read as a datetime, compared with an instant (epoch ms); false when not a datetime. */
  dateCompare(field: Field, cmp: '=' | '<' | '>' | '>=', at: number): Fragment
  /** Case-insensitive literal substring test of `text` (never a LIKE pattern). */
  containsInsensitive(text: Fragment, needle: string): Fragment
  /** Regular-expression match. */
  regex(text: Fragment, pattern: string): Fragment
  /** Text ordering by code point, whatever the database's collation. */
  textCompare(text: Fragment, cmp: Comparison, value: string): Fragment
}

const anyOf = (items: Fragment[]): Fragment =>
  items.length === 1 ? (items[0] as Fragment) : sql`(${sql.join(items, sql` OR `)})`
const allOf = (items: Fragment[]): Fragment =>
  items.length === 1 ? (items[0] as Fragment) : sql`(${sql.join(items, sql` AND `)})`
/** A negative operator matches a missing property (PostHog's ifNull(…, 1)). */
const noneOf = (p: Fragment, positive: Fragment): Fragment => sql`(${p} IS NULL OR NOT ${positive})`

type Rule<C extends Condition> = (c: C, d: SqlDialect) => Fragment

const RULES: { [Op in Condition['op']]: Rule<Extract<Condition, { op: Op }>> } = {
  eq(c, d) {
    const p = d.text(c.field)
    const positive =
      c.values.length === 1
        ? sql`(${p} = ${c.values[0]})`
        : sql`(${p} IN (${sql.join(c.values.map((v) => sql`${v}`))}))`
    return c.negate ? noneOf(p, positive) : positive
  },
  contains(c, d) {
    const p = d.text(c.field)
    const positive = anyOf(c.values.map((v) => d.containsInsensitive(p, v)))
    return c.negate ? noneOf(p, positive) : positive
  },
  regex(c, d) {
    const p = d.text(c.field)
    const positive = anyOf(c.patterns.map((pattern) => d.regex(p, pattern)))
    return c.negate ? noneOf(p, positive) : positive
  },
  compare(c, d) {
    return anyOf(
      c.values.map((v) =>
        typeof v === 'number'
          ? sql`(${d.number(c.field)} ${sql.raw(c.cmp)} ${v})`
          : d.textCompare(d.text(c.field), c.cmp, v),
      ),
    )
  },
  between(c, d) {
    const n = d.number(c.field)
    return c.negate ? sql`(${n} < ${c.min} OR ${n} > ${c.max})` : sql`(${n} >= ${c.min} AND ${n} <= ${c.max})`
  },
  set(c, d) {
    return c.negate ? sql`(${d.text(c.field)} IS NULL)` : sql`(${d.text(c.field)} IS NOT NULL)`
  },
  date(c, d) {
    if (c.day) return allOf([d.dateCompare(c.field, '>=', c.at), d.dateCompare(c.field, '<', c.at + DAY_MS)])
    return d.dateCompare(c.field, c.cmp, c.at)
  },
}

/** A boolean SQL expression for the tree. */
export function compileExpr(expr: Expr, dialect: SqlDialect): Fragment {
  switch (expr.kind) {
    case 'const':
      return expr.value ? sql`(1 = 1)` : sql`(1 = 0)`
    case 'and':
      return allOf(expr.items.map((item) => compileExpr(item, dialect)))
    case 'or':
      return anyOf(expr.items.map((item) => compileExpr(item, dialect)))
    case 'cond':
      return (RULES[expr.cond.op] as Rule<Condition>)(expr.cond, dialect)
  }
}
