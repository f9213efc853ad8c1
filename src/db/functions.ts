/**
 * SQL-level functions the filter language needs and SQLite lacks, with the semantics both engines
 * share: PostgreSQL gets the same rules as SQL (migration 006), SQLite gets these as user functions
 * registered on every connection. The regular expressions below are the one definition of what
 * counts as a number or a datetime in a property value; the PostgreSQL migration embeds their text.
 */
import type SQLite from 'better-sqlite3'

/** A plain decimal number as text ("12", "-3.5", ".5", "1e3"); no padding, no hex, no inf/nan. */
export const NUMERIC_TEXT = /^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/

/**
 * An ISO-8601 date or date-time as a property value: `YYYY-MM-DD`, optionally `T` or a space and
 * `HH:MM[:SS[.fff…]]`, optionally `Z` or `±HH[:MM]` (no zone means UTC).
 */
export const DATETIME_TEXT =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/

/** Text to a finite number, or null: the numeric reading of a property value. */
export function numericValue(text: string | null): number | null {
  if (text === null || !NUMERIC_TEXT.test(text)) return null
  const n = Number(text)
  // Out of float8's range both ways is no number, as PostgreSQL's cast refuses it (no ±Infinity,
  // no silent underflow to 0).
  if (!Number.isFinite(n)) return null
  if (n === 0 && /[1-9]/.test(text.split(/[eE]/)[0] as string)) return null
  return n
}

/** A datetime text to epoch milliseconds, or null when it is not a valid calendar datetime. */
export function datetimeValue(text: string | null): number | null {
  if (text === null) return null
  const m = DATETIME_TEXT.exec(text)
  if (!m) return null
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone = 'Z'] = m
  const year = Number(y)
  const month = Number(mo)
  const day = Number(d)
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return null
  if (year < 1) return null
  const ms = frac ? Math.floor(Number(`0${frac}`) * 1000) : 0
  let utc = Date.UTC(year, month - 1, day, Number(h), Number(mi), Number(s), ms)
  if (year < 100) utc = new Date(utc).setUTCFullYear(year)
  if (zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1
    const digits = zone.slice(1).replace(':', '')
    const hours = Number(digits.slice(0, 2))
    const minutes = Number(digits.slice(2) || '0')
    if (hours > 23 || minutes > 59) return null
    utc -= sign * (hours * 60 + minutes) * 60_000
  }
  return utc
}

function daysInMonth(year: number, month: number): number {
  return [
    31,
    year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28,
    31,
    30,
    31,
    30,
    31,
    31,
    30,
    31,
    30,
    31,
  ][month - 1] as number
}

/**
 * A filter's regular expression as JavaScript runs it: RE2's leading `(?i)` (PostHog's way to
 * ask for case-insensitivity) becomes the `i` flag. Throws on a pattern that does not compile.
 */
export function compileRegex(pattern: string): RegExp {
  const insensitive = pattern.startsWith('(?i)')
  return new RegExp(insensitive ? pattern.slice(4) : pattern, insensitive ? 'i' : '')
}

const REGEX_CACHE_SIZE = 256

/** Registers ph_num, ph_ts, ph_lower and regexp (for `X REGEXP Y`) on a SQLite connection. */
export function registerSqliteFunctions(sqlite: SQLite.Database): void {
  const regexes = new Map<string, RegExp | null>()
  const regexOf = (pattern: string) => {
    let re = regexes.get(pattern)
    if (re === undefined) {
      try {
        re = compileRegex(pattern)
      } catch {
        re = null
      }
      if (regexes.size >= REGEX_CACHE_SIZE) regexes.delete(regexes.keys().next().value as string)
      regexes.set(pattern, re)
    }
    return re
  }
  const options = { deterministic: true, directOnly: true }
  sqlite.function('ph_num', options, (text: unknown) =>
    typeof text === 'number' ? text : typeof text === 'string' ? numericValue(text) : null,
  )
  sqlite.function('ph_ts', options, (text: unknown) =>
    typeof text === 'string' ? datetimeValue(text) : null,
  )
  sqlite.function('ph_lower', options, (text: unknown) =>
    typeof text === 'string' ? text.toLowerCase() : text === null ? null : String(text).toLowerCase(),
  )
  sqlite.function('regexp', options, (pattern: unknown, text: unknown) => {
    if (typeof pattern !== 'string' || text === null || text === undefined) return null
    const re = regexOf(pattern)
    return re === null ? null : re.test(String(text)) ? 1 : 0
  })
}
