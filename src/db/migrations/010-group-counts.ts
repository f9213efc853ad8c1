import { sql } from 'kysely'
import type { Executor } from '../database.ts'
import type { Engine } from '../dialect.ts'
import type { Migration } from '../migrate.ts'
import { fold, propertyText } from '../text.ts'

/** The bounds of value counting as this migration defines them (groups/counts.ts keeps them). */
const MAX_COUNTED_VALUES = 1000
const MAX_COUNTED_VALUE_JSON = 200
const BATCH = 1000

type Row = {
  id?: number
  project_id: number
  group_type_index: number
  group_key: string
  group_properties: string
}

/** Every existing group, in batches by primary key. */
async function* allGroups(db: Executor, engine: Engine): AsyncGenerator<Row[]> {
  let after: Row | null = null
  for (;;) {
    const from: Row | null = after
    const rows: Row[] = await db
      .selectFrom('groups')
      .select(['project_id', 'group_type_index', 'group_key', 'group_properties'])
      .$if(engine === 'sqlite', (q) => q.select(sql<number>`id`.as('id')))
      .$if(from !== null, (q) =>
        q.where(
          sql<boolean>`(project_id, group_type_index, group_key) > (${from?.project_id}, ${from?.group_type_index}, ${from?.group_key})`,
        ),
      )
      .orderBy('project_id')
      .orderBy('group_type_index')
      .orderBy('group_key')
      .limit(BATCH)
      .execute()
    if (rows.length === 0) return
    yield rows
    after = rows[rows.length - 1] as Row
  }
}

/**
 * Counts of each group type's population, kept by the write path (groups/counts.ts) so that the
 * questions the list asks most (how many groups, how many with plan = pro, the plan breakdown,
 * a property's common values, the property keys) read a few rows instead of every group:
 * groups per type, groups per property key, and groups per (key, value) while a key has at most
 * 1,000 distinct values of at most 200 characters of JSON (`values_counted`; once exceeded, the
 * key's values are no longer counted and those questions scan).
 * On SQLite the trigram index gets a second column, the folded key and display name, so
 * GroupsQuery's search (name or key) asks the index for exactly its matches; PostgreSQL gets a
 * trigram index over the same text.
 */
export const m010GroupCounts: Migration = {
  name: '010-group-counts',
  async up(db, engine) {
    const json = engine === 'postgres' ? 'jsonb' : 'text'
    const counter = engine === 'postgres' ? 'bigint' : 'integer'
    await sql`
      CREATE TABLE group_population (
        project_id integer NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        group_type_index integer NOT NULL,
        groups ${sql.raw(counter)} NOT NULL,
        PRIMARY KEY (project_id, group_type_index)
      )`.execute(db)
    await sql`
      CREATE TABLE group_property_keys (
        project_id integer NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        group_type_index integer NOT NULL,
        key text NOT NULL,
        groups ${sql.raw(counter)} NOT NULL,
        values_counted boolean NOT NULL,
        PRIMARY KEY (project_id, group_type_index, key)
      )`.execute(db)
    await sql`
      CREATE TABLE group_property_values (
        project_id integer NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        group_type_index integer NOT NULL,
        key text NOT NULL,
        value text NOT NULL,
        properties ${sql.raw(json)} NOT NULL,
        groups ${sql.raw(counter)} NOT NULL,
        PRIMARY KEY (project_id, group_type_index, key, value)
      )`.execute(db)

    if (engine === 'postgres') {
      const { rows } = await sql<{ schema: string }>`
        SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'pg_trgm'`.execute(db)
      const trgm = (rows[0] as { schema: string }).schema
      await sql`
        CREATE INDEX groups_name_search_idx ON groups USING gin
          ((key_fold || chr(10) || display_fold) ${sql.raw(`"${trgm.replace(/"/g, '""')}"`)}.gin_trgm_ops)`.execute(
        db,
      )
    } else {
      await sql`DROP TRIGGER groups_search_delete`.execute(db)
      await sql`DROP TABLE groups_search`.execute(db)
      await sql`
        CREATE VIRTUAL TABLE groups_search USING fts5
          (name, doc, content = '', contentless_delete = 1, tokenize = 'trigram case_sensitive 1')`.execute(
        db,
      )
      await sql`
        CREATE TRIGGER groups_search_delete AFTER DELETE ON groups
        BEGIN DELETE FROM groups_search WHERE rowid = old.id; END`.execute(db)
    }

    const population = new Map<string, number>()
    const keys = new Map<string, { groups: number; counted: boolean; values: Map<string, number> }>()
    for await (const rows of allGroups(db, engine)) {
      const search: ReturnType<typeof sql>[] = []
      for (const row of rows) {
        const type = `${row.project_id}\t${row.group_type_index}`
        population.set(type, (population.get(type) ?? 0) + 1)
        const properties = JSON.parse(row.group_properties) as Record<string, unknown>
        for (const [key, value] of Object.entries(properties)) {
          const id = `${type}\t${key}`
          const k = keys.get(id) ?? { groups: 0, counted: true, values: new Map<string, number>() }
          keys.set(id, k)
          k.groups += 1
          if (!k.counted) continue
          const text = JSON.stringify(value)
          k.values.set(text, (k.values.get(text) ?? 0) + 1)
          if (text.length > MAX_COUNTED_VALUE_JSON || k.values.size > MAX_COUNTED_VALUES) {
            k.counted = false
            k.values.clear()
          }
        }
        if (engine === 'sqlite') {
          const keyFold = fold(row.group_key)
          const displayFold = fold(propertyText(properties.name) ?? row.group_key)
          search.push(sql`(${row.id}, ${`${keyFold}\n${displayFold}`}, ${fold(row.group_properties)})`)
        }
      }
      if (search.length > 0)
        await sql`INSERT INTO groups_search (rowid, name, doc) VALUES ${sql.join(search)}`.execute(db)
    }
    for (const [type, groups] of population) {
      const [projectId, index] = type.split('\t').map(Number)
      await db
        .insertInto('group_population' as never)
        .values({ project_id: projectId, group_type_index: index, groups } as never)
        .execute()
    }
    for (const [id, k] of keys) {
      const [p, i, ...rest] = id.split('\t')
      const key = rest.join('\t')
      const type = { project_id: Number(p), group_type_index: Number(i), key }
      await db
        .insertInto('group_property_keys' as never)
        .values({
          ...type,
          groups: k.groups,
          values_counted: engine === 'postgres' ? k.counted : Number(k.counted),
        } as never)
        .execute()
      for (const [value, groups] of k.values) {
        const properties = `{${JSON.stringify(key)}:${value}}`
        await db
          .insertInto('group_property_values' as never)
          .values({ ...type, value, properties, groups } as never)
          .execute()
      }
    }
  },
}
