/**
 * Per-key request counters for two windows (burst: a minute, sustained: an hour), shared through
 * the database so several groupd processes enforce one budget. A window opens at a key's first
 * request after the previous one closed; one upsert counts the request in both windows.
 */
import { type Kysely, sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { createRateLimitTable } from '../db/migrations/005-rate-limits.ts'
import type { DB } from '../db/schema.ts'

export const MINUTE_MS = 60_000
export const HOUR_MS = 3_600_000

export interface Counts {
  minute_start: number
  minute_count: number
  hour_start: number
  hour_count: number
}

/** Counts `n` requests and returns both windows as they stand after them. */
export async function hit(db: Kysely<DB>, keyId: string, now: number, n = 1): Promise<Counts> {
  const row = await db
    .insertInto('rate_limits')
    .values({ key_id: keyId, minute_start: now, minute_count: n, hour_start: now, hour_count: n })
    .onConflict((oc) =>
      oc.column('key_id').doUpdateSet({
        minute_count: sql`case when ${now} - rate_limits.minute_start < ${MINUTE_MS} then rate_limits.minute_count + ${n} else ${n} end`,
        minute_start: sql`case when ${now} - rate_limits.minute_start < ${MINUTE_MS} then rate_limits.minute_start else ${now} end`,
        hour_count: sql`case when ${now} - rate_limits.hour_start < ${HOUR_MS} then rate_limits.hour_count + ${n} else ${n} end`,
        hour_start: sql`case when ${now} - rate_limits.hour_start < ${HOUR_MS} then rate_limits.hour_start else ${now} end`,
      }),
    )
    .returning(['minute_start', 'minute_count', 'hour_start', 'hour_count'])
    .executeTakeFirstOrThrow()
  return {
    minute_start: Number(row.minute_start),
    minute_count: Number(row.minute_count),
    hour_start: Number(row.hour_start),
    hour_count: Number(row.hour_count),
  }
}

/**
 * Where the counters live: the main database on PostgreSQL (an UNLOGGED table, migration 005), a
 * side file next to the embedded database, so counting never waits for its write lock or fsync.
 */
export async function counterStore(database: Database): Promise<Kysely<DB>> {
  const db = database.sideFile('ratelimit')
  if (db !== database.db) await createRateLimitTable(db)
  return db
}
