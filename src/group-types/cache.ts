/**
 * The group types list per project from memory, exact across processes: every write in store.ts
 * announces the project's change (db/changes.ts). PostHog caches it for minutes and serves stale
 * lists; here a change is visible at once in the writing process and within a second elsewhere.
 */
import { cachePerDatabase } from '../db/cache.ts'
import { projectTopic } from '../db/changes.ts'
import type { Database } from '../db/database.ts'
import { type GroupType, listGroupTypes } from './store.ts'

export const GROUP_TYPES_CACHE = { maxEntries: 10_000, ttlMs: 60_000 }

const lists = cachePerDatabase<GroupType[]>(GROUP_TYPES_CACHE)

export function cachedGroupTypes(database: Database, projectId: number): Promise<GroupType[]> {
  return lists(database).get(String(projectId), projectTopic(projectId), () =>
    listGroupTypes(database.db, projectId),
  )
}
