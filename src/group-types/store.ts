/**
 * Group type mappings of one project; every query is filtered by project. Every write announces
 * the project's change (db/changes.ts), which keeps the cached lists (cache.ts) exact.
 */
import { announce, projectTopic } from '../db/changes.ts'
import { compiled } from '../db/compiled.ts'
import { type Executor, fromJson, toJson } from '../db/database.ts'
import { type Engine, forUpdate } from '../db/dialect.ts'
import type { GroupTypeMappingRow } from '../db/schema.ts'

export interface GroupType {
  group_type: string
  group_type_index: number
  name_singular: string | null
  name_plural: string | null
  detail_dashboard: number | null
  default_columns: string[] | null
  created_at: string | null
}

export interface MetadataChange {
  name_singular?: string | null
  name_plural?: string | null
  detail_dashboard?: number | null
  default_columns?: string[] | null
}

function decode(row: GroupTypeMappingRow): GroupType {
  return {
    group_type: row.group_type,
    group_type_index: row.group_type_index,
    name_singular: row.name_singular,
    name_plural: row.name_plural,
    detail_dashboard: row.detail_dashboard,
    default_columns: fromJson<string[]>(row.default_columns),
    created_at: row.created_at,
  }
}

function selectProject(db: Executor, projectId: number) {
  return db.selectFrom('group_type_mappings').selectAll().where('project_id', '=', projectId)
}

const listQuery = compiled((db, projectId: number) =>
  selectProject(db, projectId).orderBy('group_type_index'),
)

export async function listGroupTypes(db: Executor, projectId: number): Promise<GroupType[]> {
  return (await listQuery(db, projectId)).map(decode)
}

/** The project's mappings, locked for the rest of the transaction (in index order, so no deadlock). */
export async function lockGroupTypes(db: Executor, engine: Engine, projectId: number): Promise<GroupType[]> {
  const rows = await forUpdate(engine, selectProject(db, projectId).orderBy('group_type_index')).execute()
  return rows.map(decode)
}

export async function getGroupType(
  db: Executor,
  projectId: number,
  index: number,
): Promise<GroupType | undefined> {
  const row = await selectProject(db, projectId).where('group_type_index', '=', index).executeTakeFirst()
  return row && decode(row)
}

export async function deleteGroupType(db: Executor, projectId: number, index: number): Promise<boolean> {
  const result = await db
    .deleteFrom('group_type_mappings')
    .where('project_id', '=', projectId)
    .where('group_type_index', '=', index)
    .executeTakeFirst()
  await announce(db, projectTopic(projectId))
  return Number(result.numDeletedRows) > 0
}

/** Applies the fields present in `change`; names given as "" are stored as null. */
export async function updateGroupType(
  db: Executor,
  projectId: number,
  index: number,
  change: MetadataChange,
): Promise<boolean> {
  const set: Partial<GroupTypeMappingRow> = {}
  if (change.name_singular !== undefined) set.name_singular = change.name_singular || null
  if (change.name_plural !== undefined) set.name_plural = change.name_plural || null
  if (change.detail_dashboard !== undefined) set.detail_dashboard = change.detail_dashboard
  if (change.default_columns !== undefined)
    set.default_columns = change.default_columns && toJson(change.default_columns)
  if (Object.keys(set).length === 0) return (await getGroupType(db, projectId, index)) !== undefined
  const result = await db
    .updateTable('group_type_mappings')
    .set(set)
    .where('project_id', '=', projectId)
    .where('group_type_index', '=', index)
    .executeTakeFirst()
  await announce(db, projectTopic(projectId))
  return Number(result.numUpdatedRows) > 0
}

/** Insert-or-do-nothing against both unique constraints; the index if this call inserted the row. */
export async function insertGroupType(
  db: Executor,
  projectId: number,
  groupType: string,
  index: number,
  createdAt: string,
): Promise<number | undefined> {
  const row = await db
    .insertInto('group_type_mappings')
    .values({ project_id: projectId, group_type: groupType, group_type_index: index, created_at: createdAt })
    .onConflict((oc) => oc.doNothing())
    .returning('group_type_index')
    .executeTakeFirst()
  if (row) await announce(db, projectTopic(projectId))
  return row?.group_type_index
}

/** Name → index of every mapping in the project. */
export async function groupTypeIndexes(db: Executor, projectId: number): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('group_type_mappings')
    .select(['group_type', 'group_type_index'])
    .where('project_id', '=', projectId)
    .execute()
  return new Map(rows.map((r) => [r.group_type, r.group_type_index]))
}
