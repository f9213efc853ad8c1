import { type Expression, type Kysely, sql } from 'kysely'
import type { Migration } from '../migrate.ts'

/** The counters table; also created in the SQLite side file (see rate-limit/store.ts). */
// biome-ignore lint/suspicious/noExplicitAny: the DDL runs on the main database and on the side file
export async function createRateLimitTable(db: Kysely<any>, modifier?: Expression<unknown>): Promise<void> {
  let builder = db.schema
    .createTable('rate_limits')
    .ifNotExists()
    .addColumn('key_id', 'text', (c) => c.primaryKey())
    .addColumn('minute_start', 'bigint', (c) => c.notNull())
    .addColumn('minute_count', 'integer', (c) => c.notNull())
    .addColumn('hour_start', 'bigint', (c) => c.notNull())
    .addColumn('hour_count', 'integer', (c) => c.notNull())
  if (modifier) builder = builder.modifyFront(modifier)
  await builder.execute()
}

/**
 * Rate-limit counters on PostgreSQL, shared by every groupd process. UNLOGGED: they are written on
 * every request and need no crash safety. SQLite keeps them in a side file instead, so counting
 * never contends with (or fsyncs like) real writes.
 */
export const m005RateLimits: Migration = {
  name: '005-rate-limits',
  async up(db, engine) {
    if (engine === 'postgres') await createRateLimitTable(db, sql`unlogged`)
  },
}
