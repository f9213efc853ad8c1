/**
 * SQLite fragments of the filter language: json_type / json_extract / `->` with a bound JSON path
 * for a property's text (numbers as written, true/false as text, like PostgreSQL's `->>`), and the
 * user functions of db/functions.ts (ph_num, ph_ts, ph_lower, regexp) where SQLite has none.
 */
import { sql } from 'kysely'
import type { RowSources, SqlDialect } from './sql.ts'

/** A top-level key as a JSON path; the key is quoted, so dots and brackets in it are literal. */
export function jsonPath(key: string): string {
  return `$."${key.replace(/["\\]/g, '\\$&')}"`
}

/** The SQLite dialect over a row whose fields `sources` names. */
export const sqliteDialect = (sources: RowSources): SqlDialect => ({
  text(field) {
    if (field.source === 'column') return sources.column(field.column)
    const json = sources.properties(field)
    const path = jsonPath(field.key)
    // `->` gives JSON text (a number as written); a string needs json_extract to lose its quotes.
    return sql`(CASE json_type(${json}, ${path}) WHEN 'null' THEN NULL WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'text' THEN json_extract(${json}, ${path}) ELSE ${json} -> ${path} END)`
  },
  number(field) {
    if (field.source === 'column') return sql`ph_num(${sources.column(field.column)})`
    const json = sources.properties(field)
    const path = jsonPath(field.key)
    return sql`(CASE json_type(${json}, ${path}) WHEN 'integer' THEN json_extract(${json}, ${path}) WHEN 'real' THEN json_extract(${json}, ${path}) WHEN 'text' THEN ph_num(json_extract(${json}, ${path})) END)`
  },
  dateCompare(field, cmp, at) {
    // Stored event times are ISO-8601 UTC text with milliseconds, which order as text.
    if (field.source === 'column' && field.column === 'timestamp')
      return sql`(${sources.column('timestamp')} ${sql.raw(cmp)} ${new Date(at).toISOString()})`
    return sql`(ph_ts(${this.text(field)}) ${sql.raw(cmp)} ${at})`
  },
  containsInsensitive(text, needle) {
    return sql`(instr(ph_lower(${text}), ${needle.toLowerCase()}) > 0)`
  },
  regex(text, pattern) {
    return sql`(${text} REGEXP ${pattern})`
  },
  textCompare(text, cmp, value) {
    return sql`(${text} ${sql.raw(cmp)} ${value})`
  },
})
