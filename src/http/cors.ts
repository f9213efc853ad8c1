/**
 * CORS for the public SDK endpoints (capture, flags, remote config), which browsers call from any
 * origin: the origin is echoed with credentials allowed, as PostHog does, on every answer including
 * errors, so a page can read why a request failed. The private API (/api/…) sends no CORS headers.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'

export function allowOrigin(request: FastifyRequest, reply: FastifyReply): void {
  const origin = request.headers.origin
  reply.header('access-control-allow-origin', origin ?? '*')
  if (origin) {
    reply.header('access-control-allow-credentials', 'true')
    reply.header('vary', 'Origin')
  }
}

/** Headers answering a preflight for a public endpoint that accepts `methods`. */
export function allowPreflight(request: FastifyRequest, reply: FastifyReply, methods: string): void {
  reply
    .header('access-control-allow-methods', methods)
    .header('access-control-allow-headers', request.headers['access-control-request-headers'] ?? '*')
    .header('access-control-max-age', '86400')
}

/** Paths outside the private API: their 404s carry CORS headers too. */
export const isPublicPath = (url: string) => !/^\/api(?:[/?]|$)/.test(url)
