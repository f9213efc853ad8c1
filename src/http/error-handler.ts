/** The one place that turns any failure into PostHog's error envelope. */
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify'
import { isUnavailable } from '../db/errors.ts'
import { ApiError, databaseUnavailable, notFound, serverError } from './errors.ts'

/** Seconds a client is told to wait when the database is unavailable. */
const UNAVAILABLE_RETRY_AFTER_SECONDS = 5

function toApiError(error: FastifyError, request: FastifyRequest): ApiError {
  if (error instanceof ApiError) return error
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      // DRF's wording; Fastify 5's message no longer names the media type, so take it from the request.
      return new ApiError(
        'unsupported_media_type',
        `Unsupported media type "${request.headers['content-type'] ?? ''}" in request.`,
      )
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('request_too_large', 'Request body is larger than the limit for this endpoint.')
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('parse_error', 'Request body size did not match Content-Length.')
  }
  if (isUnavailable(error)) return databaseUnavailable(UNAVAILABLE_RETRY_AFTER_SECONDS)
  return serverError()
}

export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const apiError = toApiError(error, request)
    if (apiError.statusCode >= 500) request.log.error({ err: error }, 'request failed')
    const headers: Record<string, string> = { ...apiError.headers }
    if (apiError.statusCode === 401) headers['www-authenticate'] = 'Bearer'
    return reply.code(apiError.statusCode).headers(headers).send(apiError.body())
  })
  app.setNotFoundHandler((_request, reply) => {
    const error = notFound()
    return reply.code(404).send(error.body())
  })
}
