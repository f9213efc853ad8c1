/**
 * The authenticated context of a request from memory: key hash → key (its user active), and
 * (user, project) → project with the user's membership. Kept exact by the change feed: every
 * write to keys, users or memberships announces `auth` (keys.ts, users.ts), which drops them all.
 */
import { cachePerDatabase } from '../db/cache.ts'
import type { Database } from '../db/database.ts'
import { findActiveKey, type PersonalApiKey } from './keys.ts'
import { getProjectForUser, type ProjectWithMembership } from './projects.ts'
import { hashPersonalApiKey } from './tokens.ts'

/** Bounds of each cache; the TTL is a backstop, invalidation is by the change feed. */
export const AUTH_CACHE = { maxEntries: 10_000, ttlMs: 60_000 }

const keys = cachePerDatabase<PersonalApiKey | undefined>(AUTH_CACHE)
const projects = cachePerDatabase<ProjectWithMembership | undefined>(AUTH_CACHE)

export function activeKey(database: Database, plaintext: string): Promise<PersonalApiKey | undefined> {
  const hash = hashPersonalApiKey(plaintext)
  return keys(database).get(hash, 'auth', () => findActiveKey(database.db, hash))
}

export function projectForUser(
  database: Database,
  projectId: number,
  userId: number,
): Promise<ProjectWithMembership | undefined> {
  return projects(database).get(`${userId}:${projectId}`, 'auth', () =>
    getProjectForUser(database.db, projectId, userId),
  )
}

/** Entries held, for tests of the bounds. */
export function authCacheSizes(database: Database): { keys: number; projects: number } {
  return { keys: keys(database).size, projects: projects(database).size }
}
