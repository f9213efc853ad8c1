/**
 * Save-time validation of filters (a deliberate improvement on PostHog, which silently ignores a
 * malformed filter and fails whole queries on a bad regex): parse with the filter language, then
 * let the engine check it can compile every regex (PostgreSQL's dialect is not JavaScript's).
 */
import { sql } from 'kysely'
import type { Executor } from '../db/database.ts'
import type { Engine } from '../db/dialect.ts'
import { validationError } from '../http/errors.ts'
import { type Expr, FilterError, parseMetricFilters, parseProperties, regexPatterns } from './filters.ts'

const invalid = (detail: string, attr: string) => validationError('invalid_input', detail, attr)

/** Where a check runs: the engine, and the connection (a transaction's, inside one). */
export interface CheckTarget {
  engine: Engine
  db: Executor
}

async function checkRegexes(target: CheckTarget, expr: Expr, attr: string): Promise<void> {
  if (target.engine !== 'postgres') return
  for (const pattern of regexPatterns(expr)) {
    try {
      await sql`SELECT '' ~ ${pattern}::text`.execute(target.db)
    } catch (error) {
      throw invalid(
        `${JSON.stringify(pattern)} is not a valid regular expression (${(error as Error).message}).`,
        attr,
      )
    }
  }
}

/** A metric's events-source `filters`, or a 400 naming the problem (attr `filters`). */
export async function validateMetricFilters(
  target: CheckTarget,
  filters: Record<string, unknown>,
): Promise<void> {
  let expr: Expr
  try {
    expr = parseMetricFilters(filters, { now: Date.now() }).expr
  } catch (error) {
    if (error instanceof FilterError) throw invalid(error.message, 'filters')
    throw error
  }
  await checkRegexes(target, expr, 'filters')
}

/**
 * A list of property filters (a project's test-account filters, the events list's `properties`),
 * parsed and checked, or a 400 naming the problem under `attr`.
 */
export async function validatePropertyFilters(
  target: CheckTarget,
  filters: unknown,
  attr: string,
): Promise<Expr> {
  if (!Array.isArray(filters)) throw invalid('Expected a list of property filters.', attr)
  let expr: Expr
  try {
    expr = parseProperties(filters, attr, { now: Date.now() })
  } catch (error) {
    if (error instanceof FilterError) throw invalid(error.message, attr)
    throw error
  }
  await checkRegexes(target, expr, attr)
  return expr
}
