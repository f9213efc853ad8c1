/**
 * PostHog's legacy events list (`GET /api/projects/:id/events/`), newest first with a keyset
 * `next`. `properties` takes the filter language of metrics (src/filters/parse.ts), so a group's
 * events are `[{"key": "$group_0", "value": "acme", "type": "event_metadata"}]`.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Database } from '../db/database.ts'
import { isUuid } from '../db/ids.ts'
import { type Expr, TRUE } from '../filters/tree.ts'
import { validatePropertyFilters } from '../filters/validate.ts'
import { projectOf } from '../http/auth.ts'
import { validationError } from '../http/errors.ts'
import { queryParams } from '../http/query.ts'
import { Nullable, ProjectIdParam, responses } from '../http/schemas.ts'
import { drfDateTime } from '../http/wire.ts'
import { SqlEventsStore } from './sql-store.ts'
import type { StoredEvent } from './store.ts'

export const DEFAULT_EVENTS_LIMIT = 100
export const MAX_EVENTS_LIMIT = 1000
const MAX_FILTERS = 20

const EventSchema = Type.Object({
  id: Type.String(),
  distinct_id: Type.String(),
  properties: Type.Record(Type.String(), Type.Unknown()),
  event: Type.String(),
  timestamp: Type.String({ format: 'date-time' }),
  person: Type.Null(),
  elements: Type.Array(Type.Unknown()),
  elements_chain: Type.String(),
})

const invalid = (detail: string, attr: string) => validationError('invalid_input', detail, attr)
const nullCharacters = (attr: string) =>
  validationError('null_characters_not_allowed', 'Null characters are not allowed.', attr)

/** `properties`: a JSON list of PostHog property filters, in the shared filter language. */
async function propertyFilters(database: Database, raw: string | undefined): Promise<Expr> {
  if (!raw) return TRUE
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    throw invalid('Properties are not valid JSON.', 'properties')
  }
  if (Array.isArray(parsed) && parsed.length > MAX_FILTERS)
    throw invalid(`Properties may hold at most ${MAX_FILTERS} filters.`, 'properties')
  // PostgreSQL text cannot hold NUL, so no stored value contains one (capture replaces it).
  if (JSON.stringify(parsed).includes('\\u0000')) throw nullCharacters('properties')
  return validatePropertyFilters({ engine: database.engine, db: database.db }, parsed, 'properties')
}

function instant(raw: string | undefined, attr: string): string | undefined {
  if (raw === undefined || raw === '') return undefined
  const ms = Date.parse(raw)
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) throw invalid('Enter a valid date/time.', attr)
  return new Date(ms).toISOString()
}

function encodeCursor(e: StoredEvent): string {
  return Buffer.from(JSON.stringify({ t: e.timestamp, u: e.uuid })).toString('base64url')
}

function decodeCursor(raw: string | undefined): { timestamp: string; uuid: string } | undefined {
  if (!raw) return undefined
  try {
    const data = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'))
    const timestamp = instant(String(data?.t), 'cursor')
    if (typeof data?.u === 'string' && isUuid(data.u) && timestamp) return { timestamp, uuid: data.u }
  } catch {
    // fall through: a bad cursor is the client's error
  }
  throw invalid('Invalid cursor.', 'cursor')
}

const serialize = (e: StoredEvent) => ({
  id: e.uuid,
  distinct_id: e.distinct_id,
  properties: e.properties,
  event: e.event,
  timestamp: drfDateTime(e.timestamp) as string,
  person: null,
  elements: [],
  elements_chain: '',
})

export const eventListRoutes: FastifyPluginAsyncTypebox<{ database: Database }> = async (
  app,
  { database },
) => {
  const store = new SqlEventsStore(database)
  app.get(
    '/api/projects/:project_id/events/',
    {
      config: { auth: { scope: ['query', 'group'], action: 'read' } },
      schema: {
        tags: ['events'],
        summary: 'List events, newest first (PostHog legacy shape; forward-only `next`)',
        params: Type.Object({ project_id: ProjectIdParam }),
        querystring: Type.Object({
          properties: Type.Optional(Type.String({ description: 'JSON list of property filters' })),
          event: Type.Optional(Type.String()),
          before: Type.Optional(Type.String({ format: 'date-time' })),
          after: Type.Optional(Type.String({ format: 'date-time' })),
          limit: Type.Optional(
            Type.Integer({ minimum: 1, maximum: MAX_EVENTS_LIMIT, default: DEFAULT_EVENTS_LIMIT }),
          ),
          cursor: Type.Optional(Type.String()),
        }),
        response: responses(
          { 200: Type.Object({ next: Nullable(Type.String()), results: Type.Array(EventSchema) }) },
          [400],
        ),
      },
    },
    async (request) => {
      const q = queryParams(request.query)
      let limit = DEFAULT_EVENTS_LIMIT
      if (q.limit !== undefined) {
        if (!/^\d{1,9}$/.test(q.limit) || Number(q.limit) < 1)
          throw invalid('A valid integer is required.', 'limit')
        limit = Math.min(Number(q.limit), MAX_EVENTS_LIMIT)
      }
      const rows = await store.listEvents({
        projectId: projectOf(request).id,
        event: q.event || undefined,
        expr: await propertyFilters(database, q.properties),
        before: instant(q.before, 'before'),
        after: instant(q.after, 'after'),
        cursor: decodeCursor(q.cursor),
        limit: limit + 1,
      })
      const page = rows.slice(0, limit)
      const last = page.at(-1)
      let next: string | null = null
      if (rows.length > limit && last) {
        const params = new URLSearchParams(q)
        params.set('cursor', encodeCursor(last))
        next = `${request.protocol}://${request.host}${request.url.split('?')[0]}?${params}`
      }
      return { next, results: page.map(serialize) }
    },
  )
}
