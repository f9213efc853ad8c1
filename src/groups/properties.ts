/**
 * What the filter builder's autocomplete asks about group properties (wave-3 notes §3): the keys
 * of each group type with how many groups have them, and a key's most common values.
 */
import { type RawBuilder, sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { GROUP_ROW } from '../filters/sql.ts'
import { postgresDialect } from '../filters/sql-postgres.ts'
import { sqliteDialect } from '../filters/sql-sqlite.ts'
import { valuesCounted } from './population.ts'

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
  const counted = await valuesOf(database, projectId, index, key, contains, COUNTED)
  if (await valuesCounted(database, projectId, index, key)) return counted
  return propertyValuesScan(database, projectId, index, key, contains)
}

/** propertyValues read from every group (the answer when the key's values are not counted). */
export function propertyValuesScan(
  database: Database,
  projectId: number,
  index: number,
  key: string,
  contains: string | undefined,
): Promise<NameCount[]> {
  return valuesOf(database, projectId, index, key, contains, GROUPS)
}

/** Where values are read from: every group, or the population counts (groups/counts.ts). */
interface Source {
  from: RawBuilder<unknown>
  count: RawBuilder<unknown>
  key: (key: string) => RawBuilder<unknown>
}
const GROUPS: Source = { from: sql`groups g`, count: sql`COUNT(*)`, key: () => sql`1 = 1` }
const COUNTED: Source = {
  from: sql`(SELECT project_id, group_type_index, key, properties AS group_properties, groups FROM group_property_values) g`,
  count: sql`SUM(g.groups)`,
  key: (key) => sql`g.key = ${key}`,
}

async function valuesOf(
  database: Database,
  projectId: number,
  index: number,
  key: string,
  contains: string | undefined,
  source: Source,
): Promise<NameCount[]> {
  const dialect = DIALECTS[database.engine]
  const text = dialect.text({ source: 'group', index, key })
  const filter = contains ? sql`AND ${dialect.containsInsensitive(text, contains)}` : sql``
  const { rows } = await sql<NameCount>`
    /* groupd:group-property-values */
    SELECT ${binary(database, text)} AS name, ${source.count} AS count FROM ${source.from}
    WHERE g.project_id = ${projectId} AND g.group_type_index = ${index} AND ${source.key(key)}
      AND ${text} IS NOT NULL ${filter}
    GROUP BY 1 ORDER BY 2 DESC, 1 ASC LIMIT ${PROPERTY_VALUES_LIMIT}`.execute(database.reads)
  return rows.map((r) => ({ name: String(r.name), count: Number(r.count) }))
}

/**
 * Each group type's property keys with how many of its groups have them (null values included),
 * most common first, from the population counts (groups/counts.ts).
 */
export async function propertyDefinitions(
  database: Database,
  projectId: number,
): Promise<Record<string, NameCount[]>> {
  const { rows } = await sql<{ group_type_index: number; name: string; count: number }>`
    /* groupd:group-property-definitions */
    SELECT k.group_type_index, k.key AS name, k.groups AS count FROM group_property_keys k
    WHERE k.project_id = ${projectId} AND k.groups > 0
    ORDER BY 1, 3 DESC, ${binary(database, sql.ref('k.key'))}`.execute(database.reads)
  const out: Record<string, NameCount[]> = {}
  for (const row of rows) {
    const type = String(row.group_type_index)
    const list = out[type] ?? []
    list.push({ name: row.name, count: Number(row.count) })
    out[type] = list
  }
  return out
}
