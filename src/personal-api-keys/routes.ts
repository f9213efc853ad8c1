/**
 * The signed-in user's personal API keys (PostHog's /api/personal_api_keys/). Browser sessions
 * only: a key cannot list, mint or revoke keys. The plaintext `value` is returned once, at creation.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Database } from '../db/database.ts'
import { notFound, validationError } from '../http/errors.ts'
import { NoContent, Nullable, responses } from '../http/schemas.ts'
import { drfDateTime } from '../http/wire.ts'
import {
  createPersonalApiKey,
  listPersonalApiKeys,
  type PersonalApiKey,
  revokePersonalApiKey,
} from '../tenancy/keys.ts'
import { listProjectsForUser } from '../tenancy/projects.ts'
import { isValidScope, SCOPE_OBJECTS } from '../tenancy/scopes.ts'
import { organizationIdsOf } from '../tenancy/users.ts'

/** PostHog's limits. */
const MAX_LABEL_LENGTH = 40
const MAX_SCOPES = 2 * SCOPE_OBJECTS.length + 1
const MAX_SCOPED = 100

const KeySchema = Type.Object({
  id: Type.String(),
  label: Type.String(),
  mask_value: Type.String({ examples: ['phx_...abcd'] }),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Nullable(Type.String({ format: 'date-time' })),
  user_id: Type.Integer(),
  scopes: Type.Array(Type.String()),
  scoped_teams: Nullable(Type.Array(Type.Integer())),
  scoped_organizations: Nullable(Type.Array(Type.String())),
})

const CreateBody = Type.Object({
  label: Type.String({ minLength: 1, maxLength: MAX_LABEL_LENGTH }),
  scopes: Type.Array(Type.String({ maxLength: 40 }), { maxItems: MAX_SCOPES }),
  scoped_teams: Type.Optional(Nullable(Type.Array(Type.Integer(), { maxItems: MAX_SCOPED }))),
  scoped_organizations: Type.Optional(Nullable(Type.Array(Type.String(), { maxItems: MAX_SCOPED }))),
})

const serialize = (k: PersonalApiKey) => ({
  id: k.id,
  label: k.label,
  mask_value: k.mask_value,
  created_at: drfDateTime(k.created_at) as string,
  last_used_at: drfDateTime(k.last_used_at),
  user_id: k.user_id,
  scopes: k.scopes,
  scoped_teams: k.scoped_teams,
  scoped_organizations: k.scoped_organizations,
})

export const personalApiKeyRoutes: FastifyPluginAsyncTypebox<{ database: Database }> = async (
  app,
  { database },
) => {
  const db = database.db
  const config = { auth: { scope: null, sessionOnly: true } }
  const tags = ['personal_api_keys']
  const userOf = (request: { userId: number | null }) => request.userId as number

  app.get(
    '/api/personal_api_keys/',
    {
      config,
      schema: {
        tags,
        summary: "The signed-in user's keys (masked)",
        response: responses({ 200: Type.Array(KeySchema) }),
      },
    },
    async (request) => (await listPersonalApiKeys(db, userOf(request))).reverse().map(serialize),
  )

  app.post(
    '/api/personal_api_keys/',
    {
      config,
      schema: {
        tags,
        summary: 'Create a key; its plaintext `value` is in this response only',
        body: CreateBody,
        response: responses(
          { 201: Type.Composite([KeySchema, Type.Object({ value: Type.String() })]) },
          [400],
        ),
      },
    },
    async (request, reply) => {
      const userId = userOf(request)
      const { label, scopes, scoped_teams, scoped_organizations } = request.body
      if (scopes.length === 0)
        throw validationError('invalid_input', 'You must provide at least one scope.', 'scopes')
      const bad = scopes.find((s) => !isValidScope(s))
      if (bad !== undefined) throw validationError('invalid_input', `Invalid scope: ${bad}`, 'scopes')
      if (scoped_teams?.length) {
        const mine = new Set(
          (await listProjectsForUser(db, { userId }, { limit: 10_000, offset: 0 })).map((p) => p.id),
        )
        if (scoped_teams.some((id) => !mine.has(id)))
          throw validationError(
            'invalid_input',
            'You must be a member of all teams that you are scoping the key to.',
            'scoped_teams',
          )
      }
      if (scoped_organizations?.length) {
        const mine = new Set(await organizationIdsOf(db, userId))
        if (scoped_organizations.some((id) => !mine.has(id)))
          throw validationError(
            'invalid_input',
            'You must be a member of all organizations that you are scoping the key to.',
            'scoped_organizations',
          )
      }
      const { key, plaintext } = await createPersonalApiKey(db, {
        userId,
        label,
        scopes: [...new Set(scopes)],
        scopedTeams: scoped_teams,
        scopedOrganizations: scoped_organizations,
      })
      return reply.code(201).send({ ...serialize(key), value: plaintext })
    },
  )

  app.delete(
    '/api/personal_api_keys/:id/',
    {
      config,
      schema: {
        tags,
        summary: 'Revoke one of your keys',
        params: Type.Object({ id: Type.String() }),
        response: responses({ 204: NoContent }),
      },
    },
    async (request, reply) => {
      // Another user's key is simply not found.
      const own = await listPersonalApiKeys(db, userOf(request))
      if (!own.some((k) => k.id === request.params.id)) throw notFound()
      await revokePersonalApiKey(db, request.params.id)
      return reply.code(204).send()
    },
  )
}
