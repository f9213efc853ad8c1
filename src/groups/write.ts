/**
 * The one way a group row is written: capture's $groupidentify, the API's create and property
 * edits and the bulk endpoint all insert and update groups here, so the columns derived from a
 * group (derived.ts) and the embedded database's search index never disagree with its properties.
 * Statements take many groups at once (a bulk request writes a thousand in a few statements).
 */
import { sql } from 'kysely'
import { type Executor, nowIso } from '../db/database.ts'
import type { Engine } from '../db/dialect.ts'
import { countChanges, type PendingCounts, type PropertyChange } from './counts.ts'
import { derivedColumns, searchDocument } from './derived.ts'

/** A group's properties as stored: the JSON text and the object read back from it. */
export interface StoredProperties {
  json: string
  properties: Record<string, unknown>
}

export interface ChangedGroup extends StoredProperties {
  key: string
}

export interface NewGroup extends ChangedGroup {
  createdAt: string
}

export interface UpdatedGroup extends ChangedGroup {
  /** The properties it had (for the population counts). */
  before: Record<string, unknown>
}

/** Counts now, or into the transaction's pending counts when the caller collects them. */
async function count(
  tx: Executor,
  engine: Engine,
  projectId: number,
  index: number,
  changes: PropertyChange[],
  pending: PendingCounts | undefined,
): Promise<void> {
  if (changes.length === 0) return
  if (pending) pending.add(projectId, index, changes)
  else await countChanges(tx, engine, projectId, index, changes)
}

/** Groups per statement (SQLite binds at most 32,766 values; a row binds 8). */
const CHUNK = 500

function chunks<T>(items: T[]): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK))
  return out
}

/**
 * Inserts the groups that do not exist yet (insert-or-do-nothing, so concurrent writers of one
 * key never fail); returns the keys it inserted.
 */
export async function insertGroups(
  tx: Executor,
  engine: Engine,
  projectId: number,
  index: number,
  groups: NewGroup[],
  pending?: PendingCounts,
): Promise<Set<string>> {
  const inserted = new Set<string>()
  const now = nowIso()
  for (const chunk of chunks(groups)) {
    const rows = await tx
      .insertInto('groups')
      .values(
        chunk.map((g) => ({
          project_id: projectId,
          group_type_index: index,
          group_key: g.key,
          group_properties: g.json,
          created_at: g.createdAt,
          updated_at: now,
          ...derivedColumns(g.key, g.properties),
        })),
      )
      .onConflict((oc) => oc.doNothing())
      .returning(engine === 'sqlite' ? ['group_key', sql<number>`id`.as('id')] : ['group_key'])
      .execute()
    for (const row of rows) inserted.add(row.group_key)
    if (engine === 'sqlite') await indexForSearch(tx, chunk, rows as { group_key: string; id: number }[])
  }
  const changes = groups
    .filter((g) => inserted.has(g.key))
    .map((g) => ({ before: null, after: g.properties }))
  await count(tx, engine, projectId, index, changes, pending)
  return inserted
}

/** Rewrites the properties of existing groups (and what is derived from them). */
export async function updateGroups(
  tx: Executor,
  engine: Engine,
  projectId: number,
  index: number,
  groups: UpdatedGroup[],
  pending?: PendingCounts,
): Promise<void> {
  const now = nowIso()
  for (const chunk of chunks(groups)) {
    const values = sql.join(
      chunk.map((g) => {
        const d = derivedColumns(g.key, g.properties)
        return sql`(${g.key}, ${g.json}, ${d.display_fold})`
      }),
    )
    const json = engine === 'postgres' ? sql`v.properties::jsonb` : sql`v.properties`
    // One statement for the chunk; key_fold depends on the key alone and never changes.
    const rows = await sql<{ group_key: string; id: number }>`
      WITH v (group_key, properties, display_fold) AS (VALUES ${values})
      UPDATE groups SET group_properties = ${json}, display_fold = v.display_fold, updated_at = ${now}
      FROM v
      WHERE groups.project_id = ${projectId} AND groups.group_type_index = ${index}
        AND groups.group_key = v.group_key
      RETURNING groups.group_key${engine === 'sqlite' ? sql`, groups.id` : sql``}`.execute(tx)
    if (engine === 'sqlite') {
      const ids = rows.rows.map((r) => r.id)
      await sql`DELETE FROM groups_search WHERE rowid IN (${sql.join(ids)})`.execute(tx)
      await indexForSearch(tx, chunk, rows.rows)
    }
  }
  const changes = groups.map((g) => ({ before: g.before, after: g.properties }))
  await count(tx, engine, projectId, index, changes, pending)
}

/** The embedded database's trigram index rows for groups just written (rowid = the group's id). */
async function indexForSearch(
  tx: Executor,
  groups: ChangedGroup[],
  written: { group_key: string; id: number }[],
): Promise<void> {
  if (written.length === 0) return
  const byKey = new Map(groups.map((g) => [g.key, g]))
  const rows = written.map((w) => {
    const g = byKey.get(w.group_key) as ChangedGroup
    const doc = searchDocument(w.group_key, g.properties, g.json)
    return sql`(${w.id}, ${doc.name}, ${doc.properties})`
  })
  await sql`INSERT INTO groups_search (rowid, name, doc) VALUES ${sql.join(rows)}`.execute(tx)
}
