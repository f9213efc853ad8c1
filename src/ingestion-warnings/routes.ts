/** What capture dropped and why, per type, newest first (PostHog's ingestion warnings view). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Database } from '../db/database.ts'
import { projectOf } from '../http/auth.ts'
import { ProjectIdParam, responses } from '../http/schemas.ts'
import { summarizeWarnings } from './store.ts'

/** PostHog shows the last 30 days and up to 50 examples per type. */
const WINDOW_DAYS = 30
const EXAMPLES_PER_TYPE = 50

const Warning = Type.Object({
  type: Type.String({ examples: ['group_type_limit_reached'] }),
  timestamp: Type.String({ format: 'date-time' }),
  details: Type.Record(Type.String(), Type.Unknown()),
})

export const ingestionWarningRoutes: FastifyPluginAsyncTypebox<{ database: Database }> = async (
  app,
  { database },
) => {
  app.get(
    '/api/projects/:project_id/ingestion_warnings/',
    {
      config: { auth: { scope: 'project' } },
      schema: {
        tags: ['ingestion_warnings'],
        summary: `Ingestion warnings of the last ${WINDOW_DAYS} days, grouped by type, newest first`,
        params: Type.Object({ project_id: ProjectIdParam }),
        response: responses({
          200: Type.Object({
            results: Type.Array(
              Type.Object({
                type: Type.String(),
                lastSeen: Type.String({ format: 'date-time' }),
                count: Type.Integer(),
                warnings: Type.Array(Warning),
              }),
            ),
          }),
        }),
      },
    },
    async (request) => {
      const since = new Date(Date.now() - WINDOW_DAYS * 86_400_000).toISOString()
      const summaries = await summarizeWarnings(database.db, projectOf(request).id, since, EXAMPLES_PER_TYPE)
      return {
        results: summaries.map((s) => ({
          type: s.type,
          lastSeen: s.lastSeen,
          count: s.count,
          warnings: s.warnings.map((w) => ({ type: w.type, timestamp: w.timestamp, details: w.details })),
        })),
      }
    },
  )
}
