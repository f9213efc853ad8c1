/** PostHog's groups read API: list (keyset cursor, newest first) and find by key. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Database } from '../db/database.ts'
import { projectOf } from '../http/auth.ts'
import { notFound, validationError } from '../http/errors.ts'
import { queryParams } from '../http/query.ts'
import { Nullable, ProjectIdParam, responses } from '../http/schemas.ts'
import { GroupSchema, serializeGroup as serialize } from './schema.ts'
import { findGroup, type Group, listGroups } from './store.ts'

export const GROUPS_PAGE_SIZE = 100

export function indexParam(raw: string | undefined, missing: string): number {
  if (!raw) throw validationError('invalid_input', missing, 'group_type_index')
  if (!/^\s*[+-]?\d{1,9}\s*$/.test(raw))
    throw validationError('invalid_input', 'A valid integer is required.', 'group_type_index')
  return Number(raw)
}

/** PostHog's cursor: URL-safe base64 of {"c": created_at in µs, "k": group_key}; a bad one restarts. */
function encodeCursor(g: Group): string {
  return Buffer.from(JSON.stringify({ c: Date.parse(g.created_at) * 1000, k: g.group_key })).toString(
    'base64url',
  )
}

function decodeCursor(raw: string | undefined): { createdAt: string; key: string } | undefined {
  if (!raw) return undefined
  try {
    const data = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'))
    if (typeof data?.k !== 'string' || !Number.isFinite(Number(data.c))) return undefined
    return { createdAt: new Date(Math.floor(Number(data.c) / 1000)).toISOString(), key: data.k }
  } catch {
    return undefined
  }
}

export const groupRoutes: FastifyPluginAsyncTypebox<{ database: Database }> = async (app, { database }) => {
  const config = { auth: { scope: 'group' } } as const
  const tags = ['groups']
  const params = Type.Object({ project_id: ProjectIdParam })

  app.get(
    '/api/projects/:project_id/groups/',
    {
      config,
      schema: {
        tags,
        summary: 'List groups of a group type, newest first (forward-only cursor; previous is always null)',
        params,
        querystring: Type.Object({
          group_type_index: Type.Integer({ description: 'Specify the group type to list' }),
          search: Type.Optional(Type.String({ description: 'Key equal to it, or properties containing it' })),
          group_key: Type.Optional(
            Type.String({ description: 'Filter groups whose key contains this string (case-insensitive)' }),
          ),
          cursor: Type.Optional(Type.String({ description: 'Pagination cursor returned in the `next` URL' })),
        }),
        response: responses(
          {
            200: Type.Object({
              next: Nullable(Type.String()),
              previous: Type.Null(),
              results: Type.Array(GroupSchema),
            }),
          },
          [400],
        ),
      },
    },
    async (request) => {
      const q = queryParams(request.query)
      const index = indexParam(
        q.group_type_index,
        'You must pass ?group_type_index= in this URL. To get a list of valid group types, call /api/:project_id/groups_types/.',
      )
      const rows = await listGroups(database, {
        projectId: projectOf(request).id,
        index,
        search: q.search,
        keyContains: q.group_key,
        after: decodeCursor(q.cursor),
        limit: GROUPS_PAGE_SIZE + 1,
      })
      const page = rows.slice(0, GROUPS_PAGE_SIZE)
      let next: string | null = null
      const last = page.at(-1)
      if (rows.length > GROUPS_PAGE_SIZE && last) {
        const params = new URLSearchParams({ group_type_index: String(index), cursor: encodeCursor(last) })
        if (q.search) params.set('search', q.search)
        if (q.group_key) params.set('group_key', q.group_key)
        next = `${request.protocol}://${request.host}${request.url.split('?')[0]}?${params}`
      }
      return { next, previous: null, results: page.map(serialize) }
    },
  )

  app.get(
    '/api/projects/:project_id/groups/find/',
    {
      config,
      schema: {
        tags,
        summary: 'Find one group by type index and key',
        params,
        querystring: Type.Object({ group_type_index: Type.Integer(), group_key: Type.String() }),
        response: responses({ 200: GroupSchema }, [400]),
      },
    },
    async (request) => {
      const q = queryParams(request.query)
      const index = indexParam(q.group_type_index, 'This query parameter is required.')
      if (!q.group_key)
        throw validationError('invalid_input', 'This query parameter is required.', 'group_key')
      const group = await findGroup(database.db, projectOf(request).id, index, q.group_key)
      if (!group) throw notFound()
      return serialize(group)
    },
  )
}
