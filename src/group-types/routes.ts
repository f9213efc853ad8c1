import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Database } from '../db/database.ts'
import { projectOf } from '../http/auth.ts'
import { sendCachedJson } from '../http/cached-json.ts'
import { notFound } from '../http/errors.ts'
import { NoContent, ProjectIdParam, responses } from '../http/schemas.ts'
import { cachedGroupTypes } from './cache.ts'
import {
  GroupTypeList,
  GroupTypeSchema,
  SetDefaultColumnsBody,
  serializeGroupType,
  UpdateMetadataBody,
} from './schema.ts'
import { MAX_GROUP_TYPES_PER_PROJECT, updateMetadata } from './service.ts'
import { deleteGroupType, getGroupType, updateGroupType } from './store.ts'

const groupTypeNotFound = () => notFound('Group type not found')

/** A URL index that is not a plain integer names no group type. */
function parseIndex(raw: string): number {
  if (!/^\d{1,9}$/.test(raw)) throw groupTypeNotFound()
  return Number(raw)
}

export const groupTypeRoutes: FastifyPluginAsyncTypebox<{ database: Database }> = async (
  app,
  { database },
) => {
  const db = database.db
  const config = { auth: { scope: 'group' } } as const
  const tags = ['groups_types']
  const base = '/api/projects/:project_id/groups_types'
  const ProjectParams = Type.Object({ project_id: ProjectIdParam })

  app.get(
    `${base}/`,
    {
      config,
      schema: {
        tags,
        summary: 'List all group types of the project, ordered by index',
        params: ProjectParams,
        response: responses({ 200: GroupTypeList }),
      },
    },
    async (request, reply) => {
      const list = await cachedGroupTypes(database, projectOf(request).id)
      return sendCachedJson(reply, list, () => list.map(serializeGroupType))
    },
  )

  app.delete(
    `${base}/:group_type_index/`,
    {
      config,
      schema: {
        tags,
        summary:
          'Delete a group type mapping (its groups and metrics stay; a new type reusing the index inherits them)',
        params: Type.Object({
          project_id: ProjectIdParam,
          group_type_index: Type.String({ examples: ['0'] }),
        }),
        response: responses({ 204: NoContent }),
      },
    },
    async (request, reply) => {
      const index = parseIndex(request.params.group_type_index)
      if (!(await deleteGroupType(db, projectOf(request).id, index))) throw groupTypeNotFound()
      return reply.code(204).send()
    },
  )

  app.patch(
    `${base}/update_metadata/`,
    {
      config,
      schema: {
        tags,
        summary: 'Rename group types and set their columns, in one all-or-nothing batch',
        params: ProjectParams,
        body: UpdateMetadataBody,
        response: responses({ 200: GroupTypeList }, [400]),
      },
    },
    async (request) =>
      (await updateMetadata(database, projectOf(request).id, request.body)).map(serializeGroupType),
  )

  app.put(
    `${base}/set_default_columns/`,
    {
      config,
      schema: {
        tags,
        summary: 'Set the default columns of one group type',
        params: ProjectParams,
        body: SetDefaultColumnsBody,
        response: responses({ 200: GroupTypeSchema }, [400]),
      },
    },
    async (request) => {
      const projectId = projectOf(request).id
      const { group_type_index: index, default_columns } = request.body
      // Only 0..4 can name a group type; a huge index would also overflow PostgreSQL's integer (500).
      if (index < 0 || index >= MAX_GROUP_TYPES_PER_PROJECT) throw groupTypeNotFound()
      if (!(await updateGroupType(db, projectId, index, { default_columns }))) throw groupTypeNotFound()
      const updated = await getGroupType(db, projectId, index)
      if (!updated) throw groupTypeNotFound()
      return serializeGroupType(updated)
    },
  )
}
