import { randomUUID } from 'node:crypto'
import { announce } from '../db/changes.ts'
import { compiled } from '../db/compiled.ts'
import { type Executor, nowIso, toJson } from '../db/database.ts'
import type { MembershipLevel, Project } from '../db/schema.ts'
import { newProjectApiToken } from './tokens.ts'

/** Largest project id: ids are PostgreSQL `serial` (int4), so a larger one names no project. */
export const MAX_PROJECT_ID = 2_147_483_647

export async function createProject(db: Executor, organizationId: string, name: string): Promise<Project> {
  return db
    .insertInto('projects')
    .values({
      uuid: randomUUID(),
      organization_id: organizationId,
      name,
      api_token: newProjectApiToken(),
      created_at: nowIso(),
    })
    .returningAll()
    .executeTakeFirstOrThrow()
}

export interface ProjectWithMembership extends Project {
  /** The user's level in the project's organization, or null when not a member. */
  level: MembershipLevel | null
}

const projectWithMembership = compiled((db, projectId: number, userId: number) =>
  db
    .selectFrom('projects as p')
    .leftJoin('memberships as m', (join) =>
      join.onRef('m.organization_id', '=', 'p.organization_id').on('m.user_id', '=', userId),
    )
    .selectAll('p')
    .select('m.level')
    .where('p.id', '=', projectId),
)

/** A project and the given user's membership of its organization, in one query. */
export async function getProjectForUser(
  db: Executor,
  projectId: number,
  userId: number,
): Promise<ProjectWithMembership | undefined> {
  const [row] = await projectWithMembership(db, projectId, userId)
  return row
}

/** Changes the given settings; test_account_filters must already be validated. */
export async function updateProject(
  db: Executor,
  id: number,
  changes: { name?: string; test_account_filters?: unknown[] },
): Promise<Project> {
  const values = {
    ...(changes.name !== undefined ? { name: changes.name } : {}),
    ...(changes.test_account_filters !== undefined
      ? { test_account_filters: toJson(changes.test_account_filters) }
      : {}),
  }
  if (Object.keys(values).length === 0)
    return db.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirstOrThrow()
  const project = await db
    .updateTable('projects')
    .set(values)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow()
  // Authenticated requests carry their project from the auth cache.
  await announce(db, 'auth')
  return project
}

export async function getProject(db: Executor, id: number): Promise<Project | undefined> {
  return db.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst()
}

export async function getProjectByToken(db: Executor, apiToken: string): Promise<Project | undefined> {
  return db.selectFrom('projects').selectAll().where('api_token', '=', apiToken).executeTakeFirst()
}

export interface ProjectFilter {
  userId: number
  /** Only these project ids (a key's scoped_teams), or all. */
  projectIds?: number[] | null
  /** Only these organizations (a key's scoped_organizations), or all. */
  organizationIds?: string[] | null
}

function visibleProjects(db: Executor, filter: ProjectFilter) {
  return db
    .selectFrom('projects as p')
    .innerJoin('memberships as m', 'm.organization_id', 'p.organization_id')
    .where('m.user_id', '=', filter.userId)
    .$if(!!filter.projectIds?.length, (q) => q.where('p.id', 'in', filter.projectIds as number[]))
    .$if(!!filter.organizationIds?.length, (q) =>
      q.where('p.organization_id', 'in', filter.organizationIds as string[]),
    )
}

export async function countProjectsForUser(db: Executor, filter: ProjectFilter): Promise<number> {
  const row = await visibleProjects(db, filter)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirst()
  return Number(row?.n ?? 0)
}

export async function listProjectsForUser(
  db: Executor,
  filter: ProjectFilter,
  page: { limit: number; offset: number },
): Promise<Project[]> {
  return visibleProjects(db, filter)
    .selectAll('p')
    .orderBy('p.id')
    .limit(page.limit)
    .offset(page.offset)
    .execute()
}

/** The project `@current` means: the user's stored current project if still a member, else their first. */
export async function currentProjectId(db: Executor, userId: number): Promise<number | undefined> {
  const user = await db
    .selectFrom('users')
    .select('current_project_id')
    .where('id', '=', userId)
    .executeTakeFirst()
  if (user?.current_project_id != null) {
    const stored = await getProjectForUser(db, user.current_project_id, userId)
    if (stored?.level) return stored.id
  }
  const first = await visibleProjects(db, { userId })
    .select('p.id')
    .orderBy('p.id')
    .limit(1)
    .executeTakeFirst()
  return first?.id
}
