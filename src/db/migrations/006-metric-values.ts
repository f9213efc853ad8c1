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
    // The cast can still fail (beyond float8's range): only then is the exception block entered.
    await sql
      .raw(`
      CREATE FUNCTION groupd_float8(t text) RETURNS float8 LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
      BEGIN
        RETURN t::float8;
      EXCEPTION WHEN others THEN
        RETURN NULL;
      END $$;
      CREATE FUNCTION groupd_num(t text) RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT CASE WHEN t ~ '${numeric}' THEN groupd_float8(t) END
      $$;
      CREATE FUNCTION groupd_ts(t text) RETURNS timestamptz LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
      DECLARE
        m text[];
        y int; mo int; d int; h int; mi int; s int; frac numeric; off_minutes int := 0;
      BEGIN
        m := regexp_match(t, '${datetime}');
        IF m IS NULL THEN RETURN NULL; END IF;
        y := m[1]::int; mo := m[2]::int; d := m[3]::int;
        h := coalesce(m[4], '0')::int; mi := coalesce(m[5], '0')::int; s := coalesce(m[6], '0')::int;
        IF y < 1 OR mo < 1 OR mo > 12 OR d < 1 OR h > 23 OR mi > 59 OR s > 59 THEN RETURN NULL; END IF;
        IF d > extract(day FROM make_date(y, mo, 1) + interval '1 month - 1 day') THEN RETURN NULL; END IF;
        frac := floor(coalesce(('0' || m[7])::numeric, 0) * 1000) / 1000;
        IF m[8] IS NOT NULL AND m[8] <> 'Z' THEN
          IF substr(replace(m[8], ':', ''), 2, 2)::int > 23 OR coalesce(nullif(substr(replace(m[8], ':', ''), 4, 2), ''), '0')::int > 59 THEN
            RETURN NULL;
          END IF;
          off_minutes := (CASE WHEN left(m[8], 1) = '-' THEN -1 ELSE 1 END) *
            (substr(replace(m[8], ':', ''), 2, 2)::int * 60 + coalesce(nullif(substr(replace(m[8], ':', ''), 4, 2), ''), '0')::int);
        END IF;
        RETURN make_timestamptz(y, mo, d, h, mi, s + frac, 'UTC') - make_interval(mins => off_minutes);
      END $$;
    `)
      .execute(db)
  },
}
