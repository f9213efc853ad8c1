/**
 * Query parameters as Django's `request.GET.get` reads them: one string per key, the last one when
 * a key repeats. A NUL (`%00`) becomes U+FFFD, as capture stores it: PostgreSQL refuses NUL in a
 * query parameter (a 500).
 */
export function queryParams(query: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    const last = Array.isArray(value) ? value.at(-1) : value
    if (typeof last === 'string') out[key] = last.replaceAll('\u0000', '\ufffd')
  }
  return out
}
