/**
 * PostHog's personal-API-key throttles: a burst rate per minute and a sustained rate per hour,
 * one budget per key across every groupd process sharing the database.
 *
 * Below half of a key's budget, requests are counted in process and the counts are added to the
 * shared store in batches: every FLUSH_INTERVAL_MS, or at once when a key has `batch` (1% of its
 * smaller limit, at least 1) uncounted hits, in which case the request waits for that flush. From
 * half the budget on, each request is counted in the shared store before it is let through and
 * decided on the totals that returns; only other processes' uncounted hits (at most `batch` each)
 * are unseen, so with P processes a key can get about (P − 1) × batch requests beyond its limit
 * (README: Rate limits).
 */
import type { Kysely } from 'kysely'
import type { RateLimitConfig } from '../config.ts'
import type { DB } from '../db/schema.ts'
import { type Counts, HOUR_MS, hit, hitMany, MINUTE_MS } from './store.ts'

/**
 * A batch flush writes a row per key with uncounted hits: at 100 ms most rows carried one hit (1,000
 * busy keys cost the shared store as much as counting each request). The tolerance across processes
 * depends on `batch`, not on this.
 */
export const FLUSH_INTERVAL_MS = 500

/** A request over the limit; the HTTP layer renders it (PostHog's 429). */
export class RateLimited extends Error {
  constructor(readonly waitSeconds: number) {
    super(`rate limited for ${waitSeconds} s`)
  }
}

interface KeyState extends Counts {
  /** Hits counted here and not yet added to the shared store. */
  pending: number
  flushing?: Promise<void>
}

export class RateLimiter {
  private readonly keys = new Map<string, KeyState>()
  private readonly batch: number
  private timer: NodeJS.Timeout | undefined
  private store: Promise<Kysely<DB>> | undefined

  constructor(
    /** Opens the shared store, on first use. */
    private readonly open: () => Promise<Kysely<DB>>,
    readonly config: RateLimitConfig,
  ) {
    this.batch = Math.max(1, Math.floor(Math.min(config.burst, config.sustained) / 100))
  }

  /**
   * Counts a request by this key; rejects with RateLimited when it is over either limit. Runs on
   * every authenticated request: with limiting off it returns undefined, not a promise.
   */
  check(keyId: string, now = Date.now()): Promise<void> | undefined {
    return this.config.enabled ? this.count(keyId, now) : undefined
  }

  private async count(keyId: string, now: number): Promise<void> {
    let state = this.keys.get(keyId)
    if (!state) {
      state = { minute_start: now, minute_count: 0, hour_start: now, hour_count: 0, pending: 0 }
      this.keys.set(keyId, state)
    }
    while (state.pending >= this.batch) await this.flush(keyId, state, now)
    // Windows the shared store has not rolled yet roll here; the next flush brings its view.
    if (now - state.minute_start >= MINUTE_MS) Object.assign(state, { minute_start: now, minute_count: 0 })
    if (now - state.hour_start >= HOUR_MS) Object.assign(state, { hour_start: now, hour_count: 0 })
    // Refused requests do not count.
    let waitMs = this.waitMs(state, state.pending + 1, now)
    if (waitMs === 0 && this.pastHalf(state)) {
      // Near the limit, this request is counted in the shared store before it is let through.
      Object.assign(state, await hit(await this.counters(), keyId, now))
      waitMs = this.waitMs(state, state.pending, now)
    } else if (waitMs === 0) {
      state.pending++
      this.timer ??= setTimeout(() => void this.flushAll(), FLUSH_INTERVAL_MS).unref()
    }
    if (waitMs > 0) throw new RateLimited(Math.max(1, Math.ceil(waitMs / 1000)))
  }

  private counters(): Promise<Kysely<DB>> {
    this.store ??= this.open()
    return this.store
  }

  /** How long until `used` more requests fit in both windows (0: they fit now). */
  private waitMs(state: KeyState, used: number, now: number): number {
    let waitMs = 0
    if (state.minute_count + used > this.config.burst)
      waitMs = Math.max(waitMs, state.minute_start + MINUTE_MS - now)
    if (state.hour_count + used > this.config.sustained)
      waitMs = Math.max(waitMs, state.hour_start + HOUR_MS - now)
    return waitMs
  }

  private pastHalf(state: KeyState): boolean {
    const used = state.pending + 1
    return (
      2 * (state.minute_count + used) > this.config.burst ||
      2 * (state.hour_count + used) > this.config.sustained
    )
  }

  /** Waits for the key's flush in flight, or starts one. */
  private flush(keyId: string, state: KeyState, now = Date.now()): Promise<void> {
    return state.flushing ?? this.flushKeys([[keyId, state]], now)
  }

  /** Adds the keys' uncounted hits to the shared store in one statement per few hundred keys. */
  private flushKeys(keys: [string, KeyState][], now: number): Promise<void> {
    const batch = keys.map(([keyId, state]) => ({ keyId, state, n: state.pending }))
    for (const entry of batch) entry.state.pending = 0
    let flushing: Promise<void> | undefined
    flushing = (async () => {
      try {
        const counts = await hitMany(await this.counters(), batch, now)
        for (const { keyId, state } of batch) Object.assign(state, counts.get(keyId))
      } catch (error) {
        for (const entry of batch) entry.state.pending += entry.n
        throw error
      } finally {
        for (const { state } of batch) if (state.flushing === flushing) state.flushing = undefined
      }
    })()
    for (const { state } of batch) state.flushing = flushing
    return flushing
  }

  /** Adds every key's uncounted hits to the shared store; forgets keys idle for an hour. */
  async flushAll(): Promise<void> {
    this.timer = undefined
    const now = Date.now()
    const due: [string, KeyState][] = []
    for (const [keyId, state] of this.keys) {
      if (state.flushing) continue
      if (state.pending > 0) due.push([keyId, state])
      else if (now - state.hour_start >= HOUR_MS) this.keys.delete(keyId)
    }
    const failed = await (due.length
      ? this.flushKeys(due, now).then(
          () => false,
          () => true,
        )
      : false)
    // Counts that could not be written (database down), or of keys busy flushing, wait for the next round.
    const left = failed || [...this.keys.values()].some((state) => state.pending > 0)
    if (left) this.timer ??= setTimeout(() => void this.flushAll(), FLUSH_INTERVAL_MS).unref()
  }

  async close(): Promise<void> {
    clearTimeout(this.timer)
    await this.flushAll().catch(() => {})
    clearTimeout(this.timer)
  }
}
