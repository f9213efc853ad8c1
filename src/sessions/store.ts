/**
 * Browser sessions, stored in the database so every process sees them: the cookie carries a random
 * id, the table only its SHA-256. Expiry slides: each use pushes it 14 days out (written at most
 * once an hour, so reads do not all turn into writes).
 */
import { createHash, randomBytes } from 'node:crypto'
import type { Executor } from '../db/database.ts'
import type { User } from '../db/schema.ts'

export const SESSION_TTL_MS = 14 * 24 * 60 * 60 * 1000
const SLIDE_RESOLUTION_MS = 60 * 60 * 1000

/** Failed sign-ins per email within the window before the email is locked out. */
export const LOCKOUT_FAILURES = 5
export const LOCKOUT_WINDOW_MS = 15 * 60 * 1000

const hashId = (id: string) => createHash('sha256').update(id).digest('hex')

/** Starts a session; returns the id for the cookie (never stored). */
export async function createSession(db: Executor, userId: number, now = new Date()): Promise<string> {
  const id = randomBytes(32).toString('base64url')
  await db
    .insertInto('sessions')
    .values({
      id_hash: hashId(id),
      user_id: userId,
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + SESSION_TTL_MS).toISOString(),
    })
    .execute()
  return id
}

/** The active user a live session belongs to, sliding its expiry. */
export async function userForSession(db: Executor, id: string, now = new Date()): Promise<User | undefined> {
  const row = await db
    .selectFrom('sessions as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .selectAll('u')
    .select('s.expires_at')
    .where('s.id_hash', '=', hashId(id))
    .where('s.expires_at', '>', now.toISOString())
    .where('u.is_active', '=', 1)
    .executeTakeFirst()
  if (!row) return undefined
  const { expires_at, ...user } = row
  const newExpiry = now.getTime() + SESSION_TTL_MS
  if (newExpiry - Date.parse(expires_at) > SLIDE_RESOLUTION_MS) {
    await db
      .updateTable('sessions')
      .set({ expires_at: new Date(newExpiry).toISOString() })
      .where('id_hash', '=', hashId(id))
      .execute()
  }
  return user
}

export async function deleteSession(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('sessions').where('id_hash', '=', hashId(id)).execute()
}

/** Signs the user out everywhere (deactivation, password change). */
export async function deleteUserSessions(db: Executor, userId: number): Promise<void> {
  await db.deleteFrom('sessions').where('user_id', '=', userId).execute()
}

/** How long this email is locked out for (ms), 0 when it may try to sign in. */
export async function lockoutRemainingMs(db: Executor, email: string, now = new Date()): Promise<number> {
  const rows = await db
    .selectFrom('login_failures')
    .select('failed_at')
    .where('email', '=', email)
    .where('failed_at', '>', new Date(now.getTime() - LOCKOUT_WINDOW_MS).toISOString())
    .orderBy('failed_at', 'desc')
    .limit(LOCKOUT_FAILURES)
    .execute()
  const oldest = rows[LOCKOUT_FAILURES - 1]
  return oldest ? Date.parse(oldest.failed_at) + LOCKOUT_WINDOW_MS - now.getTime() : 0
}

/** Records a failure and forgets this email's failures older than the window. */
export async function recordFailure(db: Executor, email: string, now = new Date()): Promise<void> {
  await db.insertInto('login_failures').values({ email, failed_at: now.toISOString() }).execute()
  await db
    .deleteFrom('login_failures')
    .where('email', '=', email)
    .where('failed_at', '<=', new Date(now.getTime() - LOCKOUT_WINDOW_MS).toISOString())
    .execute()
}

export async function clearFailures(db: Executor, email: string): Promise<void> {
  await db.deleteFrom('login_failures').where('email', '=', email).execute()
}
