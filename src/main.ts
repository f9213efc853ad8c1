/** config → Database → migrate → buildApp → listen → graceful shutdown (or cluster.ts's workers). */
import cluster from 'node:cluster'
import type { Config } from './config.ts'
import { Database } from './db/database.ts'
import { migrate } from './db/migrate.ts'
import { openEventsStore } from './events/open.ts'

export async function serve(config: Config): Promise<void> {
  if (config.workers > 1 && cluster.isPrimary) {
    const { runPrimary } = await import('./cluster.ts')
    return runPrimary(config)
  }
  // Loaded here: the cluster's primary never needs the HTTP stack.
  const { buildApp } = await import('./app.ts')
  const database = Database.open(config.database)
  await migrate(database)
  const { store: events } = await openEventsStore(config.clickhouse, database, (line) =>
    process.stderr.write(`groupd: ClickHouse migration: ${line}\n`),
  )
  const app = await buildApp({
    database,
    events,
    trustProxy: config.trustProxy,
    logLevel: config.logLevel,
    rateLimit: config.rateLimit,
  })
  await app.listen({ host: config.host, port: config.port })
  app.log.info({ engine: database.engine, clickhouse: config.clickhouse !== null }, 'groupd ready')

  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    app.log.info({ signal }, 'shutting down: draining in-flight requests')
    const deadline = setTimeout(() => {
      app.log.error('shutdown timed out; exiting with requests still open')
      process.exit(1)
    }, config.shutdownTimeoutMs)
    deadline.unref()
    await app.close()
    await events.close()
    await database.close()
    clearTimeout(deadline)
    process.exit(0)
  }
  process.on('SIGTERM', () => void stop('SIGTERM'))
  process.on('SIGINT', () => void stop('SIGINT'))
}
