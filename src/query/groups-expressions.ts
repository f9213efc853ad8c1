/**
 * The expressions GroupsQuery accepts in `select` and `orderBy`: the ones PostHog's groups list
 * and `default_columns` use, and five aggregates. Anything else is refused naming the expression.
 *
 *   group_name · key · created_at · updated_at · properties.<name> · properties.`<any name>`
 *   count() · sum(p) · avg(p) · min(p) · max(p)        (p: a property expression)
 *
 * A bare name is letters, digits, `_` and `$` (not starting with a digit); backquotes allow any
 * text, with \` for a backquote and \\ for a backslash.
 */
import { validationError } from '../http/errors.ts'

export type Expression =
  | { kind: 'group_name' | 'key' | 'created_at' | 'updated_at' }
  | { kind: 'property'; key: string }
  | { kind: 'aggregate'; fn: 'count' }
  | { kind: 'aggregate'; fn: 'sum' | 'avg' | 'min' | 'max'; key: string }

/** Longest expression text, and most expressions in `select` / `orderBy`. */
export const MAX_EXPRESSION_LENGTH = 1000
export const MAX_SELECT = 100
export const MAX_ORDER_BY = 10

const COLUMNS = new Set(['group_name', 'key', 'created_at', 'updated_at'])
const BARE_NAME = /^[A-Za-z_$][A-Za-z0-9_$]*$/
const QUOTED_NAME = /^`((?:[^`\\]|\\[`\\])*)`$/
const AGGREGATE = /^(count|sum|avg|min|max)\s*\(\s*(.*?)\s*\)$/is

const SUPPORTED =
  'group_name, key, created_at, updated_at, properties.<name>, properties.`<name>`, count(), sum(x), avg(x), min(x) or max(x) (x a properties expression)'

/** A property expression's key, or null when the text is not one. */
function propertyKey(text: string): string | null {
  if (!text.startsWith('properties.')) return null
  const name = text.slice('properties.'.length)
  if (BARE_NAME.test(name)) return name
  const quoted = QUOTED_NAME.exec(name)
  return quoted ? (quoted[1] as string).replace(/\\([`\\])/g, '$1') : null
}

function parse(text: string): Expression | null {
  if (COLUMNS.has(text)) return { kind: text as 'key' }
  const key = propertyKey(text)
  if (key !== null) return { kind: 'property', key }
  const aggregate = AGGREGATE.exec(text)
  if (!aggregate) return null
  const fn = (aggregate[1] as string).toLowerCase() as 'count' | 'sum'
  const argument = aggregate[2] as string
  if (fn === 'count') return argument === '' ? { kind: 'aggregate', fn } : null
  const of = propertyKey(argument)
  return of === null ? null : { kind: 'aggregate', fn, key: of }
}

/** One expression, or a 400 naming it under `attr`. */
export function expression(raw: unknown, attr: string): Expression {
  if (typeof raw !== 'string')
    throw validationError('invalid_input', `${attr} must be a list of strings.`, attr)
  if (raw.length > MAX_EXPRESSION_LENGTH) {
    throw validationError(
      'invalid_input',
      `An expression may have at most ${MAX_EXPRESSION_LENGTH} characters.`,
      attr,
    )
  }
  const parsed = parse(raw.trim())
  if (!parsed) {
    throw validationError(
      'invalid_input',
      `${JSON.stringify(raw)} is not an expression GroupsQuery supports: use ${SUPPORTED}.`,
      attr,
    )
  }
  return parsed
}

export interface OrderTerm {
  /** The expression's text as sent, without its direction. */
  text: string
  expression: Expression
  desc: boolean
}

/** `"<expression> [ASC|DESC]"`. */
export function orderTerm(raw: unknown): OrderTerm {
  if (typeof raw !== 'string')
    throw validationError('invalid_input', 'orderBy must be a list of strings.', 'orderBy')
  const m = /^(.*?)(?:\s+(ASC|DESC))?\s*$/is.exec(raw) as RegExpExecArray
  const text = (m[1] as string).trim()
  return { text, expression: expression(text, 'orderBy'), desc: (m[2] ?? '').toUpperCase() === 'DESC' }
}

/** The canonical text of an expression, to compare an orderBy term with the select. */
export function canonical(e: Expression): string {
  const property = (key: string) =>
    BARE_NAME.test(key) ? `properties.${key}` : `properties.\`${key.replace(/[`\\]/g, '\\$&')}\``
  if (e.kind === 'property') return property(e.key)
  if (e.kind === 'aggregate') return e.fn === 'count' ? 'count()' : `${e.fn}(${property(e.key)})`
  return e.kind
}
