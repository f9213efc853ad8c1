/**
 * PostgreSQL fragments of the filter language: jsonb `->>` for a property's text (keys bound as
 * parameters), groupd_num / groupd_ts (migration 006) for numbers and datetimes, strpos over lower()
 * for a literal case-insensitive substring, `~` for regexes, COLLATE "C" for code-point order.
 */
import { sql } from 'kysely'
import type { RowSources, SqlDialect } from './sql.ts'

const iso = (ms: number) => new Date(ms).toISOString()

/** The PostgreSQL dialect over a row whose fields `sources` names. */
export const postgresDialect = (sources: RowSources): SqlDialect => ({
  text(field) {
    if (field.source !== 'column') return sql`(${sources.properties(field)} ->> ${field.key}::text)`
    if (field.column === 'timestamp')
      return sql`to_char(${sources.column('timestamp')} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
    return sources.column(field.column)
  },
  number(field) {
    if (field.source === 'column') return sql`groupd_num(${this.text(field)})`
    const json = sources.properties(field)
    return sql`(CASE jsonb_typeof(${json} -> ${field.key}::text) WHEN 'number' THEN (${json} ->> ${field.key}::text)::float8 WHEN 'string' THEN groupd_num(${json} ->> ${field.key}::text) END)`
  },
  dateCompare(field, cmp, at) {
    const value =
      field.source === 'column' && field.column === 'timestamp'
        ? sources.column('timestamp')
        : sql`groupd_ts(${this.text(field)})`
    return sql`(${value} ${sql.raw(cmp)} ${iso(at)}::timestamptz)`
  },
  containsInsensitive(text, needle) {
    return sql`(strpos(lower(${text}), lower(${needle}::text)) > 0)`
  },
  regex(text, pattern) {
    return sql`(${text} ~ ${pattern}::text)`
  },
  textCompare(text, cmp, value) {
    return sql`(${text} COLLATE "C" ${sql.raw(cmp)} ${value}::text)`
  },
})
