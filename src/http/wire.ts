/** Value formats on PostHog's wire. */

/**
 * DRF's datetime format: `YYYY-MM-DDTHH:MM:SS.ffffffZ` (microseconds), fraction dropped when zero.
 * Storage keeps milliseconds.
 */
export function drfDateTime(iso: string | null): string | null {
  if (iso === null) return null
  const date = new Date(iso)
  const base = date.toISOString().slice(0, 19)
  const ms = date.getUTCMilliseconds()
  return ms === 0 ? `${base}Z` : `${base}.${String(ms).padStart(3, '0')}000Z`
}
