import { randomUUID } from 'node:crypto'
import { announce } from '../db/changes.ts'
import { type Executor, nowIso } from '../db/database.ts'
import type { MembershipLevel, User } from '../db/schema.ts'

export const MEMBERSHIP_LEVELS: readonly MembershipLevel[] = ['member', 'admin', 'owner']

export async function createUser(db: Executor, email: string): Promise<User> {
  return db
    .insertInto('users')
    .values({ email, uuid: randomUUID(), is_active: 1, current_project_id: null, created_at: nowIso() })
    .returningAll()
    .executeTakeFirstOrThrow()
}

export async function findUserByEmail(db: Executor, email: string): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst()
}

export async function setUserActive(db: Executor, userId: number, active: boolean): Promise<void> {
  await db
    .updateTable('users')
    .set({ is_active: active ? 1 : 0 })
    .where('id', '=', userId)
    .execute()
  await announce(db, 'auth')
}

export async function addMembership(
  db: Executor,
  organizationId: string,
  userId: number,
  level: MembershipLevel,
): Promise<void> {
  await db
    .insertInto('memberships')
    .values({ organization_id: organizationId, user_id: userId, level, created_at: nowIso() })
    .execute()
  await announce(db, 'auth')
}

export async function organizationIdsOf(db: Executor, userId: number): Promise<string[]> {
  const rows = await db
    .selectFrom('memberships')
    .select('organization_id')
    .where('user_id', '=', userId)
    .execute()
  return rows.map((r) => r.organization_id)
}

export async function getUser(db: Executor, id: number): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()
}
