/**
 * The authenticated context of a request from memory: key hash → key (its user active),
 * (user, project) → project with the user's membership, and a project API token → its project
 * (capture and the SDK endpoints). Kept exact by the change feed: every write to keys, users,
 * memberships or projects announces `auth` (keys.ts, users.ts, projects.ts), which drops them all.
 */
import { cachePerDatabase } from '../db/cache.ts'
import type { Database } from '../db/database.ts'
import type { Project } from '../db/schema.ts'
import { findActiveKey, type PersonalApiKey } from './keys.ts'
import { getProjectByToken, getProjectForUser, type ProjectWithMembership } from './projects.ts'
import { hashPersonalApiKey } from './tokens.ts'

/** Bounds of each cache; the TTL is a backstop, invalidation is by the change feed. */
export const AUTH_CACHE = { maxEntries: 10_000, ttlMs: 60_000 }

const keys = cachePerDatabase<PersonalApiKey | undefined>(AUTH_CACHE)
const projects = cachePerDatabase<ProjectWithMembership | undefined>(AUTH_CACHE)
const tokens = cachePerDatabase<Project | undefined>(AUTH_CACHE)

/** A hit is returned as it is, not in a promise: these run on every authenticated request. */
export function activeKey(
  database: Database,
  plaintext: string,
): PersonalApiKey | Promise<PersonalApiKey | undefined> {
  const hash = hashPersonalApiKey(plaintext)
  return keys(database).read(hash, 'auth', () => findActiveKey(database.db, hash))
}

export function projectForUser(
  database: Database,
  projectId: number,
  userId: number,
): ProjectWithMembership | Promise<ProjectWithMembership | undefined> {
  return projects(database).read(`${userId}:${projectId}`, 'auth', () =>
    getProjectForUser(database.db, projectId, userId),
  )
}

/** The project of a project API token; an unknown token is looked up each time, never remembered. */
export function projectByToken(database: Database, token: string): Promise<Project | undefined> {
  return tokens(database).get(token, 'auth', () => getProjectByToken(database.db, token))
}

/** Entries held, for tests of the bounds. */
export function authCacheSizes(database: Database): { keys: number; projects: number; tokens: number } {
  return { keys: keys(database).size, projects: projects(database).size, tokens: tokens(database).size }
}
