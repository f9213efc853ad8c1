/**
 * One thread of the embedded database's read pool (read-pool.ts): a read-only connection to the
 * database file (WAL lets it read while the main connection writes), answering one query at a
 * time, so that a long query never holds the server's event loop.
 */
import { createRequire } from 'node:module'
import { parentPort, workerData } from 'node:worker_threads'
import type SQLite from 'better-sqlite3'
import { registerSqliteFunctions } from './functions.ts'

export interface ReadRequest {
  id: number
  sql: string
  parameters: readonly unknown[]
}

export type ReadResponse =
  | { id: number; rows: unknown[] }
  | { id: number; error: { message: string; code?: string } }
  /** Sent once the connection is open. */
  | { ready: true }

const require = createRequire(import.meta.url)
const Sqlite = require('better-sqlite3') as typeof SQLite
const { file, busyTimeoutMs } = workerData as { file: string; busyTimeoutMs: number }
const db = new Sqlite(file, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs })
registerSqliteFunctions(db)

const STATEMENT_CACHE_SIZE = 200
const statements = new Map<string, SQLite.Statement>()

function prepare(sql: string): SQLite.Statement {
  let statement = statements.get(sql)
  if (!statement) {
    statement = db.prepare(sql)
    if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value as string)
    statements.set(sql, statement)
  }
  return statement
}

parentPort?.on('message', ({ id, sql, parameters }: ReadRequest) => {
  let response: ReadResponse
  try {
    const statement = prepare(sql)
    if (!statement.reader) throw new Error('the read pool runs queries that return rows only')
    response = { id, rows: statement.all(...parameters) }
  } catch (error) {
    const { message, code } = error as { message: string; code?: string }
    response = { id, error: { message, code } }
  }
  parentPort?.postMessage(response)
})
parentPort?.postMessage({ ready: true } satisfies ReadResponse)
