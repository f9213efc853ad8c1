/** Public operational routes: liveness and readiness (the OpenAPI document: docs.ts). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Database } from '../db/database.ts'
import type { EventsStore } from '../events/store.ts'

const Status = Type.Object({ status: Type.String(), engine: Type.Optional(Type.String()) })

export const opsRoutes: FastifyPluginAsyncTypebox<{ database: Database; events: EventsStore }> = async (
  app,
  { database, events },
) => {
  app.get(
    '/_health',
    {
      schema: { tags: ['operations'], summary: 'The process is up', security: [], response: { 200: Status } },
    },
    async () => ({ status: 'ok' }),
  )

  app.get(
    '/_ready',
    {
      schema: {
        tags: ['operations'],
        summary: 'The database (and the events store) is reachable',
        security: [],
        response: { 200: Status, 503: Status },
      },
    },
    async (_request, reply) => {
      try {
        await database.ping()
        await events.ping()
        return { status: 'ready', engine: database.engine }
      } catch {
        return reply
          .code(503)
          .header('retry-after', '5')
          .send({ status: 'unavailable', engine: database.engine })
      }
    },
  )
}
