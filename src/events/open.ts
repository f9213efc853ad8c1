/** The events store chosen once at start from configuration: ClickHouse when configured, else SQL. */
import type { ClickHouseConfig } from '../config.ts'
import type { Database } from '../db/database.ts'
import { ClickHouse } from './clickhouse.ts'
import { type MigrationProgress, migrateClickHouse } from './clickhouse-migrations.ts'
import { ClickHouseEventsStore } from './clickhouse-store.ts'
import { SqlEventsStore } from './sql-store.ts'
import type { EventsStore } from './store.ts'

/** How long one migration statement (a month of events copied) may take. */
const MIGRATION_TIMEOUT_MS = 6 * 3600_000

export interface OpenedEventsStore {
  store: EventsStore
  /** ClickHouse migrations applied while opening. */
  applied: string[]
}

/**
 * Opens the store and applies its pending migrations (the SQL store's are the database's own),
 * reporting the steps of a long one through `progress`.
 */
export async function openEventsStore(
  config: ClickHouseConfig | null,
  database: Database,
  progress?: MigrationProgress,
): Promise<OpenedEventsStore> {
  if (!config) return { store: new SqlEventsStore(database), applied: [] }
  const migrator = ClickHouse.open(config, { requestTimeoutMs: MIGRATION_TIMEOUT_MS })
  let applied: string[]
  try {
    applied = await migrateClickHouse(migrator, progress)
  } finally {
    await migrator.close()
  }
  return { store: new ClickHouseEventsStore(ClickHouse.open(config), config.insertIntervalMs), applied }
}
