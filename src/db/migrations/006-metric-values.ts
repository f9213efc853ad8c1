import { sql } from 'kysely'
import { columnTypes } from '../dialect.ts'
import { DATETIME_TEXT, NUMERIC_TEXT } from '../functions.ts'
import type { Migration } from '../migrate.ts'

/** PostHog's default test-account filter for a new project: events not sent from a local host. */
export const DEFAULT_TEST_ACCOUNT_FILTERS = [
  { key: '$host', operator: 'not_regex', value: '^(localhost|127\\.0\\.0\\.1)($|:)', type: 'event' },
]

/**
 * Metric values: each project's test-account filters, and on PostgreSQL the functions that read a
 * property as a number or a datetime with the same rules as SQLite's user functions
 * (db/functions.ts): NULL, never an error, for text that is not one. The events indexes of 004
 * (project, group_N, timestamp) already serve the per-group window scans.
 */
export const m006MetricValues: Migration = {
  name: '006-metric-values',
  async up(db, engine) {
    const t = columnTypes(engine)
    const defaults = JSON.stringify(DEFAULT_TEST_ACCOUNT_FILTERS).replace(/'/g, "''")
    await db.schema
      .alterTable('projects')
      .addColumn('test_account_filters', t.json, (c) => c.notNull().defaultTo(sql.raw(`'${defaults}'`)))
      .execute()
    if (engine !== 'postgres') return
    const numeric = NUMERIC_TEXT.source.replace(/'/g, "''")
    const datetime = DATETIME_TEXT.source.replace(/'/g, "''")
    // Plain SQL (inlined into queries, parallel safe, no exception blocks): the patterns admit
    // only text whose cast cannot fail, and the remaining range checks are arithmetic.
    await sql
      .raw(`
      CREATE FUNCTION groupd_num(t text) RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT CASE WHEN t ~ '${numeric}' THEN
          CASE WHEN t::numeric = 0 THEN 0::float8
               WHEN abs(t::numeric) BETWEEN 2.2250738585072014e-308 AND 1.7976931348623157e308 THEN t::numeric::float8
          END
        END
      $$;
      CREATE FUNCTION groupd_ts(t text) RETURNS timestamptz LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT CASE WHEN t ~ '${datetime}' AND substr(t, 1, 4) <> '0000'
            AND substr(t, 9, 2)::int <= extract(day FROM (substr(t, 1, 7) || '-01')::date + interval '1 month - 1 day')
          THEN date_trunc('milliseconds', CASE
            WHEN length(t) > 10 AND t ~ '(Z|[+-][0-9]{2}(:?[0-9]{2})?)$' THEN t::timestamptz
            ELSE t::timestamp AT TIME ZONE 'UTC'
          END)
        END
      $$;
    `)
      .execute(db)
  },
}
