/**
 * What DRF answers on a known private path besides its routes: an unsupported method is a 405 and
 * OPTIONS describes the view (SimpleMetadata, without the per-field `actions`), both after
 * authentication (OPTIONS needs the path's read scope) and both with `Allow` listing the path's
 * methods in Django's order. Fastify would say 404, so every private path gets these routes.
 */
import type { FastifyInstance } from 'fastify'
import type { RouteAuth } from './auth.ts'
import { methodNotAllowed } from './errors.ts'

/** Django's http_method_names order, which DRF's `Allow` follows. */
const ORDER = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const
const REFUSED = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const

interface PathRoutes {
  methods: Set<string>
  scopes: Set<string>
  sessionOnly: boolean
}

/** The view's name as DRF derives it: the last named segment, and List or Instance. */
function viewName(url: string): string {
  const segments = url.split('/').filter(Boolean)
  const last = [...segments].reverse().find((s) => !s.startsWith(':')) ?? 'api'
  const words = last.split('_').map((w) => w.charAt(0).toUpperCase() + w.slice(1))
  return `${words.join(' ')} ${segments.at(-1)?.startsWith(':') ? 'Instance' : 'List'}`
}

export function trackRoutes(app: FastifyInstance): () => void {
  const paths = new Map<string, PathRoutes>()
  app.addHook('onRoute', (route) => {
    const auth = route.config?.auth
    if (!auth) return
    const entry = paths.get(route.url) ?? { methods: new Set(), scopes: new Set(), sessionOnly: true }
    for (const method of [route.method].flat()) entry.methods.add(method)
    for (const scope of [auth.scope ?? []].flat()) entry.scopes.add(scope)
    entry.sessionOnly &&= auth.sessionOnly === true
    paths.set(route.url, entry)
  })
  return () => {
    for (const [url, { methods, scopes, sessionOnly }] of paths) {
      const allowed = new Set([...methods, 'OPTIONS', ...(methods.has('GET') ? ['HEAD'] : [])])
      const allow = ORDER.filter((m) => allowed.has(m)).join(', ')
      const refused = REFUSED.filter((m) => !methods.has(m))
      if (refused.length > 0) {
        app.route({
          method: refused,
          url,
          config: { auth: { scope: null } },
          schema: { hide: true },
          handler: async (request, reply) => {
            reply.header('allow', allow)
            throw methodNotAllowed(request.method)
          },
        })
      }
      if (methods.has('OPTIONS')) continue
      const scope = scopes.size > 0 ? ([...scopes] as RouteAuth['scope']) : null
      const auth: RouteAuth = { scope, action: 'read', sessionOnly }
      app.route({
        method: 'OPTIONS',
        url,
        config: { auth },
        schema: { hide: true },
        handler: async (_request, reply) => {
          reply.header('allow', allow)
          return {
            name: viewName(url),
            description: '',
            renders: ['application/json'],
            parses: ['application/json', 'application/x-www-form-urlencoded'],
          }
        },
      })
    }
    paths.clear()
  }
}
