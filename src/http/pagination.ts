/**
 * DRF LimitOffsetPagination, PostHog's page format {count, next, previous, results}: links are the
 * absolute request URL with the query re-encoded, keys sorted, as Django's replace_query_param does.
 */

import type { TSchema } from '@sinclair/typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyRequest } from 'fastify'
import { queryParams } from './query.ts'

export const DEFAULT_PAGE_SIZE = 100
/** A bound PostHog lacks: one page never holds more than this many rows. */
export const MAX_PAGE_SIZE = 1000
/**
 * Larger offsets are read as this one (past every row either way): both engines take it, while an
 * offset of 1e32 or Infinity would fail the query (a 500).
 */
export const MAX_OFFSET = Number.MAX_SAFE_INTEGER

export interface PageRequest {
  limit: number
  offset: number
}

function parseInteger(raw: unknown): number | undefined {
  if (typeof raw !== 'string' || !/^\s*[+-]?\d+\s*$/.test(raw)) return undefined
  return Number(raw)
}

/** limit: missing, invalid, 0 or negative → default, capped; offset: invalid or negative → 0, capped. */
export function pageRequest(query: unknown): PageRequest {
  const q = queryParams(query)
  const limit = parseInteger(q.limit)
  const offset = parseInteger(q.offset)
  return {
    limit: limit !== undefined && limit > 0 ? Math.min(limit, MAX_PAGE_SIZE) : DEFAULT_PAGE_SIZE,
    offset: offset !== undefined && offset > 0 ? Math.min(offset, MAX_OFFSET) : 0,
  }
}

/** Python's urllib.parse.quote_plus: only letters, digits and _.-~ stay literal. */
function quotePlus(text: string): string {
  return encodeURIComponent(text)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+')
}

function linkWith(request: FastifyRequest, changes: Record<string, string | null>): string {
  const [path = '', search = ''] = request.url.split('?', 2)
  const params = new Map<string, string[]>()
  for (const [key, value] of new URLSearchParams(search)) params.set(key, [...(params.get(key) ?? []), value])
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) params.delete(key)
    else params.set(key, [value])
  }
  const keys = [...params.keys()].sort()
  const query = keys
    .flatMap((k) => (params.get(k) ?? []).map((v) => `${quotePlus(k)}=${quotePlus(v)}`))
    .join('&')
  return `${request.protocol}://${request.host}${path}${query ? `?${query}` : ''}`
}

export interface Page<T> {
  count: number
  next: string | null
  previous: string | null
  results: T[]
}

export function page<T>(
  request: FastifyRequest,
  { limit, offset }: PageRequest,
  count: number,
  results: T[],
): Page<T> {
  const next =
    offset + limit >= count
      ? null
      : linkWith(request, { limit: String(limit), offset: String(offset + limit) })
  let previous: string | null = null
  if (offset > 0) {
    previous =
      offset - limit <= 0
        ? linkWith(request, { limit: String(limit), offset: null })
        : linkWith(request, { limit: String(limit), offset: String(offset - limit) })
  }
  return { count, next, previous, results }
}

export const PageQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ description: 'Number of results to return per page.' })),
  offset: Type.Optional(Type.Integer({ description: 'The initial index from which to return the results.' })),
})

export function PageOf<T extends TSchema>(item: T) {
  const link = Type.Union([Type.String({ format: 'uri' }), Type.Null()])
  return Type.Object({
    count: Type.Integer({ examples: [123] }),
    next: link,
    previous: link,
    results: Type.Array(item),
  })
}
