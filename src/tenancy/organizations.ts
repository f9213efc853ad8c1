import { randomUUID } from 'node:crypto'
import { type Executor, nowIso } from '../db/database.ts'
import type { Organization } from '../db/schema.ts'

export async function createOrganization(db: Executor, name: string): Promise<Organization> {
  const row = { id: randomUUID(), name, created_at: nowIso() }
  await db.insertInto('organizations').values(row).execute()
  return row
}

export async function getOrganization(db: Executor, id: string): Promise<Organization | undefined> {
  return db.selectFrom('organizations').selectAll().where('id', '=', id).executeTakeFirst()
}

export async function countOrganizations(db: Executor): Promise<number> {
  const row = await db
    .selectFrom('organizations')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirst()
  return Number(row?.n ?? 0)
}
