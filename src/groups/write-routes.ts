/**
 * PostHog's group writes from the UI: create a group, set or remove one property. They write the
 * group directly (PostHog also emits a best-effort event that changes nothing downstream).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyRequest } from 'fastify'
import type { Database } from '../db/database.ts'
import { projectOf } from '../http/auth.ts'
import { notFound, validationError } from '../http/errors.ts'
import { queryParams } from '../http/query.ts'
import { ProjectIdParam, responses } from '../http/schemas.ts'
import { nestingDepth } from '../http/validation.ts'
import { indexParam } from './routes.ts'
import {
  CreateGroupBody,
  DeletePropertyBody,
  GroupSchema,
  serializeGroup,
  UpdatePropertyBody,
} from './schema.ts'
import { createGroup, editGroupProperties } from './store.ts'

/** Bounds PostHog lacks: how deep and how large one group's properties may be. */
export const MAX_PROPERTIES_DEPTH = 32
export const MAX_PROPERTIES_BYTES = 256 * 1024

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

export const groupWriteRoutes: FastifyPluginAsyncTypebox<{ database: Database }> = async (
  app,
  { database },
) => {
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
      const group = await createGroup(database, projectId, group_type_index, group_key, properties)
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
    const group = await editGroupProperties(database, projectOf(request).id, index, q.group_key, edit)
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
}
