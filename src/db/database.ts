/**
 * The one storage handle: Kysely over PostgreSQL (pg pool) or embedded SQLite (better-sqlite3).
 * Stores take an `Executor` so the same code runs inside or outside `transaction(fn)`.
 */
import fs from 'node:fs'
import path from 'node:path'
import SQLite from 'better-sqlite3'
import { Kysely, PostgresDialect, SqliteDialect, sql, type Transaction } from 'kysely'
import pg from 'pg'
import type { DatabaseConfig } from '../config.ts'
import { type Engine, pgTypes } from './dialect.ts'
import { isRetryableConflict } from './errors.ts'
import { registerSqliteFunctions } from './functions.ts'
import { createRateLimitTable } from './migrations/005-rate-limits.ts'
import type { DB } from './schema.ts'
import { storableJson } from './text.ts'

export type Executor = Kysely<DB> | Transaction<DB>

export interface PostgresOptions {
  /** Pool size per process. */
  maxConnections?: number
  /** How long a request waits for a pool connection before failing (ms). */
  connectionTimeoutMs?: number
  /** Server-side statement timeout (ms). */
  statementTimeoutMs?: number
}

/** How long an embedded-database writer waits for another process's write lock (ms). */
export const SQLITE_BUSY_TIMEOUT_MS = 5_000

export class Database {
  private sidecar: Promise<Kysely<DB>> | undefined

  private constructor(
    readonly engine: Engine,
    readonly db: Kysely<DB>,
    private readonly onClose: () => Promise<void>,
    private readonly dataDir?: string,
  ) {}

  static postgres(url: string, options: PostgresOptions = {}): Database {
    const pool = new pg.Pool({
      connectionString: url,
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
      statement_timeout: options.statementTimeoutMs ?? 30_000,
      idleTimeoutMillis: 30_000,
      types: pgTypes(),
    })
    // A client losing its connection (database restart) emits 'error': on the pool while idle, on
    // the client itself while checked out (inside a transaction). Unhandled, either would crash the
    // process; the query in flight fails on its own and the pool replaces the client.
    pool.on('error', () => {})
    pool.on('connect', (client) => client.on('error', () => {}))
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) })
    return new Database('postgres', db, () => db.destroy())
  }

  /** Embedded SQLite in `dataDir/groupd.sqlite`: WAL, synchronous=FULL, foreign keys on. */
  static sqlite(dataDir: string): Database {
    fs.mkdirSync(dataDir, { recursive: true })
    const file = path.join(dataDir, 'groupd.sqlite')
    const sqlite = new SQLite(file, { timeout: SQLITE_BUSY_TIMEOUT_MS })
    sqlite.pragma('journal_mode = WAL')
    sqlite.pragma('synchronous = FULL')
    sqlite.pragma('foreign_keys = ON')
    registerSqliteFunctions(sqlite)
    const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) })
    return new Database('sqlite', db, () => db.destroy(), dataDir)
  }

  static open(config: DatabaseConfig): Database {
    return config.engine === 'postgres' ? Database.postgres(config.url) : Database.sqlite(config.dataDir)
  }

  /**
   * Runs fn in one transaction. SQLite uses BEGIN IMMEDIATE so the write lock is taken up front:
   * a deferred transaction that upgrades from read to write fails at once with SQLITE_BUSY when
   * another process writes, instead of waiting for the busy timeout.
   */
  async transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    if (this.engine === 'postgres') return this.db.transaction().execute(fn)
    return this.db.connection().execute(async (conn) => {
      await sql`begin immediate`.execute(conn)
      try {
        const result = await fn(conn)
        await sql`commit`.execute(conn)
        return result
      } catch (error) {
        await sql`rollback`.execute(conn).catch(() => {})
        throw error
      }
    })
  }

  /**
   * transaction(fn), run again when PostgreSQL aborts it for a deadlock or serialization failure.
   * Only for fn whose whole effect is inside the transaction.
   */
  async retryingTransaction<T>(fn: (tx: Executor) => Promise<T>, attempts = 3): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.transaction(fn)
      } catch (error) {
        if (attempt >= attempts || !isRetryableConflict(error)) throw error
      }
    }
  }

  /**
   * Where rate-limit counters live: the main database on PostgreSQL (an UNLOGGED table), a side
   * file `ratelimit.sqlite` next to the embedded database (synchronous=OFF: counters may be lost
   * in a power cut, and counting does not wait for the main database's write lock or fsync).
   */
  rateLimitDb(): Promise<Kysely<DB>> {
    if (this.engine === 'postgres' || !this.dataDir) return Promise.resolve(this.db)
    this.sidecar ??= (async () => {
      const sqlite = new SQLite(path.join(this.dataDir as string, 'ratelimit.sqlite'), {
        timeout: SQLITE_BUSY_TIMEOUT_MS,
      })
      sqlite.pragma('journal_mode = WAL')
      sqlite.pragma('synchronous = OFF')
      const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) })
      await createRateLimitTable(db)
      return db
    })()
    return this.sidecar
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db)
  }

  async close(): Promise<void> {
    if (this.sidecar) await (await this.sidecar).destroy()
    await this.onClose()
  }
}

/** Prepared statements kept per SQLite connection, by SQL text. */
const STATEMENT_CACHE_SIZE = 500

/**
 * Kysely prepares every query anew; preparing is a sixth of a simple request's CPU time. The
 * statements are reusable because Kysely runs each to completion (all/run, never iterate).
 */
function withStatementCache(sqlite: SQLite.Database) {
  const cache = new Map<string, SQLite.Statement>()
  return {
    close: () => sqlite.close(),
    prepare(text: string) {
      let statement = cache.get(text)
      if (!statement) {
        statement = sqlite.prepare(text)
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string)
        cache.set(text, statement)
      }
      return statement
    },
  }
}

export function nowIso(): string {
  return new Date().toISOString()
}

/** JSON for storage; NUL and unpaired surrogates become U+FFFD (PostgreSQL's jsonb refuses them). */
export function toJson(value: unknown): string {
  return storableJson(JSON.stringify(value))
}

export function fromJson<T>(text: string): T
export function fromJson<T>(text: string | null): T | null
export function fromJson<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T)
}
