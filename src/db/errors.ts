/**
 * Database error translation at the storage boundary, for both engines: PostgreSQL SQLSTATE codes
 * and better-sqlite3's extended result codes.
 */

interface DriverError {
  code?: string
  constraint?: string
  message?: string
}

function asDriverError(error: unknown): DriverError | undefined {
  return typeof error === 'object' && error !== null ? (error as DriverError) : undefined
}

export function isUniqueViolation(error: unknown): boolean {
  const code = asDriverError(error)?.code
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
}

export function isForeignKeyViolation(error: unknown): boolean {
  const code = asDriverError(error)?.code
  return code === '23503' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY'
}

/** A store outside the SQL database (ClickHouse) cannot be reached: answered like an outage. */
export class StoreUnavailableError extends Error {
  readonly code = 'STORE_UNAVAILABLE'
}

/**
 * The database cannot be reached or is going away: connection refused or reset, PostgreSQL
 * shutting down (57P01-57P03), too many connections (53300), pool timeouts, SQLite busy/locked.
 */
export function isUnavailable(error: unknown): boolean {
  const e = asDriverError(error)
  if (!e) return false
  const code = e.code ?? ''
  if (error instanceof StoreUnavailableError) return true
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code))
    return true
  if (['57P01', '57P02', '57P03', '53300', '08000', '08003', '08006', '08001', '08004'].includes(code))
    return true
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || code.startsWith('SQLITE_BUSY_')) return true
  const message = e.message ?? ''
  return /timeout exceeded when trying to connect|Connection terminated|Client has encountered a connection error/i.test(
    message,
  )
}

/** A transaction found that another one changed what it had read: it may simply be run again. */
export class WriteConflictError extends Error {}

/**
 * PostgreSQL deadlock (40P01) or serialization failure (40001), or a WriteConflictError: the
 * transaction may simply be run again.
 */
export function isRetryableConflict(error: unknown): boolean {
  if (error instanceof WriteConflictError) return true
  const code = asDriverError(error)?.code
  return code === '40P01' || code === '40001'
}

/** A query ran past its deadline (GROUPD_QUERY_TIMEOUT_MS) and was stopped. */
export class QueryTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`the query ran longer than ${timeoutMs} ms`)
  }
}

/** The read pool's deadline, or PostgreSQL's statement_timeout (57014, query_canceled). */
export function isQueryTimeout(error: unknown): boolean {
  return error instanceof QueryTimeoutError || asDriverError(error)?.code === '57014'
}
