/**
 * Ordered, forward-only migrations; one runner for the CLI, the server and the tests.
 * The whole run is one transaction holding a cross-process lock (an advisory lock on PostgreSQL,
 * the write lock on SQLite), so several processes starting at once apply each migration once.
 */
import { sql } from 'kysely'
import { type Database, type Executor, nowIso } from './database.ts'
import type { Engine } from './dialect.ts'
import { migrations } from './migrations/index.ts'

export interface Migration {
  name: string
  up(db: Executor, engine: Engine): Promise<void>
}

/** Arbitrary constant naming groupd's migration lock among the database's advisory locks. */
const MIGRATION_LOCK_ID = 4_720_117

/** Applies the migrations not applied yet (`list`: a prefix of them, for upgrade tests). */
export async function migrate(database: Database, list: Migration[] = migrations): Promise<string[]> {
  return database.transaction(async (tx) => {
    if (database.engine === 'postgres') {
      await sql`select pg_advisory_xact_lock(${MIGRATION_LOCK_ID})`.execute(tx)
      // A migration rebuilds indexes and backfills columns of whole tables: no query timeout.
      await sql`set local statement_timeout = 0`.execute(tx)
    }
    await tx.schema
      .createTable('groupd_migrations')
      .ifNotExists()
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('applied_at', 'text', (c) => c.notNull())
      .execute()
    const applied = new Set(
      (await tx.selectFrom('groupd_migrations').select('name').execute()).map((r) => r.name),
    )
    const ran: string[] = []
    for (const migration of list) {
      if (applied.has(migration.name)) continue
      await migration.up(tx, database.engine)
      await tx
        .insertInto('groupd_migrations')
        .values({ name: migration.name, applied_at: nowIso() })
        .execute()
      ran.push(migration.name)
    }
    return ran
  })
}
