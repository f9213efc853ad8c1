/**
 * The browser-session branch of authentication, used only when a request carries no personal API
 * key. As in PostHog, a signed-in user reaches every route of their projects without scope checks;
 * cookie-authenticated writes must echo the CSRF cookie in `X-CSRFToken` (DRF's SessionAuthentication).
 */
import type { FastifyRequest } from 'fastify'
import type { Database } from '../db/database.ts'
import {
  CSRF_COOKIE,
  CSRF_HEADER,
  csrfTokenMatches,
  parseCookies,
  SESSION_COOKIE,
} from '../sessions/cookies.ts'
import { userForSession } from '../sessions/store.ts'
import { getProjectForUser } from '../tenancy/projects.ts'
import { actionFor, resolveProjectId } from './auth.ts'
import { notAuthenticated, notFound, permissionDenied } from './errors.ts'

export async function authorizeSession(request: FastifyRequest, database: Database): Promise<void> {
  const cookies = parseCookies(request.headers.cookie)
  const sessionId = cookies[SESSION_COOKIE]
  const user = sessionId ? await userForSession(database.db, sessionId) : undefined
  if (!user) throw notAuthenticated()
  if (actionFor(request.method) === 'write') {
    const header = request.headers[CSRF_HEADER]
    if (!cookies[CSRF_COOKIE] || typeof header !== 'string' || !header)
      throw permissionDenied('CSRF Failed: CSRF token missing.')
    if (!csrfTokenMatches(cookies[CSRF_COOKIE], header))
      throw permissionDenied('CSRF Failed: CSRF token incorrect.')
  }
  request.userId = user.id

  const rawProject = (request.params as Record<string, string> | undefined)?.project_id
  if (rawProject === undefined) return
  const project = await getProjectForUser(
    database.db,
    await resolveProjectId(database, rawProject, user.id),
    user.id,
  )
  if (!project) throw notFound('Project not found.')
  if (!project.level) throw permissionDenied("You don't have access to the project.")
  request.project = project
}
