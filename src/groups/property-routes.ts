/** The filter builder's autocomplete: group property keys and values (wave-3 notes §3). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Database } from '../db/database.ts'
import { projectOf } from '../http/auth.ts'
import { validationError } from '../http/errors.ts'
import { queryParams } from '../http/query.ts'
import { ProjectIdParam, responses } from '../http/schemas.ts'
import { propertyDefinitions, propertyValues } from './properties.ts'
import { indexParam } from './routes.ts'

const NameCount = Type.Object({ name: Type.String(), count: Type.Integer() })

export const groupPropertyRoutes: FastifyPluginAsyncTypebox<{ database: Database }> = async (
  app,
  { database },
) => {
  const config = { auth: { scope: 'group' } } as const
  const tags = ['groups']
  const params = Type.Object({ project_id: ProjectIdParam })

  app.get(
    '/api/projects/:project_id/groups/property_values/',
    {
      config,
      schema: {
        tags,
        summary: 'The 20 most common values of a group property, with how many groups hold each',
        params,
        querystring: Type.Object({
          group_type_index: Type.Integer(),
          key: Type.String({ description: 'The property' }),
          value: Type.Optional(Type.String({ description: 'Keep values containing it (case-insensitive)' })),
        }),
        response: responses(
          { 200: Type.Object({ results: Type.Array(NameCount), refreshing: Type.Boolean() }) },
          [400],
        ),
      },
    },
    async (request) => {
      const q = queryParams(request.query)
      const index = indexParam(q.group_type_index, 'This query parameter is required.')
      if (!q.key) throw validationError('invalid_input', 'This query parameter is required.', 'key')
      const results = await propertyValues(database, projectOf(request).id, index, q.key, q.value)
      return { results, refreshing: false }
    },
  )

  app.get(
    '/api/projects/:project_id/groups/property_definitions/',
    {
      config,
      schema: {
        tags,
        summary: "Each group type's property keys, with how many of its groups have each, most common first",
        params,
        response: responses(
          {
            200: Type.Record(Type.String(), Type.Array(NameCount), {
              description: 'Keyed by group type index (as a string); types without properties are absent',
            }),
          },
          [],
        ),
      },
    },
    async (request) => propertyDefinitions(database, projectOf(request).id),
  )
}
