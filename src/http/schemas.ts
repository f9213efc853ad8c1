/** Schemas shared by every resource: the error envelope and the responses each route declares. */
import { type SchemaOptions, type TSchema, Type } from '@sinclair/typebox'

export const ErrorSchema = Type.Object(
  {
    type: Type.String({ examples: ['invalid_request'] }),
    code: Type.String({ examples: ['not_found'] }),
    detail: Type.String({ examples: ['Not found.'] }),
    attr: Type.Union([Type.String(), Type.Null()]),
  },
  { description: "PostHog's error envelope" },
)

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Validation error: the first invalid field is named in `attr`',
  401: 'Missing or invalid personal API key',
  403: 'The key lacks the scope, or the project is outside its access',
  404: 'Project or resource not found',
  405: 'Method not allowed on this path',
  413: 'Request body too large',
  415: 'Unsupported media type',
  429: 'Rate limited',
  500: 'Server error (no internals are disclosed)',
  503: 'Database temporarily unavailable; see Retry-After',
}

/** Errors any authenticated route can answer with. */
const PRIVATE_ROUTE_ERRORS = [401, 403, 404, 429, 500, 503]

function errorResponse(status: number) {
  return Type.Object(ErrorSchema.properties, { description: ERROR_DESCRIPTIONS[status] ?? 'Error' })
}

/** Response schemas for a private route: its successes plus every error it can return. */
export function responses(
  success: Record<number, TSchema>,
  extraErrors: number[] = [],
): Record<number, TSchema> {
  const out: Record<number, TSchema> = { ...success }
  for (const status of [...PRIVATE_ROUTE_ERRORS, ...extraErrors].sort()) out[status] = errorResponse(status)
  return out
}

export const Nullable = <T extends TSchema>(schema: T, options?: SchemaOptions) =>
  Type.Union([schema, Type.Null()], options)

/** A DRF ChoiceField: a string from a fixed list (rendered as an OpenAPI enum). */
export function Choice<const T extends readonly string[]>(
  values: T,
  options: { default?: T[number]; description?: string } = {},
) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options })
}

export const NoContent = Type.Null({ description: 'No response body' })

export const ProjectIdParam = Type.String({
  description:
    "Project ID of the project you're trying to access (or `@current`). To find the ID of the project, make a call to /api/projects/.",
})
