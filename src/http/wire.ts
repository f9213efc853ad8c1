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

/** Python's repr() of a JSON value, as PostHog's messages quote user input ('x', 5, None). */
export function pyRepr(value: unknown): string {
  if (typeof value === 'string') {
    const quote = value.includes("'") && !value.includes('"') ? '"' : "'"
    let body = value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')
    if (quote === "'") body = body.replace(/'/g, "\\'")
    return quote + body + quote
  }
  if (typeof value === 'boolean') return value ? 'True' : 'False'
  if (value === null || value === undefined) return 'None'
  return JSON.stringify(value)
}
