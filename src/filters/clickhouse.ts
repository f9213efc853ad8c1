/**
 * The filter tree to ClickHouse SQL text, for the ClickHouse events store. ClickHouse 18.16 has no
 * query parameters, so values are inlined, each through `literal()` here, the one escaping function.
 *
 * A property is read from the arrays computed at insert (events/properties.ts): P is
 * `prop_values[indexOf(prop_keys, k)]`, NULL when the key is absent (index 0), and its number and
 * datetime come from the parallel arrays (NaN: none), so the three engines share one definition.
 * Every condition is made non-nullable the way the SQL compiler's rules read: a positive comparison
 * on NULL is false (ifNull(…, 0)), a negative one matches a missing property.
 */
import { DATETIME_TEXT, NUMERIC_TEXT } from '../db/functions.ts'
import { DAY_MS } from './dates.ts'
import type { Condition, EventColumn, Expr, Field } from './tree.ts'

/**
 * A string as a ClickHouse string literal: backslash and quote escaped, control characters as
 * \xHH, everything else (any Unicode) as is.
 */
export function literal(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it escapes
  const escaped = value.replace(/[\\'\x00-\x1f\x7f]/g, (c) =>
    c === '\\' || c === "'" ? `\\${c}` : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  )
  return `'${escaped}'`
}

/** A finite number as a ClickHouse literal (Float64 when it has a fraction or exponent). */
export function numberLiteral(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`not a finite number: ${value}`)
  return `(${String(value)})`
}

/** Where a property field's arrays are: the event's own, or its joined group's (gN_…). */
function arrays(field: Exclude<Field, { source: 'column' }>): string {
  return field.source === 'event' ? 'prop' : `g${field.index}`
}

const index = (field: Exclude<Field, { source: 'column' }>) =>
  `indexOf(${arrays(field)}_keys, ${literal(field.key)})`

/** The events table column of an event_metadata field, as text. */
function columnText(column: EventColumn): string {
  if (column !== 'timestamp') return column
  // The SQL engines' text of a timestamp: ISO-8601 with milliseconds and Z.
  return "concat(formatDateTime(timestamp, '%Y-%m-%dT%H:%M:%S.'), substring(toString(1000 + time_ms % 1000), 2, 3), 'Z')"
}

/** Element i of a property array, NULL when the key is absent or the element is NaN. */
function element(field: Exclude<Field, { source: 'column' }>, array: 'values' | 'numbers' | 'times'): string {
  const i = index(field)
  const value = `${arrays(field)}_${array}[${i}]`
  return array === 'values'
    ? `if(${i} = 0, NULL, ${value})`
    : `if(${i} = 0 OR isNaN(${value}), NULL, ${value})`
}

/** P: the field's text, NULL when missing or JSON null. */
function text(field: Field): string {
  if (field.source === 'column') return columnText(field.column)
  return element(field, 'values')
}

/** F(P): the field's number, NULL when it is not one. */
export function number(field: Field): string {
  if (field.source !== 'column') return element(field, 'numbers')
  if (field.column === 'timestamp') return 'CAST(NULL AS Nullable(Float64))'
  const p = columnText(field.column)
  return `if(match(ifNull(${p}, ''), ${literal(NUMERIC_TEXT.source)}), toFloat64OrNull(${p}), NULL)`
}

/** The field as an instant (epoch ms), NULL when it is not a datetime. */
function time(field: Field): string {
  if (field.source !== 'column') return element(field, 'times')
  if (field.column === 'timestamp') return 'time_ms'
  // Group keys and names read as datetimes: ClickHouse's parser, on text of the same shape.
  const p = columnText(field.column)
  return `if(match(ifNull(${p}, ''), ${literal(DATETIME_TEXT.source)}), toInt64(toUnixTimestamp(parseDateTimeBestEffortOrNull(${p}))) * 1000, NULL)`
}

const anyOf = (items: string[]) => (items.length === 1 ? (items[0] as string) : `(${items.join(' OR ')})`)
const allOf = (items: string[]) => (items.length === 1 ? (items[0] as string) : `(${items.join(' AND ')})`)
/** A comparison that is false, not NULL, when its operand is NULL. */
const holds = (cmp: string) => `ifNull(${cmp}, 0)`
/** A negative operator matches a missing property. */
const noneOf = (p: string, positive: string) => `(isNull(${p}) OR NOT ${positive})`

type Rule<C extends Condition> = (c: C) => string

const RULES: { [Op in Condition['op']]: Rule<Extract<Condition, { op: Op }>> } = {
  eq(c) {
    const p = text(c.field)
    const positive =
      c.values.length === 1
        ? holds(`${p} = ${literal(c.values[0] as string)}`)
        : holds(`${p} IN (${c.values.map(literal).join(', ')})`)
    return c.negate ? noneOf(p, positive) : positive
  },
  contains(c) {
    const p = text(c.field)
    // Literal substring on lower-cased text: no LIKE pattern, so % and _ are plain characters.
    const positive = anyOf(
      c.values.map((v) => holds(`position(lowerUTF8(${p}), lowerUTF8(${literal(v)})) > 0`)),
    )
    return c.negate ? noneOf(p, positive) : positive
  },
  regex(c) {
    const p = text(c.field)
    // In a group: 18.16 looks for a required literal outside groups case-sensitively, which
    // makes `(?i)^CHROME` miss "Chrome"; RE2 reads `(?:(?i)…)` the same as `(?i)…`.
    const positive = anyOf(c.patterns.map((pattern) => holds(`match(${p}, ${literal(`(?:${pattern})`)})`)))
    return c.negate ? noneOf(p, positive) : positive
  },
  compare(c) {
    return anyOf(
      c.values.map((v) =>
        typeof v === 'number'
          ? holds(`${number(c.field)} ${c.cmp} ${numberLiteral(v)}`)
          : // Strings compare byte-wise: UTF-8 byte order is code-point order.
            holds(`${text(c.field)} ${c.cmp} ${literal(v)}`),
      ),
    )
  },
  between(c) {
    const n = number(c.field)
    const [min, max] = [numberLiteral(c.min), numberLiteral(c.max)]
    return c.negate ? holds(`(${n} < ${min} OR ${n} > ${max})`) : holds(`(${n} >= ${min} AND ${n} <= ${max})`)
  },
  set(c) {
    return c.negate ? `isNull(${text(c.field)})` : `isNotNull(${text(c.field)})`
  },
  date(c) {
    const t = time(c.field)
    if (c.day) return holds(`(${t} >= ${c.at} AND ${t} < ${c.at + DAY_MS})`)
    return holds(`${t} ${c.cmp} ${c.at}`)
  },
}

/** A non-nullable boolean (UInt8) ClickHouse expression for the tree. */
export function compileClickHouse(expr: Expr): string {
  switch (expr.kind) {
    case 'const':
      return expr.value ? '1' : '0'
    case 'and':
      return allOf(expr.items.map(compileClickHouse))
    case 'or':
      return anyOf(expr.items.map(compileClickHouse))
    case 'cond':
      return (RULES[expr.cond.op] as Rule<Condition>)(expr.cond)
  }
}
