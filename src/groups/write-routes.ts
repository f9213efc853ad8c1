/**
 * PostHog's group writes from the UI: create a group, set or remove one property. They write the
 * group directly (PostHog also emits a best-effort event that changes nothing downstream).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyRequest } from 'fastify'
import type { Database } from '../db/database.ts'
import type { EventsStore } from '../events/store.ts'
import { projectOf } from '../http/auth.ts'
import { notFound, validationError } from '../http/errors.ts'
import { queryParams } from '../http/query.ts'
import { Nullable, ProjectIdParam, responses } from '../http/schemas.ts'
import { nestingDepth } from '../http/validation.ts'
import { BULK_BODY_BYTES, bulkUpsert, MAX_BULK_OPERATIONS } from './bulk.ts'
import { indexParam } from './routes.ts'
import {
  CreateGroupBody,
  DeletePropertyBody,
  GroupSchema,
  MAX_PROPERTIES_BYTES,
  MAX_PROPERTIES_DEPTH,
  serializeGroup,
  UpdatePropertyBody,
} from './schema.ts'
import { createGroup, editGroupProperties } from './store.ts'

/** The properties within bounds; checked depth first, as JSON.stringify recurses. */
function bounded(properties: Record<string, unknown>, attr: string): Record<string, unknown> {
  if (nestingDepth(properties, MAX_PROPERTIES_DEPTH) > MAX_PROPERTIES_DEPTH)
    throw validationError(
      'max_depth',
      `Ensure ${attr} nests no deeper than ${MAX_PROPERTIES_DEPTH} levels.`,
      attr,
    )
  if (Buffer.byteLength(JSON.stringify(properties)) > MAX_PROPERTIES_BYTES)
    throw validationError(
      'max_length',
      `Ensure ${attr} is no larger than ${MAX_PROPERTIES_BYTES} bytes of JSON.`,
      attr,
    )
  return properties
}

export const groupWriteRoutes: FastifyPluginAsyncTypebox<{
  database: Database
  events: EventsStore
}> = async (app, { database, events }) => {
  const config = { auth: { scope: 'group' } } as const
  const tags = ['groups']
  const params = Type.Object({ project_id: ProjectIdParam })
  const groupQuery = Type.Object({ group_type_index: Type.Integer(), group_key: Type.String() })

  app.post(
    '/api/projects/:project_id/groups/',
    {
      config,
      schema: {
        tags,
        summary: 'Create a group',
        params,
        body: CreateGroupBody,
        response: responses({ 201: GroupSchema }, [400]),
      },
    },
    async (request, reply) => {
      const { group_type_index, group_key, group_properties = {} } = request.body
      const properties = bounded(group_properties, 'group_properties')
      const projectId = projectOf(request).id
      const group = await createGroup(database, events, projectId, group_type_index, group_key, properties)
      if (!group) throw validationError('invalid_input', 'A group with this key already exists', 'detail')
      return reply.code(201).send(serializeGroup(group))
    },
  )

  /** The group named by ?group_type_index=&group_key=, with `edit` applied to its properties. */
  const editNamed = async (
    request: FastifyRequest,
    edit: (properties: Record<string, unknown>) => Record<string, unknown>,
  ) => {
    const q = queryParams(request.query)
    const index = indexParam(q.group_type_index, 'This query parameter is required.')
    if (!q.group_key) throw validationError('invalid_input', 'This query parameter is required.', 'group_key')
    const group = await editGroupProperties(database, events, projectOf(request).id, index, q.group_key, edit)
    if (!group) throw notFound()
    return serializeGroup(group)
  }

  app.post(
    '/api/projects/:project_id/groups/update_property/',
    {
      config,
      schema: {
        tags,
        summary: 'Set one property of a group',
        params,
        querystring: groupQuery,
        body: UpdatePropertyBody,
        response: responses({ 200: GroupSchema }, [400]),
      },
    },
    (request) =>
      editNamed(request, (p) => bounded({ ...p, [request.body.key]: request.body.value }, 'value')),
  )

  app.post(
    '/api/projects/:project_id/groups/delete_property/',
    {
      config,
      schema: {
        tags,
        summary: 'Remove one property of a group',
        params,
        querystring: groupQuery,
        body: DeletePropertyBody,
        response: responses({ 200: GroupSchema }, [400]),
      },
    },
    (request) =>
      editNamed(request, (p) => {
        const { [request.body.$unset]: _removed, ...rest } = p
        return rest
      }),
  )

  app.post(
    '/api/projects/:project_id/groups/bulk/',
    {
      config,
      bodyLimit: BULK_BODY_BYTES,
      schema: {
        tags,
        summary:
          'Create and update many groups in one transaction ($set, $set_once, $union, $remove, $unset per operation); invalid operations are reported and change nothing',
        params,
        body: Type.Object({
          operations: Type.Array(Nullable(Type.Unknown()), {
            maxItems: MAX_BULK_OPERATIONS,
            description:
              '{group_type_index | group_type, group_key, $set?, $set_once?, $union?: {key: [values]}, $remove?: {key: value}, $unset?: [keys]}',
          }),
        }),
        response: responses(
          {
            200: Type.Object({
              results: Type.Array(
                Type.Object({
                  status: Type.String({ enum: ['created', 'updated', 'unchanged', 'error'] }),
                  code: Type.Optional(Type.String()),
                  detail: Type.Optional(Type.String()),
                }),
              ),
            }),
          },
          [400, 413],
        ),
      },
    },
    async (request) => ({
      results: await bulkUpsert(database, events, projectOf(request).id, request.body.operations),
    }),
  )
}
