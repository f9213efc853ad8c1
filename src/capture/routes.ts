/**
 * Public capture endpoints for PostHog SDKs, authenticated by the project API token (phc_…) found
 * in the payload or query. Any content type is read raw and decoded by decode.ts.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Database } from '../db/database.ts'
import type { EventsStore } from '../events/store.ts'
import { allowOrigin, allowPreflight } from '../http/cors.ts'
import { ApiError, methodNotAllowed } from '../http/errors.ts'
import { queryParams } from '../http/query.ts'
import { decodeCapture, MAX_CAPTURE_PAYLOAD_BYTES } from './decode.ts'
import { readBatch } from './events.ts'
import { ingest } from './ingest.ts'
import { projectForToken } from './token.ts'

export const CAPTURE_PATHS = ['/i/v0/e/', '/e/', '/capture/', '/batch/', '/track/']

const missingKey = () =>
  new ApiError(
    'missing_api_key',
    'API key not provided. You can find your project API key in PostHog project settings.',
  )
const invalidKey = () =>
  new ApiError(
    'invalid_api_key',
    'Project API key invalid. You can find your project API key in PostHog project settings.',
  )

/** The raw body and headers decode.ts reads, from a request whose body was kept as a Buffer. */
export function rawPayload(request: FastifyRequest, query: Record<string, string>) {
  return {
    body: request.body as Buffer | undefined,
    contentType: request.headers['content-type'] ?? '',
    contentEncoding: String(request.headers['content-encoding'] ?? ''),
    query,
  }
}

/**
 * Sets up a plugin scope of public SDK endpoints: every body is kept raw for decode.ts, and every
 * answer, errors included, carries CORS headers for browsers on any origin.
 */
export function servePublicly(app: FastifyInstance): void {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))
  app.addHook('onRequest', async (request, reply) => allowOrigin(request, reply))
}

export async function captureRoutes(
  app: FastifyInstance,
  { database, events }: { database: Database; events: EventsStore },
): Promise<void> {
  servePublicly(app)

  const handle = async (request: FastifyRequest) => {
    const query = queryParams(request.query)
    const batch = readBatch(await decodeCapture(rawPayload(request, query)), query)
    if (!batch.token) throw missingKey()
    const project = await projectForToken(database, batch.token)
    if (!project) throw invalidKey()
    await ingest(database, events, project.id, batch)
    return { status: 1 }
  }

  const schema = { tags: ['capture'], security: [], summary: 'Capture events (PostHog SDK wire format)' }
  for (const url of CAPTURE_PATHS) {
    app.post(url, { bodyLimit: MAX_CAPTURE_PAYLOAD_BYTES, schema }, handle)
    app.get(
      url,
      { schema: { ...schema, summary: 'Capture events sent as ?data= (legacy pixel form)' } },
      handle,
    )
    app.options(url, { schema: { hide: true } }, async (request, reply) => {
      allowPreflight(request, reply, 'GET, POST, OPTIONS')
      return { status: 1 }
    })
    // A known path with another method is a 405, as PostHog's capture service answers it.
    app.route({
      method: ['PUT', 'PATCH', 'DELETE'],
      url,
      schema: { hide: true },
      handler: async (request, reply) => {
        reply.header('allow', 'GET, HEAD, POST, OPTIONS')
        throw methodNotAllowed(request.method)
      },
    })
  }
}
