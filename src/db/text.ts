/**
 * Text both engines store as sent. PostgreSQL refuses NUL in text and jsonb and unpaired UTF-16
 * surrogates in jsonb (the query fails: a 500); SQLite stores an unpaired surrogate as bytes that
 * read back as three U+FFFD. Like PostHog's ingestion (its sanitizeString), both become U+FFFD.
 */

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** The first unpaired surrogate's code unit, if any. */
export function loneSurrogate(text: string): number | undefined {
  const match = LONE_SURROGATE.exec(text)
  return match ? match[0].charCodeAt(0) : undefined
}

/**
 * In JSON text: an escaped backslash (kept, so `\\u0000` stays literal text), an escaped surrogate
 * pair (kept), an escaped NUL or unpaired surrogate, or a raw unpaired surrogate.
 */
const JSON_UNSTORABLE =
  /\\\\|\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g
const MAYBE_UNSTORABLE = /\\u[0dD]|[\ud800-\udfff]/

/** JSON text whose strings (and keys) have NUL and unpaired surrogates replaced by U+FFFD. */
export function storableJson(text: string): string {
  if (!MAYBE_UNSTORABLE.test(text)) return text
  return text.replace(JSON_UNSTORABLE, (m) =>
    m.length === 2 || m.length === 12 ? m : m.length === 1 ? '\ufffd' : '\\ufffd',
  )
}

/** A JSON object (not null, not an array). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range is the fast path
const ASCII = /^[\x00-\x7f]*$/

/**
 * Case folding for search: each code point lowercased on its own, without context (unlike
 * toLowerCase of a whole string, which turns a final Σ into ς), so the fold of a substring is
 * always a substring of the fold of the text, which is what a search index needs to find every match.
 */
export function fold(text: string): string {
  if (ASCII.test(text)) return text.toLowerCase()
  let out = ''
  for (const ch of text) out += ch.toLowerCase()
  return out
}

/** A property value as the filter language's text P reads it; null when missing or JSON null. */
export function propertyText(value: unknown): string | null {
  if (value === undefined || value === null) return null
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return JSON.stringify(value)
}
