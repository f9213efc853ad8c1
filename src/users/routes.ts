/** Sign-in with email and password (PostHog's session auth), sign-out, and the signed-in user. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Database } from '../db/database.ts'
import { throttled, validationError } from '../http/errors.ts'
import { Nullable, responses } from '../http/schemas.ts'
import { clearedCookies, parseCookies, SESSION_COOKIE, sessionCookies } from '../sessions/cookies.ts'
import { MAX_PASSWORD_LENGTH, verifyPassword } from '../sessions/passwords.ts'
import {
  clearFailures,
  createSession,
  deleteSession,
  lockoutRemainingMs,
  recordFailure,
} from '../sessions/store.ts'
import { getOrganization } from '../tenancy/organizations.ts'
import { currentProjectId, getProject } from '../tenancy/projects.ts'
import { findUserByEmail, getUser } from '../tenancy/users.ts'

const LoginBody = Type.Object({
  email: Type.String({ maxLength: 254, examples: ['admin@localhost'] }),
  password: Type.String({ maxLength: MAX_PASSWORD_LENGTH }),
})

const Success = Type.Object({ success: Type.Boolean() })

const MeSchema = Type.Object({
  uuid: Type.String({ format: 'uuid' }),
  email: Type.String(),
  first_name: Type.String(),
  organization: Nullable(Type.Object({ id: Type.String(), name: Type.String() })),
  team: Nullable(Type.Object({ id: Type.Integer(), uuid: Type.String(), name: Type.String() })),
})

/** One message for an unknown email, a wrong password and a deactivated user alike. */
const invalidCredentials = () => validationError('invalid_credentials', 'Invalid email or password.', null)

export const userRoutes: FastifyPluginAsyncTypebox<{ database: Database }> = async (app, { database }) => {
  const db = database.db
  const tags = ['users']

  app.post(
    '/api/login',
    {
      schema: {
        tags,
        summary: `Sign in; sets the session and CSRF cookies. Five failures for an email within 15 minutes lock it out (429).`,
        security: [],
        body: LoginBody,
        response: responses({ 200: Success }, [400]),
      },
    },
    async (request, reply) => {
      const email = request.body.email.trim().toLowerCase()
      const lockedMs = await lockoutRemainingMs(db, email)
      if (lockedMs > 0) throw throttled(Math.ceil(lockedMs / 1000))
      const user = await findUserByEmail(db, email)
      const ok = await verifyPassword(request.body.password, user?.password_hash ?? null)
      if (!user || !ok || !user.is_active) {
        await recordFailure(db, email)
        throw invalidCredentials()
      }
      await clearFailures(db, email)
      const sessionId = await createSession(db, user.id)
      reply.header('set-cookie', sessionCookies(sessionId, request.protocol === 'https'))
      return { success: true }
    },
  )

  app.post(
    '/api/logout',
    {
      config: { auth: { scope: null, sessionOnly: true } },
      schema: {
        tags,
        summary: 'Sign out: ends the session server-side',
        response: responses({ 200: Success }),
      },
    },
    async (request, reply) => {
      const sessionId = parseCookies(request.headers.cookie)[SESSION_COOKIE]
      if (sessionId) await deleteSession(db, sessionId)
      reply.header('set-cookie', clearedCookies(request.protocol === 'https'))
      return { success: true }
    },
  )

  app.get(
    '/api/users/@me/',
    {
      config: { auth: { scope: null } },
      schema: {
        tags,
        summary: 'The signed-in user (or the key owner), their organization and current project',
        response: responses({ 200: MeSchema }),
      },
    },
    async (request) => {
      const user = await getUser(db, request.userId as number)
      if (!user) throw new Error('authenticated user vanished')
      const projectId = await currentProjectId(db, user.id)
      const project = projectId === undefined ? undefined : await getProject(db, projectId)
      const organization = project ? await getOrganization(db, project.organization_id) : undefined
      return {
        uuid: user.uuid,
        email: user.email,
        first_name: '',
        organization: organization ? { id: organization.id, name: organization.name } : null,
        team: project ? { id: project.id, uuid: project.uuid, name: project.name } : null,
      }
    },
  )
}
