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

/** pino's numeric levels, so these lines read like the workers' (GROUPD_LOG_LEVEL applies). */
const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 }

function logger(threshold: string) {
  const min = LEVELS[threshold] ?? Number.POSITIVE_INFINITY // silent
  return (level: 'info' | 'warn' | 'error', msg: string) => {
    if ((LEVELS[level] as number) < min) return
    process.stderr.write(
      `${JSON.stringify({ level: LEVELS[level], time: Date.now(), pid: process.pid, msg })}\n`,
    )
  }
}

export async function runPrimary(config: Config): Promise<void> {
  const database = Database.open(config.database)
  try {
    await migrate(database)
  } finally {
    await database.close()
  }

  const log = logger(config.logLevel)
  let stopping = false
  const started = new Map<Worker, number>()
  const fork = () => started.set(cluster.fork(), Date.now())
  cluster.on('listening', (worker) => log('info', `worker ${worker.process.pid} listening`))
  cluster.on('exit', (worker, code, signal) => {
    const age = Date.now() - (started.get(worker) ?? 0)
    started.delete(worker)
    if (stopping) {
      if (started.size === 0) process.exit(0)
      return
    }
    log('warn', `worker ${worker.process.pid} exited (${signal ?? code}); starting another`)
    setTimeout(fork, age < RESTART_BACKOFF_MS ? RESTART_BACKOFF_MS : 0)
  })
  for (let i = 0; i < config.workers; i++) fork()

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = true
    log('info', `${signal}: draining ${started.size} workers`)
    if (started.size === 0) process.exit(0)
    for (const worker of started.keys()) worker.process.kill(signal)
    // Each worker has its own shutdown deadline; this one only catches a stuck worker.
    setTimeout(() => {
      log('error', 'workers did not exit in time')
      process.exit(1)
    }, config.shutdownTimeoutMs + 2_000).unref()
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}
