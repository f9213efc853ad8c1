/**
 * Public capture endpoints for PostHog SDKs, authenticated by the project API token (phc_…) found
 * in the payload or query. Any content type is read raw and decoded by decode.ts.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Database } from '../db/database.ts'
import { ApiError } from '../http/errors.ts'
import { queryParams } from '../http/query.ts'
import { getProjectByToken } from '../tenancy/projects.ts'
import { PERSONAL_API_KEY_PREFIX } from '../tenancy/tokens.ts'
import { decodeCapture, MAX_CAPTURE_PAYLOAD_BYTES } from './decode.ts'
import { readBatch } from './events.ts'
import { ingest } from './ingest.ts'

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

/** Browsers send events cross-origin: echo the origin and allow credentials, as PostHog does. */
function cors(request: FastifyRequest, reply: FastifyReply): void {
  const origin = request.headers.origin
  reply.header('access-control-allow-origin', origin ?? '*')
  if (origin) {
    reply.header('access-control-allow-credentials', 'true')
    reply.header('vary', 'Origin')
  }
}

export async function captureRoutes(
  app: FastifyInstance,
  { database }: { database: Database },
): Promise<void> {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))
  app.addHook('onRequest', async (request, reply) => cors(request, reply))

  const handle = async (request: FastifyRequest) => {
    const query = queryParams(request.query)
    const payload = await decodeCapture({
      method: request.method,
      body: request.body as Buffer | undefined,
      contentType: request.headers['content-type'] ?? '',
      contentEncoding: String(request.headers['content-encoding'] ?? ''),
      query,
    })
    const batch = readBatch(payload, query)
    if (!batch.token) throw missingKey()
    if (batch.token.startsWith(PERSONAL_API_KEY_PREFIX) || batch.token.length > 200) throw invalidKey()
    const project = await getProjectByToken(database.db, batch.token)
    if (!project) throw invalidKey()
    await ingest(database, project.id, batch)
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
      reply
        .header('access-control-allow-methods', 'GET, POST, OPTIONS')
        .header('access-control-allow-headers', request.headers['access-control-request-headers'] ?? '*')
        .header('access-control-max-age', '86400')
      return { status: 1 }
    })
  }
}
