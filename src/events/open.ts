/** The events store chosen once at start from configuration: ClickHouse when configured, else SQL. */
import type { ClickHouseConfig } from '../config.ts'
import type { Database } from '../db/database.ts'
import { ClickHouse } from './clickhouse.ts'
import { migrateClickHouse } from './clickhouse-migrations.ts'
import { ClickHouseEventsStore } from './clickhouse-store.ts'
import { SqlEventsStore } from './sql-store.ts'
import type { EventsStore } from './store.ts'

export interface OpenedEventsStore {
  store: EventsStore
  /** ClickHouse migrations applied while opening. */
  applied: string[]
}

/** Opens the store and applies its pending migrations (the SQL store's are the database's own). */
export async function openEventsStore(
  config: ClickHouseConfig | null,
  database: Database,
): Promise<OpenedEventsStore> {
  if (!config) return { store: new SqlEventsStore(database), applied: [] }
  const clickhouse = ClickHouse.open(config)
  try {
    const applied = await migrateClickHouse(clickhouse)
    return { store: new ClickHouseEventsStore(clickhouse, config.insertIntervalMs), applied }
  } catch (error) {
    await clickhouse.close()
    throw error
  }
}
