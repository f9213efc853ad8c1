/**
 * Save-time validation of filters (a deliberate improvement on PostHog, which silently ignores a
 * malformed filter and fails whole queries on a bad regex): parse with the filter language, then
 * let the engine check it can compile every regex (PostgreSQL's dialect is not JavaScript's).
 * Failures are FilterErrors naming the request field (`attr`): the API answers them as 400s.
 */
import { sql } from 'kysely'
import type { Executor } from '../db/database.ts'
import type { Engine } from '../db/dialect.ts'
import { type ParseContext, parseMetricFilters, parseProperties } from './parse.ts'
import { type Expr, FilterError, regexPatterns } from './tree.ts'

/** Where a check runs: the engine, and the connection (a transaction's, inside one). */
export interface CheckTarget {
  engine: Engine
  db: Executor
}

/** fn's result, or its FilterError again with `attr` as the field it names. */
function naming<T>(attr: string, fn: () => T): T {
  try {
    return fn()
  } catch (error) {
    if (error instanceof FilterError) throw new FilterError(error.message, attr)
    throw error
  }
}

export async function checkRegexes(target: CheckTarget, expr: Expr, attr: string): Promise<void> {
  if (target.engine !== 'postgres') return
  for (const pattern of regexPatterns(expr)) {
    try {
      await sql`SELECT '' ~ ${pattern}::text`.execute(target.db)
    } catch (error) {
      throw new FilterError(
        `${JSON.stringify(pattern)} is not a valid regular expression (${(error as Error).message}).`,
        attr,
      )
    }
  }
}

/** A metric's events-source `filters`, or a FilterError naming the problem (attr `filters`). */
export async function validateMetricFilters(
  target: CheckTarget,
  filters: Record<string, unknown>,
): Promise<void> {
  const { expr } = naming('filters', () => parseMetricFilters(filters, { now: Date.now() }))
  await checkRegexes(target, expr, 'filters')
}

/**
 * A list of property filters (a project's test-account filters, the events list's `properties`,
 * a GroupsQuery's `properties`), parsed and checked, or a FilterError naming the problem under `attr`.
 */
export async function validatePropertyFilters(
  target: CheckTarget,
  filters: unknown,
  attr: string,
  ctx: ParseContext = { now: Date.now() },
): Promise<Expr> {
  if (!Array.isArray(filters)) throw new FilterError('Expected a list of property filters.', attr)
  const expr = naming(attr, () => parseProperties(filters, attr, ctx))
  await checkRegexes(target, expr, attr)
  return expr
}
