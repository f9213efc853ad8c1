/** The one place that turns any failure into PostHog's error envelope. */
import http from 'node:http'
import type { Socket } from 'node:net'
import type { ConnectionError, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isQueryTimeout, isUnavailable } from '../db/errors.ts'
import { FilterError } from '../filters/tree.ts'
import { allowOrigin, isPublicPath } from './cors.ts'
import {
  ApiError,
  databaseUnavailable,
  notFound,
  queryTimeout,
  requestTooLarge,
  serverError,
} from './errors.ts'

/** Seconds a client is told to wait when the database is unavailable. */
const UNAVAILABLE_RETRY_AFTER_SECONDS = 5

function toApiError(error: FastifyError, request: FastifyRequest): ApiError {
  if (error instanceof ApiError) return error
  // The filter language's refusals (filters/validate.ts names the field).
  if (error instanceof FilterError) return new ApiError('invalid_input', error.message, error.attr)
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      // DRF's wording; Fastify 5's message no longer names the media type, so take it from the request.
      return new ApiError(
        'unsupported_media_type',
        `Unsupported media type "${request.headers['content-type'] ?? ''}" in request.`,
      )
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return requestTooLarge()
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('parse_error', 'Request body size did not match Content-Length.')
  }
  if (isUnavailable(error)) return databaseUnavailable(UNAVAILABLE_RETRY_AFTER_SECONDS)
  if (isQueryTimeout(error)) return queryTimeout()
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
  app.setNotFoundHandler((request, reply) => {
    // A browser must be able to read the 404 of an SDK asset it asked for (e.g. /static/x.js).
    if (isPublicPath(request.url)) allowOrigin(request, reply)
    const error = notFound()
    return reply.code(404).send(error.body())
  })
}

/**
 * Fastify's `frameworkErrors`: failures before routing, which Fastify would otherwise answer in its
 * own format. A malformed percent-escape or an over-long path parameter names nothing: 404.
 */
export function frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const apiError =
    error.code === 'FST_ERR_BAD_URL' || error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? notFound() : serverError()
  reply.code(apiError.statusCode).send(apiError.body())
}

const CLIENT_ERRORS: Record<string, [status: number, code: string, detail: string]> = {
  HPE_HEADER_OVERFLOW: [431, 'request_header_fields_too_large', 'Request header fields are too large.'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'request_timeout', 'The request was not received in time.'],
}

/**
 * Fastify's `clientErrorHandler`: a request Node's HTTP parser refused (headers over 16 KiB, a
 * malformed request line, a timeout) gets the envelope too, written on the raw socket.
 */
export function clientErrorHandler(error: ConnectionError, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  const [status, code, detail] = CLIENT_ERRORS[error.code] ?? [400, 'parse_error', 'Malformed HTTP request.']
  const body = JSON.stringify({ type: 'invalid_request', code, detail, attr: null })
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
    )
  }
  socket.destroy(error)
}
