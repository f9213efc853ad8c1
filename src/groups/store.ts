/** Groups (a group type index and key within a project) and their properties. */
import { type RawBuilder, sql } from 'kysely'
import { type Database, type Executor, fromJson, nowIso, toJson } from '../db/database.ts'
import { type Engine, forUpdate } from '../db/dialect.ts'
import { fold } from '../db/text.ts'
import type { EventsStore, GroupSnapshot } from '../events/store.ts'
import type { PendingCounts } from './counts.ts'
import { TRIGRAM } from './derived.ts'
import { insertGroups, type StoredProperties, updateGroups } from './write.ts'

export interface Group {
  group_type_index: number
  group_key: string
  group_properties: Record<string, unknown>
  created_at: string
}

/** Longest group key (PostHog drops $groupidentify events beyond it). */
export const MAX_GROUP_KEY_LENGTH = 400

const columns = ['group_type_index', 'group_key', 'group_properties', 'created_at'] as const

function decode(row: {
  group_type_index: number
  group_key: string
  group_properties: string
  created_at: string
}): Group {
  return { ...row, group_properties: fromJson<Record<string, unknown>>(row.group_properties) }
}

/**
 * $groupidentify: the first event creates the group with its time as created_at; later ones
 * shallow-merge `set` into the properties, in arrival order. The row is locked between read and
 * write so concurrent merges into one group apply one after the other. Returns the properties
 * written (JSON) with a version for the events store's snapshot, or nothing when unchanged.
 */
export async function mergeGroup(
  db: Executor,
  engine: Engine,
  projectId: number,
  index: number,
  key: string,
  set: Record<string, unknown>,
  createdAt: string,
  pending?: PendingCounts,
): Promise<{ properties: string; version: number } | undefined> {
  const created = stored(set)
  const inserted = await insertGroups(db, engine, projectId, index, [{ key, createdAt, ...created }], pending)
  if (inserted.size > 0) return { properties: created.json, version: snapshotVersion() }
  if (Object.keys(set).length === 0) return undefined
  const current = await forUpdate(
    engine,
    selectGroup(db, projectId, index, key).select('group_properties'),
  ).executeTakeFirst()
  const before = fromJson<Record<string, unknown>>(current?.group_properties ?? '{}')
  const merged = stored({ ...before, ...set })
  await updateGroups(db, engine, projectId, index, [{ key, before, ...merged }], pending)
  return { properties: merged.json, version: snapshotVersion() }
}

/**
 * A snapshot's version: wall-clock microseconds taken while the group's row is locked, so a merge
 * that waited for another's lock gets a higher version (processes on one host share the clock).
 */
export function snapshotVersion(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000)
}

/** The events store's copy of a group's properties after a write (ClickHouse metric filters read it). */
export function snapshot(projectId: number, index: number, key: string, json: string): GroupSnapshot {
  return {
    project_id: projectId,
    group_type_index: index,
    group_key: key,
    properties: json,
    version: snapshotVersion(),
  }
}

/** Properties in their stored form (NUL and lone surrogates replaced), so answers match later reads. */
export function stored(properties: Record<string, unknown>): StoredProperties {
  const json = toJson(properties)
  return { json, properties: fromJson<Record<string, unknown>>(json) }
}

function selectGroup(db: Executor, projectId: number, index: number, key: string) {
  return db
    .selectFrom('groups')
    .where('project_id', '=', projectId)
    .where('group_type_index', '=', index)
    .where('group_key', '=', key)
}

/**
 * The properties (JSON text) of those of `keys` that exist, read in key order and, on PostgreSQL,
 * locked until the transaction ends (SQLite's write transaction already excludes other writers).
 */
export async function lockGroups(
  tx: Executor,
  engine: Engine,
  projectId: number,
  index: number,
  keys: string[],
): Promise<Map<string, string>> {
  const found = new Map<string, string>()
  const sorted = [...keys].sort()
  for (let i = 0; i < sorted.length; i += LOCK_CHUNK) {
    const query = tx
      .selectFrom('groups')
      .select(['group_key', 'group_properties'])
      .where('project_id', '=', projectId)
      .where('group_type_index', '=', index)
      .where('group_key', 'in', sorted.slice(i, i + LOCK_CHUNK))
      .orderBy('group_key')
    for (const row of await forUpdate(engine, query).execute()) found.set(row.group_key, row.group_properties)
  }
  return found
}

/** Keys per locking read. */
const LOCK_CHUNK = 500

export async function findGroup(
  db: Executor,
  projectId: number,
  index: number,
  key: string,
): Promise<Group | undefined> {
  const row = await selectGroup(db, projectId, index, key).select(columns).executeTakeFirst()
  return row && decode(row)
}

export interface GroupQuery {
  projectId: number
  index: number
  /** Key equal to it, or properties containing it (case-insensitive). */
  search?: string
  /** Key containing it (case-insensitive). */
  keyContains?: string
  /** Keyset cursor: strictly after (created_at, group_key) in newest-first order. */
  after?: { createdAt: string; key: string }
  limit: number
}

const likePattern = (text: string) => `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`

/**
 * PostHog's list search: the key equal to the text, or the properties' JSON text containing it
 * (case-insensitively, `%` and `_` literal). The trigram index (migration 009) finds the candidates
 * and this predicate decides, so the answer is the scan's: on PostgreSQL the index is on an
 * expression the LIKE implies; on SQLite an FTS5 phrase of the folded text (db/text.ts `fold`),
 * which every match contains. Shorter than a trigram, SQLite scans.
 */
function listSearch(engine: Engine, search: string): RawBuilder<unknown> {
  const pattern = likePattern(search)
  const properties = sql`lower(cast(g.group_properties as text)) LIKE ${pattern} ESCAPE '\\'`
  let candidates = sql`1 = 1`
  if (engine === 'postgres') {
    candidates = sql`(g.key_fold || chr(10) || g.display_fold || chr(10) || lower(g.group_properties::text)) LIKE ${pattern} ESCAPE '\\'`
  } else {
    const needle = fold(search.toLowerCase())
    if ([...needle].length >= TRIGRAM)
      candidates = sql`g.id IN (SELECT rowid FROM groups_search WHERE groups_search MATCH ${`"${needle.replace(/"/g, '""')}"`})`
  }
  return sql`(g.group_key = ${search} OR (${candidates} AND ${properties}))`
}

/**
 * Newest first, ties by key descending (code point order); one more row than asked tells whether
 * there is a next page. The cursor is a row comparison, so any page is an index seek.
 */
export async function listGroups(database: Database, q: GroupQuery): Promise<Group[]> {
  const { rows } = await listGroupsSql(database, q).execute(database.reads)
  return rows.map(decode)
}

/** The statement of listGroups (exposed for plans and benchmarks). */
export function listGroupsSql(database: Database, q: GroupQuery) {
  const where = [sql`g.project_id = ${q.projectId}`, sql`g.group_type_index = ${q.index}`]
  const key = database.engine === 'postgres' ? sql`g.group_key COLLATE "C"` : sql`g.group_key`
  if (q.search) where.push(listSearch(database.engine, q.search))
  if (q.keyContains) where.push(sql`lower(g.group_key) LIKE ${likePattern(q.keyContains)} ESCAPE '\\'`)
  if (q.after) {
    const at =
      database.engine === 'postgres' ? sql`${q.after.createdAt}::timestamptz` : sql`${q.after.createdAt}`
    where.push(sql`(g.created_at, ${key}) < (${at}, ${q.after.key})`)
  }
  return sql<Parameters<typeof decode>[0]>`
    /* groupd:groups-list */
    SELECT g.group_type_index, g.group_key, g.group_properties, g.created_at FROM groups g
    WHERE ${sql.join(where, sql` AND `)}
    ORDER BY g.created_at DESC, ${key} DESC
    LIMIT ${q.limit}`
}

/** Creates a group; undefined when one with this key exists (insert-or-do-nothing, no check first). */
export async function createGroup(
  database: Database,
  events: EventsStore,
  projectId: number,
  index: number,
  key: string,
  properties: Record<string, unknown>,
): Promise<Group | undefined> {
  const group = { key, createdAt: nowIso(), ...stored(properties) }
  return database.transaction(async (tx) => {
    const inserted = await insertGroups(tx, database.engine, projectId, index, [group])
    if (inserted.size === 0) return undefined
    await events.insert(tx, [], [snapshot(projectId, index, key, group.json)])
    return {
      group_type_index: index,
      group_key: key,
      group_properties: group.properties,
      created_at: group.createdAt,
    }
  })
}

/** Read-modify-write of one group's properties under a row lock; undefined when it does not exist. */
export async function editGroupProperties(
  database: Database,
  events: EventsStore,
  projectId: number,
  index: number,
  key: string,
  edit: (properties: Record<string, unknown>) => Record<string, unknown>,
): Promise<Group | undefined> {
  return database.transaction(async (tx) => {
    const row = await forUpdate(
      database.engine,
      selectGroup(tx, projectId, index, key).select(columns),
    ).executeTakeFirst()
    if (!row) return undefined
    const group = decode(row)
    const edited = stored(edit(group.group_properties))
    await updateGroups(tx, database.engine, projectId, index, [
      { key, before: group.group_properties, ...edited },
    ])
    await events.insert(tx, [], [snapshot(projectId, index, key, edited.json)])
    return { ...group, group_properties: edited.properties }
  })
}
