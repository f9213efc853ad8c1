/**
 * GROUPD_WORKERS > 1: this process migrates the database once, then runs that many `serve`
 * workers on one port (node:cluster hands them the connections). A worker that dies is replaced;
 * SIGTERM/SIGINT is passed to every worker, each drains its in-flight requests, and this process
 * exits when all have. Caches stay exact because invalidation is cross-process (db/changes.ts).
 */
import cluster, { type Worker } from 'node:cluster'
import type { Config } from './config.ts'
import { Database } from './db/database.ts'
import { migrate } from './db/migrate.ts'

/** A worker that dies sooner than this after its start is replaced only after this delay. */
const RESTART_BACKOFF_MS = 1_000

function log(message: string): void {
  process.stderr.write(`${JSON.stringify({ time: Date.now(), pid: process.pid, msg: message })}\n`)
}

export async function runPrimary(config: Config): Promise<void> {
  const database = Database.open(config.database)
  try {
    await migrate(database)
  } finally {
    await database.close()
  }

  let stopping = false
  const started = new Map<Worker, number>()
  const fork = () => started.set(cluster.fork(), Date.now())
  cluster.on('listening', (worker) => log(`worker ${worker.process.pid} listening`))
  cluster.on('exit', (worker, code, signal) => {
    const age = Date.now() - (started.get(worker) ?? 0)
    started.delete(worker)
    if (stopping) {
      if (started.size === 0) process.exit(0)
      return
    }
    log(`worker ${worker.process.pid} exited (${signal ?? code}); starting another`)
    setTimeout(fork, age < RESTART_BACKOFF_MS ? RESTART_BACKOFF_MS : 0)
  })
  for (let i = 0; i < config.workers; i++) fork()

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = true
    log(`${signal}: draining ${started.size} workers`)
    if (started.size === 0) process.exit(0)
    for (const worker of started.keys()) worker.process.kill(signal)
    // Each worker has its own shutdown deadline; this one only catches a stuck worker.
    setTimeout(() => {
      log('workers did not exit in time')
      process.exit(1)
    }, config.shutdownTimeoutMs + 2_000).unref()
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}
