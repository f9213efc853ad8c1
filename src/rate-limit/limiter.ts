/** PostHog's personal-API-key throttles: a burst rate per minute and a sustained rate per hour. */
import type { Kysely } from 'kysely'
import type { DB } from '../db/schema.ts'
import { ApiError } from '../http/errors.ts'
import { HOUR_MS, hit, MINUTE_MS } from './store.ts'

export interface RateLimitConfig {
  enabled: boolean
  /** Requests per minute per key (PostHog: 480). */
  burst: number
  /** Requests per hour per key (PostHog: 4800). */
  sustained: number
}

/** DRF's Throttled: "Request was throttled. Expected available in N second(s)." */
export function throttled(waitSeconds: number): ApiError {
  const unit = waitSeconds === 1 ? 'second' : 'seconds'
  return new ApiError(
    'throttled',
    `Request was throttled. Expected available in ${waitSeconds} ${unit}.`,
    null,
    {
      'retry-after': String(waitSeconds),
    },
  )
}

export class RateLimiter {
  constructor(
    private readonly db: () => Promise<Kysely<DB>>,
    readonly config: RateLimitConfig,
  ) {}

  /** Counts a request by this key; throws 429 when it is over either limit. */
  async check(keyId: string, now = Date.now()): Promise<void> {
    if (!this.config.enabled) return
    const counts = await hit(await this.db(), keyId, now)
    let waitMs = 0
    if (counts.minute_count > this.config.burst)
      waitMs = Math.max(waitMs, counts.minute_start + MINUTE_MS - now)
    if (counts.hour_count > this.config.sustained)
      waitMs = Math.max(waitMs, counts.hour_start + HOUR_MS - now)
    if (waitMs > 0) throw throttled(Math.max(1, Math.ceil(waitMs / 1000)))
  }
}
