/**
 * The SDK's calls besides capture, answered so posthog-js runs quietly with groupd as its only
 * host: `POST /flags/` and `/decide/` ("no flags"), and the remote config `GET /array/<token>/config`
 * (JSON) and `config.js` (script). Public, like capture: CORS on every answer, project token checked.
 */
import type { FastifyInstance, FastifyReply } from 'fastify'
import { decodeCapture, invalidPayload } from '../capture/decode.ts'
import { rawPayload, servePublicly } from '../capture/routes.ts'
import { MAX_PROJECT_TOKEN_LENGTH, projectForToken } from '../capture/token.ts'
import type { Database } from '../db/database.ts'
import { isPlainObject } from '../db/text.ts'
import { allowPreflight } from '../http/cors.ts'
import { ApiError, notFound } from '../http/errors.ts'
import { queryParams } from '../http/query.ts'
import { type FlagsEndpoint, flagsResponse, remoteConfig, remoteConfigScript } from './remote-config.ts'

// PostHog's flags service words (rust/feature-flags api/errors.rs).
const noToken = () =>
  new ApiError(
    'not_authenticated',
    'No API token provided. Please include a valid API token in your request.',
  )
const tokenInvalid = () =>
  new ApiError(
    'authentication_failed',
    'The provided API key is invalid or has expired. Please check your API key and try again.',
  )

/** PostHog's remote config accepts letters, digits, '_' and '-', up to 200 of them; else 400. */
const TOKEN_PATTERN = new RegExp(`^[A-Za-z0-9_-]{1,${MAX_PROJECT_TOKEN_LENGTH}}$`)

function tokenOf(body: Record<string, unknown>): string | undefined {
  for (const candidate of [body.token, body.api_key, body.$token]) {
    if (typeof candidate === 'string' && candidate.trim()) return candidate.trim()
  }
  return undefined
}

/** Config answers may be cached by the browser, as PostHog's are, for 5 minutes. */
const cacheable = (reply: FastifyReply) =>
  reply.header('cache-control', 'public, max-age=300').header('vary', 'Origin, Referer')

export async function sdkConfigRoutes(
  app: FastifyInstance,
  { database }: { database: Database },
): Promise<void> {
  servePublicly(app)

  const configProject = async (token: string) => {
    if (!TOKEN_PATTERN.test(token))
      throw new ApiError(
        'invalid_token',
        "Invalid token: a project API token has 1 to 200 letters, digits, '_' or '-'.",
      )
    const project = await projectForToken(database, token)
    if (!project) throw notFound()
    return project
  }

  const endpoints: [string, FlagsEndpoint][] = [
    ['/flags/', 'flags'],
    ['/decide/', 'decide'],
  ]
  for (const [url, endpoint] of endpoints) {
    const schema = { tags: ['sdk'], security: [], summary: 'Feature flags for an SDK (always none)' }
    app.post(url, { schema }, async (request) => {
      const query = queryParams(request.query)
      const body = (await decodeCapture(rawPayload(request, query))).value
      if (!isPlainObject(body)) throw invalidPayload('Malformed request data: expected a JSON object.')
      const token = tokenOf(body)
      if (!token) throw noToken()
      const project = await projectForToken(database, token)
      if (!project) throw tokenInvalid()
      return flagsResponse(endpoint, query, project.api_token)
    })
    // PostHog answers a GET with its minimal response, token unchecked.
    app.get(url, { schema: { ...schema, summary: 'Minimal flags response' } }, async (request) =>
      flagsResponse(endpoint, queryParams(request.query), undefined),
    )
    app.options(url, { schema: { hide: true } }, async (request, reply) => {
      allowPreflight(request, reply, 'GET, POST, OPTIONS, HEAD')
      return reply.code(204).send()
    })
  }

  const configSchema = { tags: ['sdk'], security: [], summary: 'Remote config for posthog-js' }
  app.get<{ Params: { token: string } }>(
    '/array/:token/config',
    { schema: configSchema },
    async (request, reply) => {
      const project = await configProject(request.params.token)
      cacheable(reply)
      return remoteConfig(project.api_token)
    },
  )
  app.get<{ Params: { token: string } }>(
    '/array/:token/config.js',
    { schema: { ...configSchema, summary: 'Remote config for posthog-js, as a script' } },
    async (request, reply) => {
      const project = await configProject(request.params.token)
      cacheable(reply).type('application/javascript; charset=utf-8')
      return remoteConfigScript(project.api_token)
    },
  )
  for (const url of ['/array/:token/config', '/array/:token/config.js']) {
    app.options(url, { schema: { hide: true } }, async (request, reply) => {
      allowPreflight(request, reply, 'GET, OPTIONS, HEAD')
      return reply.code(204).send()
    })
  }
}
