/**
 * DRF answers a known path with an unsupported method by 405, after authenticating. Fastify would
 * say 404, so every private path gets its missing methods registered as 405 routes.
 */
import type { FastifyInstance } from 'fastify'
import { methodNotAllowed } from './errors.ts'

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const

export function trackRoutes(app: FastifyInstance): () => void {
  const paths = new Map<string, Set<string>>()
  app.addHook('onRoute', (route) => {
    if (!route.config?.auth) return
    const methods = paths.get(route.url) ?? new Set<string>()
    for (const method of [route.method].flat()) methods.add(method)
    paths.set(route.url, methods)
  })
  return () => {
    for (const [url, methods] of paths) {
      const missing = METHODS.filter((m) => !methods.has(m))
      if (missing.length === 0) continue
      app.route({
        method: missing,
        url,
        config: { auth: { scope: null } },
        schema: { hide: true },
        handler: async (request) => {
          throw methodNotAllowed(request.method)
        },
      })
    }
    paths.clear()
  }
}
