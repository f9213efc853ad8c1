/**
 * The one storage handle: Kysely over PostgreSQL (pg pool) or embedded SQLite (better-sqlite3).
 * Stores take an `Executor` so the same code runs inside or outside `transaction(fn)`.
 */
import fs from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import type SQLite from 'better-sqlite3'
import { Kysely, PostgresDialect, SqliteDialect, sql, type Transaction } from 'kysely'
import type pg from 'pg'
import { ConfigError, type DatabaseConfig } from '../config.ts'
import { type ChangeFeed, PostgresChangeFeed, SqliteChangeFeed, type Topic } from './changes.ts'
import { type Engine, pgTypes } from './dialect.ts'
import { isRetryableConflict } from './errors.ts'
import { registerSqliteFunctions } from './functions.ts'
import { ReadPool, readPoolDialect } from './read-pool.ts'
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

/** GROUPD_QUERY_TIMEOUT_MS's default: the longest a query may run (ms). */
export const DEFAULT_QUERY_TIMEOUT_MS = 30_000

export interface SqliteOptions {
  /** Deadline of a query in the read pool (ms). */
  queryTimeoutMs?: number
}

/** Threads of the embedded database's read pool (read-pool.ts). */
const READ_WORKERS = Math.max(1, Math.min(4, os.availableParallelism()))

// Each engine's driver is loaded only when that engine is opened (a faster start for the other).
const require = createRequire(import.meta.url)
const loadPg = () => require('pg') as typeof pg
const loadSqlite = () => require('better-sqlite3') as typeof SQLite

export class Database {
  private readonly sideFiles = new Map<string, Kysely<DB>>()
  private readPool?: Kysely<DB>

  private constructor(
    readonly engine: Engine,
    readonly db: Kysely<DB>,
    /** Tells every groupd process on this database what changed (see changes.ts). */
    readonly changes: ChangeFeed,
    private readonly onClose: () => Promise<void>,
    private readonly dataDir?: string,
    private readonly openReadPool?: () => Kysely<DB>,
  ) {
    changes.track(db)
  }

  /**
   * Where reads that can take long go (searches, filters, sorts, counts, metric values, event
   * lists), each bounded by the query timeout: on SQLite the read pool's threads (started on first
   * use), so the event loop never waits for them; on PostgreSQL the pool itself.
   */
  get reads(): Kysely<DB> {
    if (!this.openReadPool) return this.db
    this.readPool ??= this.openReadPool()
    return this.readPool
  }

  static postgres(url: string, options: PostgresOptions = {}): Database {
    const pg = loadPg()
    const pool = new pg.Pool({
      connectionString: url,
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
      statement_timeout: options.statementTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS,
      idleTimeoutMillis: 30_000,
      types: pgTypes(pg),
    })
    // A client losing its connection (database restart) emits 'error': on the pool while idle, on
    // the client itself while checked out (inside a transaction). Unhandled, either would crash the
    // process; the query in flight fails on its own and the pool replaces the client.
    pool.on('error', () => {})
    pool.on('connect', (client) => client.on('error', () => {}))
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) })
    const changes = new PostgresChangeFeed(() => new pg.Client({ connectionString: url }))
    return new Database('postgres', db, changes, () => db.destroy())
  }

  /** Embedded SQLite in `dataDir/groupd.sqlite`: WAL, synchronous=FULL, foreign keys on. */
  static sqlite(dataDir: string, options: SqliteOptions = {}): Database {
    fs.mkdirSync(dataDir, { recursive: true })
    const file = path.join(dataDir, 'groupd.sqlite')
    const sqlite = new (loadSqlite())(file, { timeout: SQLITE_BUSY_TIMEOUT_MS })
    sqlite.pragma('journal_mode = WAL')
    sqlite.pragma('synchronous = FULL')
    sqlite.pragma('foreign_keys = ON')
    registerSqliteFunctions(sqlite)
    const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) })
    const reads = () =>
      new Kysely<DB>({
        dialect: readPoolDialect(
          new ReadPool({
            file,
            size: READ_WORKERS,
            timeoutMs: options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS,
            busyTimeoutMs: SQLITE_BUSY_TIMEOUT_MS,
          }),
        ),
      })
    return new Database('sqlite', db, new SqliteChangeFeed(sqlite), () => db.destroy(), dataDir, reads)
  }

  static open(config: DatabaseConfig): Database {
    if (config.engine === 'postgres')
      return Database.postgres(config.url, { statementTimeoutMs: config.queryTimeoutMs })
    try {
      return Database.sqlite(config.dataDir, { queryTimeoutMs: config.queryTimeoutMs })
    } catch (error) {
      // A path that is a file, or a directory without write permission: the setting is wrong.
      const { code, message } = error as NodeJS.ErrnoException
      throw new ConfigError(
        `GROUPD_DATA_DIR "${config.dataDir}" cannot hold the database: ${code ?? message}.`,
      )
    }
  }

  /**
   * Runs fn in one transaction. SQLite uses BEGIN IMMEDIATE so the write lock is taken up front:
   * a deferred transaction that upgrades from read to write fails at once with SQLITE_BUSY when
   * another process writes, instead of waiting for the busy timeout.
   */
  async transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    // Changes announced inside are invalidated in this process once the transaction commits.
    const changed = new Set<Topic>()
    const result = await (this.engine === 'postgres'
      ? this.db.transaction().execute((tx) => {
          this.changes.track(tx, changed)
          return fn(tx)
        })
      : this.db.connection().execute(async (conn) => {
          this.changes.track(conn, changed)
          await sql`begin immediate`.execute(conn)
          try {
            const result = await fn(conn)
            await sql`commit`.execute(conn)
            return result
          } catch (error) {
            await sql`rollback`.execute(conn).catch(() => {})
            throw error
          }
        }))
    for (const topic of changed) this.changes.invalidate(topic)
    return result
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
   * A side file `<name>.sqlite` next to the embedded database, for data that may be lost in a
   * power cut (synchronous=OFF) and must not wait for the main database's write lock or fsync.
   * On PostgreSQL (no data directory) the main database.
   */
  sideFile(name: string): Kysely<DB> {
    if (this.engine === 'postgres' || !this.dataDir) return this.db
    let db = this.sideFiles.get(name)
    if (!db) {
      const sqlite = new (loadSqlite())(path.join(this.dataDir, `${name}.sqlite`), {
        timeout: SQLITE_BUSY_TIMEOUT_MS,
      })
      sqlite.pragma('journal_mode = WAL')
      sqlite.pragma('synchronous = OFF')
      db = new Kysely<DB>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) })
      this.sideFiles.set(name, db)
    }
    return db
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db)
  }

  async close(): Promise<void> {
    await this.readPool?.destroy()
    await this.changes.close()
    for (const db of this.sideFiles.values()) await db.destroy()
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
