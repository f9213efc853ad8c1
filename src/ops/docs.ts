/**
 * The OpenAPI document (/api/schema/) and its interactive page (/api/docs/), built on first use:
 * @fastify/swagger and swagger-ui cost a sixth of a cold start, and most processes never serve
 * them. Every route registered after registerDocs is remembered; the first request builds a
 * separate, never-listening Fastify instance holding the same routes (schemas, no handlers) with
 * swagger registered, and /api/docs/ requests are answered by injecting into it.
 */
import type { FastifyInstance, HTTPMethods, RouteOptions } from 'fastify'

const OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'groupd',
    version: '0.1.0',
    description: "PostHog-compatible group types and group usage metrics API. Errors use PostHog's envelope.",
  },
  components: {
    securitySchemes: {
      PersonalAPIKeyAuth: { type: 'http', scheme: 'bearer', description: 'Personal API key (phx_…)' },
    },
  },
  security: [{ PersonalAPIKeyAuth: [] }],
} as const

const DOCS_PREFIX = '/api/docs'
/** Response headers of the docs pages worth passing on (not framing: Node sets that itself). */
const PASSED_HEADERS = ['content-type', 'cache-control', 'etag', 'last-modified', 'location', 'vary']

async function buildDocsApp(routes: RouteOptions[]): Promise<FastifyInstance> {
  const [{ default: Fastify }, { default: swagger }, { default: swaggerUi }] = await Promise.all([
    import('fastify'),
    import('@fastify/swagger'),
    import('@fastify/swagger-ui'),
  ])
  const docs = Fastify({ exposeHeadRoutes: false, routerOptions: { ignoreTrailingSlash: true } })
  // Only the document is wanted: no validators or serializers are compiled.
  docs.setValidatorCompiler(() => () => true)
  docs.setSerializerCompiler(() => (data) => JSON.stringify(data))
  await docs.register(swagger, { openapi: OPENAPI as never })
  await docs.register(swaggerUi, { routePrefix: DOCS_PREFIX, uiConfig: { deepLinking: true } })
  await docs.register(async (scope) => {
    for (const { method, url, schema } of routes) {
      scope.route({ method, url, schema, handler: async () => null })
    }
  })
  await docs.ready()
  return docs
}

export function registerDocs(app: FastifyInstance): void {
  const routes: RouteOptions[] = []
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith(DOCS_PREFIX)) routes.push(route)
  })
  let docs: Promise<FastifyInstance> | undefined
  const docsApp = () => {
    docs ??= buildDocsApp(routes)
    return docs
  }

  app.get(
    '/api/schema/',
    { schema: { tags: ['operations'], summary: 'This OpenAPI 3.1 document', security: [] } },
    async () => (await docsApp()).swagger(),
  )

  for (const url of [DOCS_PREFIX, `${DOCS_PREFIX}/*`]) {
    app.route({
      method: ['GET', 'HEAD'],
      url,
      schema: { hide: true },
      handler: async (request, reply) => {
        const res = await (await docsApp()).inject({
          method: request.method as HTTPMethods,
          url: request.url,
          headers: request.headers,
        })
        for (const name of PASSED_HEADERS) {
          const value = res.headers[name]
          if (value !== undefined) reply.header(name, value)
        }
        return reply.code(res.statusCode).send(res.rawPayload)
      },
    })
  }
}
