/**
 * Group type rules: registration (the only way a group type comes into existence) and the atomic
 * metadata batch.
 */
import type { Database, Executor } from '../db/database.ts'
import { notFound } from '../http/errors.ts'
import {
  type GroupType,
  groupTypeIndexes,
  insertGroupType,
  listGroupTypes,
  lockGroupTypes,
  type MetadataChange,
  updateGroupType,
} from './store.ts'

/** PostHog's limit: indexes 0..4. */
export const MAX_GROUP_TYPES_PER_PROJECT = 5
/** Longest group type name (PostHog's varchar(400)). */
export const MAX_GROUP_TYPE_LENGTH = 400

export type Registration =
  | { group_type: string; group_type_index: number; created: boolean }
  | { group_type: string; group_type_index: null; reason: 'limit_reached' | 'invalid_name' }

export function isValidGroupTypeName(name: string): boolean {
  const length = [...name].length
  return length >= 1 && length <= MAX_GROUP_TYPE_LENGTH
}

/** A conflict means another writer added a row; after this many the state is not settling. */
const MAX_ATTEMPTS = MAX_GROUP_TYPES_PER_PROJECT * 2 + 2

/**
 * Returns the name's index, inserting it at the lowest free index when new. Race-safe without
 * locks: the insert does nothing on either unique constraint, and then the state is re-read —
 * either the same name was inserted concurrently (return its index) or a different one took the
 * index (try the next free one).
 */
export async function register(
  db: Executor,
  projectId: number,
  groupType: string,
  createdAt: string,
): Promise<Registration> {
  if (!isValidGroupTypeName(groupType))
    return { group_type: groupType, group_type_index: null, reason: 'invalid_name' }
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const known = await groupTypeIndexes(db, projectId)
    const existing = known.get(groupType)
    if (existing !== undefined) return { group_type: groupType, group_type_index: existing, created: false }
    const used = new Set(known.values())
    let free = 0
    while (used.has(free)) free++
    if (free >= MAX_GROUP_TYPES_PER_PROJECT)
      return { group_type: groupType, group_type_index: null, reason: 'limit_reached' }
    const inserted = await insertGroupType(db, projectId, groupType, free, createdAt)
    if (inserted !== undefined) return { group_type: groupType, group_type_index: inserted, created: true }
  }
  throw new Error(`group type registration for project ${projectId} did not settle`)
}

export interface MetadataRow extends MetadataChange {
  group_type_index?: number
}

/**
 * Applies every row in one transaction or none: an unknown or missing index is a 404 and rolls
 * back the rows before it. The project's mappings are locked first, so concurrent batches apply
 * one after the other and never interleave.
 */
export async function updateMetadata(
  database: Database,
  projectId: number,
  rows: MetadataRow[],
): Promise<GroupType[]> {
  return database.transaction(async (tx) => {
    const current = await lockGroupTypes(tx, database.engine, projectId)
    const indexes = new Set(current.map((g) => g.group_type_index))
    for (const { group_type_index: index, ...change } of rows) {
      if (index === undefined || !indexes.has(index)) throw notFound('Group type not found')
      await updateGroupType(tx, projectId, index, change)
    }
    return listGroupTypes(tx, projectId)
  })
}
