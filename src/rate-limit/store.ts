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

/** Keys per statement when adding many keys' counts at once. */
const HITS_PER_STATEMENT = 500

/**
 * Adds each key's count in one upsert per HITS_PER_STATEMENT keys and returns both windows of each
 * key as they stand after it. Rows go in key order, so concurrent flushes lock them in one order.
 */
export async function hitMany(
  db: Kysely<DB>,
  hits: { keyId: string; n: number }[],
  now: number,
): Promise<Map<string, Counts>> {
  const sorted = [...hits].sort((a, b) => (a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0))
  const counts = new Map<string, Counts>()
  for (let i = 0; i < sorted.length; i += HITS_PER_STATEMENT) {
    const rows = await db
      .insertInto('rate_limits')
      .values(
        sorted.slice(i, i + HITS_PER_STATEMENT).map(({ keyId, n }) => ({
          key_id: keyId,
          minute_start: now,
          minute_count: n,
          hour_start: now,
          hour_count: n,
        })),
      )
      .onConflict((oc) =>
        oc.column('key_id').doUpdateSet({
          minute_count: sql`case when ${now} - rate_limits.minute_start < ${MINUTE_MS} then rate_limits.minute_count + excluded.minute_count else excluded.minute_count end`,
          minute_start: sql`case when ${now} - rate_limits.minute_start < ${MINUTE_MS} then rate_limits.minute_start else ${now} end`,
          hour_count: sql`case when ${now} - rate_limits.hour_start < ${HOUR_MS} then rate_limits.hour_count + excluded.hour_count else excluded.hour_count end`,
          hour_start: sql`case when ${now} - rate_limits.hour_start < ${HOUR_MS} then rate_limits.hour_start else ${now} end`,
        }),
      )
      .returning(['key_id', 'minute_start', 'minute_count', 'hour_start', 'hour_count'])
      .execute()
    for (const row of rows) {
      counts.set(row.key_id, {
        minute_start: Number(row.minute_start),
        minute_count: Number(row.minute_count),
        hour_start: Number(row.hour_start),
        hour_count: Number(row.hour_count),
      })
    }
  }
  return counts
}

/** Counts `n` requests of one key and returns both windows as they stand after them. */
export async function hit(db: Kysely<DB>, keyId: string, now: number, n = 1): Promise<Counts> {
  const counts = (await hitMany(db, [{ keyId, n }], now)).get(keyId)
  if (!counts) throw new Error('rate limit upsert returned no row')
  return counts
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
