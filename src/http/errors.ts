/**
 * One error type for the whole API, rendered in PostHog's envelope {type, code, detail, attr}.
 * The status and type follow from the code through one table; any code not in the table is a
 * field-validation code (required, blank, max_length, …) and renders as 400 validation_error.
 */

export type ErrorType =
  | 'validation_error'
  | 'invalid_request'
  | 'authentication_error'
  | 'throttled_error'
  | 'server_error'

const CODES: Record<string, { status: number; type: ErrorType }> = {
  parse_error: { status: 400, type: 'invalid_request' },
  not_authenticated: { status: 401, type: 'authentication_error' },
  missing_api_key: { status: 401, type: 'authentication_error' },
  invalid_api_key: { status: 401, type: 'authentication_error' },
  authentication_failed: { status: 401, type: 'authentication_error' },
  permission_denied: { status: 403, type: 'authentication_error' },
  not_found: { status: 404, type: 'invalid_request' },
  method_not_allowed: { status: 405, type: 'invalid_request' },
  request_too_large: { status: 413, type: 'invalid_request' },
  unsupported_media_type: { status: 415, type: 'invalid_request' },
  throttled: { status: 429, type: 'throttled_error' },
  error: { status: 500, type: 'server_error' },
  database_unavailable: { status: 503, type: 'server_error' },
  timeout: { status: 504, type: 'server_error' },
}

export interface ErrorBody {
  type: ErrorType
  code: string
  detail: string
  attr: string | null
}

export class ApiError extends Error {
  readonly statusCode: number
  readonly type: ErrorType

  constructor(
    readonly code: string,
    readonly detail: string,
    readonly attr: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail)
    const known = CODES[code]
    this.statusCode = known?.status ?? 400
    this.type = known?.type ?? 'validation_error'
  }

  body(): ErrorBody {
    return { type: this.type, code: this.code, detail: this.detail, attr: this.attr }
  }
}

export const notFound = (detail = 'Not found.') => new ApiError('not_found', detail)
export const permissionDenied = (detail = 'You do not have permission to perform this action.') =>
  new ApiError('permission_denied', detail)
export const notAuthenticated = () =>
  new ApiError('not_authenticated', 'Authentication credentials were not provided.')
export const authenticationFailed = (detail: string) => new ApiError('authentication_failed', detail)
export const requestTooLarge = () =>
  new ApiError('request_too_large', 'Request body is larger than the limit for this endpoint.')
export const methodNotAllowed = (method: string) =>
  new ApiError('method_not_allowed', `Method "${method}" not allowed.`)
export const validationError = (code: string, detail: string, attr: string | null = null) =>
  new ApiError(code, detail, attr)
export const serverError = () => new ApiError('error', 'A server error occurred.')
export const databaseUnavailable = (retryAfterSeconds: number) =>
  new ApiError(
    'database_unavailable',
    'The database is temporarily unavailable. Please try again shortly.',
    null,
    {
      'retry-after': String(retryAfterSeconds),
    },
  )

export const queryTimeout = () =>
  new ApiError(
    'timeout',
    'The query took too long and was stopped. Narrow it (a search, filters, a smaller page) and try again.',
  )

/** DRF's Throttled: "Request was throttled. Expected available in N second(s)." */
export function throttled(waitSeconds: number): ApiError {
  const unit = waitSeconds === 1 ? 'second' : 'seconds'
  return new ApiError(
    'throttled',
    `Request was throttled. Expected available in ${waitSeconds} ${unit}.`,
    null,
    { 'retry-after': String(waitSeconds) },
  )
}
