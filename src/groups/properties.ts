/**
 * What the filter builder's autocomplete asks about group properties (wave-3 notes §3): the keys
 * of each group type with how many groups have them, and a key's most common values.
 */
import { type RawBuilder, sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { GROUP_ROW } from '../filters/sql.ts'
import { postgresDialect } from '../filters/sql-postgres.ts'
import { sqliteDialect } from '../filters/sql-sqlite.ts'

/** PostHog's limit on property values. */
export const PROPERTY_VALUES_LIMIT = 20

export interface NameCount {
  name: string
  count: number
}

const DIALECTS = { postgres: postgresDialect(GROUP_ROW), sqlite: sqliteDialect(GROUP_ROW) }

/** Text in code point order, whatever PostgreSQL's collation. */
const binary = (database: Database, text: RawBuilder<unknown>) =>
  database.engine === 'postgres' ? sql`${text} COLLATE "C"` : text

/**
 * A property's values (the filter language's text: numbers and booleans as text) over the
 * type's groups, most common first (ties by value), with how many groups hold each; `contains`
 * keeps values containing it, case-insensitively and literally.
 */
export async function propertyValues(
  database: Database,
  projectId: number,
  index: number,
  key: string,
  contains: string | undefined,
): Promise<NameCount[]> {
  const dialect = DIALECTS[database.engine]
  const text = dialect.text({ source: 'group', index, key })
  const filter = contains ? sql`AND ${dialect.containsInsensitive(text, contains)}` : sql``
  const { rows } = await sql<NameCount>`
    /* groupd:group-property-values */
    SELECT ${binary(database, text)} AS name, COUNT(*) AS count FROM groups g
    WHERE g.project_id = ${projectId} AND g.group_type_index = ${index} AND ${text} IS NOT NULL ${filter}
    GROUP BY 1 ORDER BY 2 DESC, 1 ASC LIMIT ${PROPERTY_VALUES_LIMIT}`.execute(database.reads)
  return rows.map((r) => ({ name: String(r.name), count: Number(r.count) }))
}

/** Each group type's property keys with how many of its groups have them, most common first. */
export async function propertyDefinitions(
  database: Database,
  projectId: number,
): Promise<Record<string, NameCount[]>> {
  const keys =
    database.engine === 'postgres'
      ? sql`jsonb_object_keys(g.group_properties) AS k(key)`
      : sql`json_each(g.group_properties) AS k`
  const { rows } = await sql<{ group_type_index: number; name: string; count: number }>`
    /* groupd:group-property-definitions */
    SELECT g.group_type_index, ${binary(database, sql.ref('k.key'))} AS name, COUNT(*) AS count
    FROM groups g, ${keys}
    WHERE g.project_id = ${projectId}
    GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2`.execute(database.reads)
  const out: Record<string, NameCount[]> = {}
  for (const row of rows) {
    const type = String(row.group_type_index)
    const list = out[type] ?? []
    list.push({ name: row.name, count: Number(row.count) })
    out[type] = list
  }
  return out
}
