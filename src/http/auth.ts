/**
 * Personal-API-key authentication and authorization, in PostHog's order:
 * credentials → project (404) → key's scoped_teams / scoped_organizations → scope → membership.
 * A route declares what it needs in `config.auth`; this hook is the one place that enforces it and
 * maps the HTTP method to read or write.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Database } from '../db/database.ts'
import type { Project } from '../db/schema.ts'
import { isPlainObject } from '../db/text.ts'
import { RateLimited, type RateLimiter } from '../rate-limit/limiter.ts'
import { activeKey, projectForUser } from '../tenancy/cache.ts'
import { type PersonalApiKey, touchLastUsed } from '../tenancy/keys.ts'
import { currentProjectId, MAX_PROJECT_ID } from '../tenancy/projects.ts'
import { grants, type ScopeAction, type ScopeObject } from '../tenancy/scopes.ts'
import { authenticationFailed, notFound, permissionDenied, throttled } from './errors.ts'
import { authorizeSession } from './session-auth.ts'

export interface RouteAuth {
  /** Scope objects any one of which grants access; null authenticates without a scope check. */
  scope: ScopeObject | readonly ScopeObject[] | null
  /** Overrides the method's read/write mapping. */
  action?: ScopeAction
  /** Browser sessions only: a personal API key cannot call it (PostHog: keys cannot mint keys). */
  sessionOnly?: boolean
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Absent on public routes. */
    auth?: RouteAuth
  }
  interface FastifyRequest {
    apiKey: PersonalApiKey | null
    project: Project | null
    /** The authenticated user, by key or by session. */
    userId: number | null
  }
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

export function actionFor(method: string): ScopeAction {
  return READ_METHODS.has(method) ? 'read' : 'write'
}

type KeySource = 'Authorization header' | 'body' | 'query string'

/** Only the first key found is tried, as PostHog does. OAuth tokens (pha_) are not keys. */
function findKey(request: FastifyRequest): { key: string; source: KeySource } | undefined {
  const header = /^Bearer\s+(\S.+)$/.exec(request.headers.authorization ?? '')
  if (header?.[1] && !header[1].startsWith('pha_'))
    return { key: header[1].trim(), source: 'Authorization header' }
  const body = request.body
  if (isPlainObject(body) && typeof body.personal_api_key === 'string' && body.personal_api_key) {
    return { key: body.personal_api_key, source: 'body' }
  }
  const query = request.query as Record<string, unknown> | undefined
  if (typeof query?.personal_api_key === 'string' && query.personal_api_key) {
    return { key: query.personal_api_key, source: 'query string' }
  }
  return undefined
}

export async function resolveProjectId(database: Database, raw: string, userId: number): Promise<number> {
  if (raw === '@current') {
    const id = await currentProjectId(database.db, userId)
    if (id === undefined) throw notFound('Project not found.')
    return id
  }
  // Project ids are PostgreSQL `serial` (int4): a larger one names no project, and sending it
  // to PostgreSQL would fail the query ("out of range for type integer") with a 500.
  if (!/^\d{1,15}$/.test(raw) || Number(raw) > MAX_PROJECT_ID) throw notFound('Project not found.')
  return Number(raw)
}

function requiredScopes(
  auth: RouteAuth,
  method: string,
): { objects: readonly ScopeObject[]; action: ScopeAction } {
  const objects = auth.scope === null ? [] : typeof auth.scope === 'string' ? [auth.scope] : auth.scope
  return { objects, action: auth.action ?? actionFor(method) }
}

export function registerAuth(app: FastifyInstance, database: Database, limiter: RateLimiter): void {
  app.decorateRequest('apiKey', null)
  app.decorateRequest('project', null)
  app.decorateRequest('userId', null)

  app.addHook('preValidation', async (request) => {
    const auth = request.routeOptions.config.auth
    if (!auth) return
    const found = findKey(request)
    // Only a request without a key is looked at for a session: a key request never reads the cookie.
    if (!found) return authorizeSession(request, database)
    const key = await activeKey(database, found.key)
    if (!key) throw authenticationFailed(`Personal API key found in request ${found.source} is invalid.`)
    if (auth.sessionOnly) throw permissionDenied('This action does not support Personal API Key access.')
    request.apiKey = key
    request.userId = key.user_id
    touchLastUsed(database.db, key)?.catch((error) =>
      request.log.warn({ err: error }, 'last_used_at update failed'),
    )

    const rawProject = (request.params as Record<string, string> | undefined)?.project_id
    let project: Awaited<ReturnType<typeof projectForUser>>
    if (rawProject !== undefined) {
      const projectId = await resolveProjectId(database, rawProject, key.user_id)
      project = await projectForUser(database, projectId, key.user_id)
      if (!project) throw notFound('Project not found.')
      if (key.scoped_teams && !key.scoped_teams.includes(project.id)) {
        throw permissionDenied(`API key does not have access to the requested project: ID ${project.id}.`)
      }
      if (key.scoped_organizations && !key.scoped_organizations.includes(project.organization_id)) {
        throw permissionDenied(
          `API key does not have access to the requested organization: ID ${project.organization_id}.`,
        )
      }
    }

    const { objects, action } = requiredScopes(auth, request.method)
    if (objects.length > 0 && !objects.some((object) => grants(key.scopes, object, action))) {
      const names = objects.map((object) => `'${object}:${action}'`).join(' or ')
      throw permissionDenied(`API key missing required scope ${names}`)
    }

    if (project) {
      if (!project.level) throw permissionDenied("You don't have access to the project.")
      request.project = project
    }

    // Throttles come last, as in DRF: refused requests do not spend the budget.
    await limiter.check(key.id)?.catch((error) => {
      throw error instanceof RateLimited ? throttled(error.waitSeconds) : error
    })
  })
}

/** The project a project-scoped route was authorized for. */
export function projectOf(request: FastifyRequest): Project {
  if (!request.project) throw new Error('route has no authorized project')
  return request.project
}
