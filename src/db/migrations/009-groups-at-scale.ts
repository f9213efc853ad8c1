import { sql } from 'kysely'
import type { Executor } from '../database.ts'
import type { Engine } from '../dialect.ts'
import type { Migration } from '../migrate.ts'
import { fold, propertyText } from '../text.ts'

/**
 * The derived columns as this migration defines them (groups/derived.ts keeps them so on every
 * write): the display name (`name`, else the key) and the key, case-folded.
 */
function derivedColumns(key: string, properties: Record<string, unknown>) {
  return { display_fold: fold(propertyText(properties.name) ?? key), key_fold: fold(key) }
}

/** Rows read and rewritten per statement while filling the new columns of existing groups. */
const BACKFILL_BATCH = 1000

/** The schema pg_trgm lives in, installing it when the database has it available but not installed. */
async function trigramSchema(db: Executor): Promise<string> {
  const find = async () =>
    (
      await sql<{ schema: string }>`
        SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'pg_trgm'`.execute(db)
    ).rows[0]?.schema
  const found = await find()
  if (found) return found
  try {
    await sql`SAVEPOINT groupd_trgm`.execute(db)
    await sql`CREATE EXTENSION IF NOT EXISTS pg_trgm`.execute(db)
    await sql`RELEASE SAVEPOINT groupd_trgm`.execute(db)
  } catch (error) {
    await sql`ROLLBACK TO SAVEPOINT groupd_trgm`.execute(db)
    throw new Error(
      'Migration 009 needs the PostgreSQL extension pg_trgm (it ships with PostgreSQL, in the contrib ' +
        'package on some systems) and could not create it: connect as the database owner or a superuser ' +
        `and run CREATE EXTENSION pg_trgm; then start groupd again. (${(error as Error).message})`,
    )
  }
  return (await find()) as string
}

/**
 * The groups table's derived columns (display name and key, case-folded: groups/derived.ts) for
 * every existing row, in batches by primary key. On SQLite also its row in the trigram index.
 */
async function backfill(db: Executor, engine: Engine): Promise<void> {
  type Cursor = { p: number; i: number; k: string }
  let after: Cursor | null = null
  for (;;) {
    const from: Cursor | null = after
    const rows: {
      project_id: number
      group_type_index: number
      group_key: string
      group_properties: string
    }[] = await db
      .selectFrom('groups')
      .select(['project_id', 'group_type_index', 'group_key', 'group_properties'])
      .$if(from !== null, (q) =>
        q.where(
          sql<boolean>`(project_id, group_type_index, group_key) > (${from?.p}, ${from?.i}, ${from?.k})`,
        ),
      )
      .orderBy('project_id')
      .orderBy('group_type_index')
      .orderBy('group_key')
      .limit(BACKFILL_BATCH)
      .execute()
    if (rows.length === 0) return
    for (const row of rows) {
      const derived = derivedColumns(row.group_key, JSON.parse(row.group_properties))
      const updated = await db
        .updateTable('groups')
        .set(derived)
        .where('project_id', '=', row.project_id)
        .where('group_type_index', '=', row.group_type_index)
        .where('group_key', '=', row.group_key)
        .$if(engine === 'sqlite', (q) => q.returning(sql<number>`id`.as('id')))
        .executeTakeFirst()
      if (engine === 'sqlite') {
        const id = (updated as unknown as { id: number }).id
        await sql`INSERT INTO groups_search (rowid, doc) VALUES (${id}, ${`${derived.key_fold}\n${fold(row.group_properties)}`})`.execute(
          db,
        )
      }
    }
    const last = rows[rows.length - 1] as (typeof rows)[number]
    after = { p: last.project_id, i: last.group_type_index, k: last.group_key }
  }
}

/**
 * Groups at scale: every group gets its display name and key case-folded (indexed for search
 * ranking and for sorting by name), and a trigram index over key, display name and properties text
 * serves substring search: pg_trgm's GIN index on PostgreSQL, an FTS5 trigram table on SQLite
 * (whose rows are the groups table's rowids, so the table is rebuilt with an INTEGER PRIMARY KEY
 * that VACUUM never renumbers). Keys and names order by code point on both engines (COLLATE "C").
 */
export const m009GroupsAtScale: Migration = {
  name: '009-groups-at-scale',
  async up(db, engine) {
    if (engine === 'postgres') {
      const trgm = await trigramSchema(db)
      await sql`
        ALTER TABLE groups ADD COLUMN display_fold text NOT NULL DEFAULT '',
          ADD COLUMN key_fold text NOT NULL DEFAULT ''`.execute(db)
      await backfill(db, engine)
      await sql`DROP INDEX groups_newest_idx`.execute(db)
      await sql`
        CREATE INDEX groups_newest_idx ON groups
          (project_id, group_type_index, created_at, group_key COLLATE "C")`.execute(db)
      await sql`
        CREATE INDEX groups_display_idx ON groups
          (project_id, group_type_index, display_fold COLLATE "C", group_key COLLATE "C")`.execute(db)
      await sql`
        CREATE INDEX groups_search_idx ON groups USING gin
          ((key_fold || chr(10) || display_fold || chr(10) || lower(group_properties::text)) ${sql.raw(`"${trgm.replace(/"/g, '""')}"`)}.gin_trgm_ops)`.execute(
        db,
      )
      return
    }
    await sql`
      CREATE TABLE groups_v2 (
        id INTEGER PRIMARY KEY,
        project_id integer NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        group_type_index integer NOT NULL,
        group_key text NOT NULL,
        group_properties text NOT NULL,
        created_at text NOT NULL,
        updated_at text NOT NULL,
        display_fold text NOT NULL DEFAULT '',
        key_fold text NOT NULL DEFAULT ''
      )`.execute(db)
    await sql`
      INSERT INTO groups_v2 (project_id, group_type_index, group_key, group_properties, created_at, updated_at)
      SELECT project_id, group_type_index, group_key, group_properties, created_at, updated_at FROM groups`.execute(
      db,
    )
    await sql`DROP TABLE groups`.execute(db)
    await sql`ALTER TABLE groups_v2 RENAME TO groups`.execute(db)
    await sql`CREATE UNIQUE INDEX groups_key_idx ON groups (project_id, group_type_index, group_key)`.execute(
      db,
    )
    await sql`CREATE INDEX groups_newest_idx ON groups (project_id, group_type_index, created_at, group_key)`.execute(
      db,
    )
    await sql`CREATE INDEX groups_display_idx ON groups (project_id, group_type_index, display_fold, group_key)`.execute(
      db,
    )
    // Contentless (the documents are not stored twice); rows are added by the one write path
    // (groups/write.ts) and removed with their group, also by a cascade.
    await sql`
      CREATE VIRTUAL TABLE groups_search USING fts5
        (doc, content = '', contentless_delete = 1, tokenize = 'trigram case_sensitive 1')`.execute(db)
    await sql`
      CREATE TRIGGER groups_search_delete AFTER DELETE ON groups
      BEGIN DELETE FROM groups_search WHERE rowid = old.id; END`.execute(db)
    await backfill(db, engine)
  },
}
