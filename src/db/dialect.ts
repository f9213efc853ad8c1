/**
 * Everything that differs between PostgreSQL and SQLite lives here, each with its reason.
 */
import type { ColumnDataType, SelectQueryBuilder } from 'kysely'
import type pg from 'pg'

export type Engine = 'postgres' | 'sqlite'

/** Column types for migrations, so both engines get the same logical schema. */
export function columnTypes(engine: Engine) {
  const postgres = engine === 'postgres'
  return {
    // SQLite needs INTEGER PRIMARY KEY AUTOINCREMENT; PostgreSQL has identity columns.
    serial: (postgres ? 'serial' : 'integer') as ColumnDataType,
    // jsonb validates and indexes in PostgreSQL; SQLite stores JSON as text.
    json: (postgres ? 'jsonb' : 'text') as ColumnDataType,
    // timestamptz keeps the instant in PostgreSQL; SQLite compares ISO-8601 UTC text correctly.
    timestamp: (postgres ? 'timestamptz' : 'text') as ColumnDataType,
  }
}

/**
 * pg type parsers that make PostgreSQL rows look like better-sqlite3 rows: int8 and numeric as
 * numbers (counts and ids fit in 2^53), timestamps as ISO strings, JSON as raw text, booleans 0/1.
 */
export function pgTypes(pg: typeof import('pg').default): pg.CustomTypesConfig {
  const parseDate = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ) as (v: string) => Date
  const parsers: Record<number, (v: string) => unknown> = {
    [pg.types.builtins.INT8]: Number,
    [pg.types.builtins.NUMERIC]: Number,
    [pg.types.builtins.TIMESTAMPTZ]: (v) => parseDate(v).toISOString(),
    [pg.types.builtins.JSONB]: (v) => v,
    [pg.types.builtins.JSON]: (v) => v,
    [pg.types.builtins.BOOL]: (v) => (v === 't' ? 1 : 0),
  }
  return {
    getTypeParser: ((oid: number, format?: string) =>
      parsers[oid] ?? pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
  }
}

/**
 * Row locks for read-modify-write transactions. PostgreSQL needs FOR UPDATE; SQLite write
 * transactions start with BEGIN IMMEDIATE and so already hold the database's single write lock.
 */
export function forUpdate<DB, TB extends keyof DB, O>(
  engine: Engine,
  query: SelectQueryBuilder<DB, TB, O>,
): SelectQueryBuilder<DB, TB, O> {
  return engine === 'postgres' ? query.forUpdate() : query
}
