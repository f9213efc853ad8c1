/**
 * Request body parsers, as DRF's defaults: JSON and form-encoded. Anything else is a 415.
 * An empty body, with or without a content type, means "no data": DRF reads it as {}, so a PATCH
 * without one changes nothing and a POST without one names its required fields. JSON `null` stays
 * null ("Expected a dictionary, but got NoneType.").
 */
import type { FastifyInstance } from 'fastify'
import { ApiError, requestTooLarge } from './errors.ts'

/** Longest declared body read and discarded to answer 413 on an open connection. */
const MAX_DISCARDED_BODY_BYTES = 64 * 1024 * 1024

export function registerContentTypes(app: FastifyInstance): void {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string
    if (text.trim() === '') return done(null, {})
    try {
      done(null, JSON.parse(text))
    } catch (error) {
      done(new ApiError('parse_error', `JSON parse error - ${(error as Error).message}`), undefined)
    }
  })
  // A body declared (Content-Length) over the route's limit is read to its end before the 413, up
  // to MAX_DISCARDED_BODY_BYTES, so the client, still sending, reads the answer: Fastify would close
  // the connection mid-upload, which a client often sees as a reset (a network error it may retry),
  // never as the 413. A longer one gets the 413 at once and the connection is closed.
  app.addHook('preParsing', async (request, reply, payload) => {
    const length = Number(request.headers['content-length'])
    if (!(length > request.routeOptions.bodyLimit)) return payload
    if (length > MAX_DISCARDED_BODY_BYTES) reply.header('connection', 'close')
    else for await (const _ of payload);
    throw requestTooLarge()
  })
  // Without a payload Fastify calls no parser and leaves the body null.
  app.addHook('preValidation', async (request) => {
    const { headers } = request
    const payload = headers['transfer-encoding'] !== undefined || Number(headers['content-length'] ?? 0) > 0
    if (request.body == null && !payload && request.routeOptions.schema?.body) request.body = {}
  })
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => {
      // Like Django's QueryDict.get: the last value of a repeated key wins.
      done(null, Object.fromEntries(new URLSearchParams(body as string)))
    },
  )
}
