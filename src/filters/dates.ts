/**
 * Relative dates in filter values, as PostHog writes them: `-7d`, `-2w`, `-1m` (months), `-30M`
 * (minutes), `-6h`, `-1q`, `-1y`, resolved against the request's one `now` in UTC.
 */

export const DAY_MS = 86_400_000

const RELATIVE = /^-(\d{1,6})([hdwmqyM])$/

/** Epoch ms of a relative date, or null when the text is not one. */
export function resolveDate(text: string, now: number): number | null {
  const m = RELATIVE.exec(text)
  if (!m) return null
  const n = Number(m[1])
  const unit = m[2] as string
  const date = new Date(now)
  switch (unit) {
    case 'M':
      return now - n * 60_000
    case 'h':
      return now - n * 3_600_000
    case 'd':
      return now - n * DAY_MS
    case 'w':
      return now - n * 7 * DAY_MS
    default: {
      const months = unit === 'm' ? n : unit === 'q' ? 3 * n : 12 * n
      const day = date.getUTCDate()
      date.setUTCDate(1)
      date.setUTCMonth(date.getUTCMonth() - months)
      // The same day of the month, or the month's last day (Mar 31 − 1m = Feb 28/29).
      const last = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 0)).getUTCDate()
      date.setUTCDate(Math.min(day, last))
      return date.getTime()
    }
  }
}
