/** Changes to a user that must end their sessions: a new password, deactivation. */
import type { Database } from '../db/database.ts'
import { setUserActive } from '../tenancy/users.ts'
import { hashPassword } from './passwords.ts'
import { deleteUserSessions } from './store.ts'

export async function setPassword(database: Database, userId: number, password: string): Promise<void> {
  const hash = await hashPassword(password)
  await database.transaction(async (tx) => {
    await tx.updateTable('users').set({ password_hash: hash }).where('id', '=', userId).execute()
    await deleteUserSessions(tx, userId)
  })
}

export async function deactivateUser(database: Database, userId: number): Promise<void> {
  await database.transaction(async (tx) => {
    await setUserActive(tx, userId, false)
    await deleteUserSessions(tx, userId)
  })
}
