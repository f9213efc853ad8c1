/**
 * SQL-level functions the filter language needs and SQLite lacks, with the semantics both engines
 * share: PostgreSQL gets the same rules as SQL (migration 006), SQLite gets these as user functions
 * registered on every connection. The regular expressions below are the one definition of what
 * counts as a number or a datetime in a property value; the PostgreSQL migration embeds their text.
 */
import type SQLite from 'better-sqlite3'

/**
 * A plain decimal number as text ("12", "-3.5", ".5", "1e3"); no padding, no hex, no inf/nan. The
 * digit counts are bounded (255: PostgreSQL's regex limit) so that its numeric cast of a match never fails.
 */
export const NUMERIC_TEXT = /^-?(\d{1,255}(\.\d{0,255})?|\.\d{1,255})([eE][-+]?\d{1,3})?$/

/** Smallest normal float8: a non-zero number closer to 0 is out of range for PostgreSQL. */
const MIN_NORMAL = 2.2250738585072014e-308

/**
 * An ISO-8601 date or date-time as a property value: `YYYY-MM-DD`, optionally `T` or a space and
 * `HH:MM[:SS[.fff…]]`, optionally `Z` or `±HH[:MM]` (no zone means UTC). Each field is within its
 * range; only the day of the month is checked beyond the pattern.
 */
export const DATETIME_TEXT =
  /^(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(?:[T ]([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(\.\d{1,6})?)?(Z|[+-](?:[01]\d|2[0-3])(?::?[0-5]\d)?)?)?$/

/** Text to a finite number, or null: the numeric reading of a property value. */
export function numericValue(text: string | null): number | null {
  if (text === null || !NUMERIC_TEXT.test(text)) return null
  const n = Number(text)
  // Outside float8's normal range is no number, as PostgreSQL's cast refuses it (no ±Infinity,
  // no silent underflow).
  if (!Number.isFinite(n) || (n !== 0 && Math.abs(n) < MIN_NORMAL)) return null
  if (n === 0) return /[1-9]/.test(text.split(/[eE]/)[0] as string) ? null : 0
  return n
}

/** A datetime text to epoch milliseconds (truncated), or null when it is not a valid calendar datetime. */
export function datetimeValue(text: string | null): number | null {
  if (text === null) return null
  const m = DATETIME_TEXT.exec(text)
  if (!m) return null
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone = 'Z'] = m
  const year = Number(y)
  const month = Number(mo)
  const day = Number(d)
  if (year < 1 || day > daysInMonth(year, month)) return null
  const ms = frac ? Math.floor(Number(`0${frac}`) * 1000) : 0
  const date = new Date(Date.UTC(2000, month - 1, day, Number(h), Number(mi), Number(s), ms))
  date.setUTCFullYear(year)
  let utc = date.getTime()
  if (zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1
    const digits = zone.slice(1).replace(':', '')
    utc -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0')) * 60_000
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
