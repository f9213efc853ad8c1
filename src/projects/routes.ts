import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Database } from '../db/database.ts'
import { validatePropertyFilters } from '../filters/validate.ts'
import { projectOf } from '../http/auth.ts'
import { PageOf, PageQuery, page, pageRequest } from '../http/pagination.ts'
import { ProjectIdParam, responses } from '../http/schemas.ts'
import { countProjectsForUser, listProjectsForUser, updateProject } from '../tenancy/projects.ts'
import { ProjectPatchBody, ProjectSchema, serializeProject } from './schema.ts'

export const projectRoutes: FastifyPluginAsyncTypebox<{ database: Database }> = async (app, { database }) => {
  const auth = { scope: 'project' } as const

  app.get(
    '/api/projects/',
    {
      config: { auth },
      schema: {
        tags: ['projects'],
        summary: "List the projects of the key owner's organizations",
        querystring: PageQuery,
        response: responses({ 200: PageOf(ProjectSchema) }),
      },
    },
    async (request) => {
      const key = request.apiKey
      if (request.userId === null) throw new Error('unauthenticated request reached a private handler')
      const filter = {
        userId: request.userId,
        projectIds: key?.scoped_teams,
        organizationIds: key?.scoped_organizations,
      }
      const pageReq = pageRequest(request.query)
      const [count, rows] = await Promise.all([
        countProjectsForUser(database.db, filter),
        listProjectsForUser(database.db, filter, pageReq),
      ])
      return page(request, pageReq, count, rows.map(serializeProject))
    },
  )

  app.get(
    '/api/projects/:project_id/',
    {
      config: { auth },
      schema: {
        tags: ['projects'],
        summary: 'Retrieve a project',
        params: Type.Object({ project_id: ProjectIdParam }),
        response: responses({ 200: ProjectSchema }),
      },
    },
    async (request) => serializeProject(projectOf(request)),
  )

  app.patch(
    '/api/projects/:project_id/',
    {
      config: { auth },
      schema: {
        tags: ['projects'],
        summary: "Change a project's name or test-account filters",
        params: Type.Object({ project_id: ProjectIdParam }),
        body: ProjectPatchBody,
        response: responses({ 200: ProjectSchema }, [400, 413, 415]),
      },
    },
    async (request) => {
      const { name, test_account_filters } = request.body
      if (test_account_filters !== undefined)
        await validatePropertyFilters(database, test_account_filters, 'test_account_filters')
      return serializeProject(
        await updateProject(database.db, projectOf(request).id, { name, test_account_filters }),
      )
    },
  )
}
