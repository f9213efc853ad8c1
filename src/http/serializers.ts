/**
 * Response serializers compiled on a route's first response instead of at start. Fastify's
 * default compiler (fast-json-stringify, the same one wrapped here) builds one serializer per
 * route and status when the server starts, which was about half of groupd's start-up time (its
 * schema walks and the ajv validators it builds for unions). Each route now pays that once, on
 * its first answer with that status; the serializers are the default's, so output is unchanged.
 */
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler'
import type { FastifySerializerCompiler } from 'fastify/types/schema.js'

export function lazySerializerCompiler(): FastifySerializerCompiler<unknown> {
  const compile = SerializerSelector()()
  return (route) => {
    let serialize: ((data: unknown) => string) | undefined
    return (data) => {
      serialize ??= compile(route as Parameters<typeof compile>[0])
      return serialize(data)
    }
  }
}
