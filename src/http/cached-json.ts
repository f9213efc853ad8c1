/**
 * Responses rendered once per cached value: the route's response-schema serializer runs on the
 * first request that sends a cached object and its JSON is reused while that object stays cached
 * (a new object replaces it after any change). `variant` separates renderings of one object that
 * differ by request (pagination links carry the request's host and URL).
 */
import type { FastifyReply } from 'fastify'

/** Renderings kept per cached object; more variants (e.g. Host headers) replace the oldest. */
const MAX_VARIANTS = 8

const rendered = new WeakMap<object, Map<string, string>>()

export function sendCachedJson(
  reply: FastifyReply,
  cached: object,
  payload: () => unknown,
  variant = '',
): FastifyReply {
  let variants = rendered.get(cached)
  if (!variants) {
    variants = new Map()
    rendered.set(cached, variants)
  }
  let json = variants.get(variant)
  if (json === undefined) {
    json = reply.serialize(payload()) as string
    if (variants.size >= MAX_VARIANTS) variants.delete(variants.keys().next().value as string)
    variants.set(variant, json)
  }
  // A string with a JSON content type is sent as it is.
  return reply.type('application/json; charset=utf-8').send(json)
}
