/**
 * The embedded database's read pool: better-sqlite3 runs a query synchronously, so a search over a
 * million groups on the main thread would stall every other request for as long as it takes.
 * Reads that can take long (groups search, filters, sorts, counts, metric values, the events list)
 * go instead to worker threads, each with its own read-only connection (read-worker.ts).
 *
 * Every query has a deadline (GROUPD_QUERY_TIMEOUT_MS from when a thread starts running it, as
 * PostgreSQL's statement_timeout): past it the caller gets a QueryTimeoutError (a 504) at once,
 * and the thread running it is replaced. better-sqlite3 cannot interrupt SQLite, so that thread stops at its next call into
 * groupd's SQL functions, or when SQLite's own work for the statement ends.
 *
 * Exposed as a Kysely dialect, so stores write the same queries for `database.reads` as for
 * `database.db`.
 */
import { Worker } from 'node:worker_threads'
import {
  type CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryResult,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely'
import { QueryTimeoutError } from './errors.ts'
import type { ReadRequest, ReadResponse } from './read-worker.ts'

// Under tsx (tests, `npm run dev`) the worker is TypeScript and needs tsx's loader registered in its
// thread too; in the bundle (dist/server) it is an entry of its own.
const FROM_SOURCE = import.meta.url.endsWith('.ts')
const WORKER_URL = new URL(FROM_SOURCE ? './read-worker.ts' : './read-worker.js', import.meta.url)

function startWorker(workerData: unknown): Worker {
  if (!FROM_SOURCE) return new Worker(WORKER_URL, { workerData })
  const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(WORKER_URL.href)}) })`
  return new Worker(bootstrap, { eval: true, workerData })
}

interface Pending {
  request: ReadRequest
  resolve(rows: unknown[]): void
  reject(error: unknown): void
  timer?: NodeJS.Timeout
  worker?: PoolWorker
}

interface PoolWorker {
  thread: Worker
  /** Whether its connection is open (a deadline only runs once a thread can work on it). */
  ready: boolean
  busy?: Pending
}

export interface ReadPoolOptions {
  file: string
  size: number
  timeoutMs: number
  busyTimeoutMs: number
}

export class ReadPool {
  private readonly workers: PoolWorker[] = []
  private readonly queue: Pending[] = []
  private nextId = 1
  private closed = false

  constructor(private readonly options: ReadPoolOptions) {
    for (let i = 0; i < options.size; i++) this.workers.push(this.spawn())
  }

  private spawn(): PoolWorker {
    const worker: PoolWorker = {
      thread: startWorker({ file: this.options.file, busyTimeoutMs: this.options.busyTimeoutMs }),
      ready: false,
    }
    worker.thread.unref()
    worker.thread.on('message', (response: ReadResponse) => {
      if ('ready' in response) {
        worker.ready = true
        return this.dispatch()
      }
      const pending = worker.busy
      worker.busy = undefined
      if (pending && pending.request.id === response.id) {
        clearTimeout(pending.timer)
        if ('rows' in response) pending.resolve(response.rows)
        else pending.reject(Object.assign(new Error(response.error.message), { code: response.error.code }))
      }
      this.dispatch()
    })
    worker.thread.on('error', (error) => this.replace(worker, error))
    worker.thread.on('exit', (code) => this.replace(worker, new Error(`a read worker exited (${code})`)))
    return worker
  }

  /** Replaces a worker that died or was stopped, failing the query it held. */
  private replace(worker: PoolWorker, error: unknown): void {
    const i = this.workers.indexOf(worker)
    if (i < 0) return
    const pending = worker.busy
    worker.busy = undefined
    void worker.thread.terminate()
    if (pending) {
      clearTimeout(pending.timer)
      pending.reject(error)
    }
    if (this.closed) this.workers.splice(i, 1)
    else this.workers[i] = this.spawn()
    this.dispatch()
  }

  run(sql: string, parameters: readonly unknown[]): Promise<unknown[]> {
    if (this.closed) return Promise.reject(new Error('the read pool is closed'))
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        request: { id: this.nextId++, sql, parameters },
        resolve,
        reject,
      }
      this.queue.push(pending)
      this.dispatch()
    })
  }

  private expire(pending: Pending): void {
    if (pending.worker?.busy === pending)
      this.replace(pending.worker, new QueryTimeoutError(this.options.timeoutMs))
  }

  private dispatch(): void {
    for (const worker of this.workers) {
      if (this.queue.length === 0) return
      if (worker.busy || !worker.ready) continue
      const pending = this.queue.shift() as Pending
      worker.busy = pending
      pending.worker = worker
      pending.timer = setTimeout(() => this.expire(pending), this.options.timeoutMs)
      worker.thread.postMessage(pending.request)
    }
  }

  async close(): Promise<void> {
    this.closed = true
    for (const pending of this.queue.splice(0)) pending.reject(new Error('the read pool is closed'))
    await Promise.all(this.workers.map((w) => w.thread.terminate()))
    this.workers.length = 0
  }
}

/** Kysely over the pool: reads only (no transactions, no streaming). */
export function readPoolDialect(pool: ReadPool): Dialect {
  const connection: DatabaseConnection = {
    async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
      return { rows: (await pool.run(query.sql, query.parameters)) as R[] }
    },
    // biome-ignore lint/correctness/useYield: the pool does not stream
    async *streamQuery() {
      throw new Error('the read pool does not stream')
    },
  }
  const driver: Driver = {
    async init() {},
    async acquireConnection() {
      return connection
    },
    async beginTransaction() {
      throw new Error('the read pool runs no transactions')
    },
    async commitTransaction() {},
    async rollbackTransaction() {},
    async releaseConnection() {},
    async destroy() {
      await pool.close()
    },
  }
  return {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => driver,
    createIntrospector: (db) => new SqliteIntrospector(db),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  }
}
