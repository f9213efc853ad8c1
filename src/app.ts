/**
 * buildApp(deps) returns a ready Fastify instance with every resource's routes; it never listens.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyInstance } from 'fastify'
import { captureRoutes } from './capture/routes.ts'
import type { RateLimitConfig } from './config.ts'
import type { Database } from './db/database.ts'
import { eventListRoutes } from './events/routes.ts'
import { SqlEventsStore } from './events/sql-store.ts'
import type { EventsStore } from './events/store.ts'
import { groupTypeRoutes } from './group-types/routes.ts'
import { metricRoutes } from './group-usage-metrics/routes.ts'
import { groupPropertyRoutes } from './groups/property-routes.ts'
import { groupRoutes } from './groups/routes.ts'
import { groupWriteRoutes } from './groups/write-routes.ts'
import { registerAuth } from './http/auth.ts'
import { registerContentTypes } from './http/content-types.ts'
import { clientErrorHandler, frameworkErrors, registerErrorHandler } from './http/error-handler.ts'
import { trackRoutes } from './http/method-not-allowed.ts'
import { lazySerializerCompiler } from './http/serializers.ts'
import { validateBody } from './http/validation.ts'
import { ingestionWarningRoutes } from './ingestion-warnings/routes.ts'
import { registerDocs } from './ops/docs.ts'
import { opsRoutes } from './ops/routes.ts'
import { personalApiKeyRoutes } from './personal-api-keys/routes.ts'
import { projectRoutes } from './projects/routes.ts'
import { queryRoutes } from './query/routes.ts'
import { RateLimiter } from './rate-limit/limiter.ts'
import { counterStore } from './rate-limit/store.ts'
import { sdkConfigRoutes } from './sdk-config/routes.ts'
import { userRoutes } from './users/routes.ts'
import { DEFAULT_WEB_ROOT, webAppRoutes } from './web-app/routes.ts'

export interface AppDeps {
  database: Database
  /** Where events are stored and read; the SQL database unless given. */
  events?: EventsStore
  trustProxy?: boolean
  logLevel?: string
  /** Personal-API-key throttling; off unless given. */
  rateLimit?: RateLimitConfig
  /** The built web app (index.html and assets/); defaults to dist/web. */
  webRoot?: string
}

/** Largest accepted API request body. */
export const API_BODY_LIMIT_BYTES = 1024 * 1024

export async function buildApp({
  database,
  events = new SqlEventsStore(database),
  trustProxy = false,
  logLevel,
  rateLimit,
  webRoot = DEFAULT_WEB_ROOT,
}: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: logLevel ? { level: logLevel } : false,
    trustProxy,
    bodyLimit: API_BODY_LIMIT_BYTES,
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 500 },
    ajv: { customOptions: { coerceTypes: false } },
    // Errors raised before routing, or by Node's HTTP parser, in the envelope too.
    frameworkErrors,
    clientErrorHandler,
  }).withTypeProvider<TypeBoxTypeProvider>()

  // Bodies get DRF's validation; path and query parameters are parsed by the handlers, which
  // (like DRF) fall back to defaults or answer 404 rather than reject them.
  app.setValidatorCompiler(({ schema, method, httpPart }) => {
    if (httpPart !== 'body') return (data) => ({ value: data })
    const partial = method === 'PATCH'
    return (data) => {
      try {
        return { value: validateBody(schema, data, partial) }
      } catch (error) {
        return { error: error as Error }
      }
    }
  })

  app.setSerializerCompiler(lazySerializerCompiler())

  registerContentTypes(app)
  registerErrorHandler(app)
  const limiter = new RateLimiter(
    () => counterStore(database),
    rateLimit ?? { enabled: false, burst: 0, sustained: 0 },
  )
  app.addHook('onClose', () => limiter.close())
  registerAuth(app, database, limiter)
  const addMethodNotAllowedRoutes = trackRoutes(app)

  registerDocs(app)

  await app.register(opsRoutes, { database, events })
  await app.register(projectRoutes, { database })
  await app.register(groupTypeRoutes, { database })
  await app.register(metricRoutes, { database })
  await app.register(groupRoutes, { database })
  await app.register(groupWriteRoutes, { database, events })
  await app.register(groupPropertyRoutes, { database })
  await app.register(eventListRoutes, { database })
  await app.register(ingestionWarningRoutes, { database })
  await app.register(queryRoutes, { database, events })
  await app.register(captureRoutes, { database, events })
  await app.register(sdkConfigRoutes, { database })
  await app.register(userRoutes, { database })
  await app.register(personalApiKeyRoutes, { database })
  await app.register(webAppRoutes, { root: webRoot })

  addMethodNotAllowedRoutes()
  return app
}
