/**
 * Request body parsers, as DRF's defaults: JSON and form-encoded. Anything else is a 415.
 * An empty JSON body means "no data" (DRF treats it as {}), not a parse error.
 */
import type { FastifyInstance } from 'fastify'
import { ApiError } from './errors.ts'

export function registerContentTypes(app: FastifyInstance): void {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string
    if (text.trim() === '') return done(null, undefined)
    try {
      done(null, JSON.parse(text))
    } catch (error) {
      done(new ApiError('parse_error', `JSON parse error - ${(error as Error).message}`), undefined)
    }
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
