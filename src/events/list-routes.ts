/**
 * PostHog's legacy events list (`GET /api/projects/:id/events/`), newest first with a keyset
 * `next`. `properties` takes PostHog property filters; until the shared filter language lands,
 * the event_metadata filters on `$group_0`…`$group_4` and `distinct_id` (exact / is_not) are
 * supported, which is what a group's profile asks for.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Database } from '../db/database.ts'
import { projectOf } from '../http/auth.ts'
import { validationError } from '../http/errors.ts'
import { queryParams } from '../http/query.ts'
import { Nullable, ProjectIdParam, responses } from '../http/schemas.ts'
import { drfDateTime } from '../http/wire.ts'
import { type ColumnFilter, listEvents, type StoredEvent } from './list-store.ts'

export const DEFAULT_EVENTS_LIMIT = 100
export const MAX_EVENTS_LIMIT = 1000
const MAX_FILTERS = 20
const MAX_FILTER_VALUES = 100

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

function columnFor(key: unknown): ColumnFilter['column'] | undefined {
  if (key === 'distinct_id') return 'distinct_id'
  const match = typeof key === 'string' ? /^\$group_([0-4])$/.exec(key) : null
  return match ? (`group_${match[1]}` as ColumnFilter['column']) : undefined
}

export function parsePropertyFilters(raw: string | undefined): ColumnFilter[] {
  if (!raw) return []
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    throw invalid('Properties are not valid JSON.', 'properties')
  }
  if (!Array.isArray(parsed) || parsed.length > MAX_FILTERS)
    throw invalid(`Properties must be a JSON list of at most ${MAX_FILTERS} filters.`, 'properties')
  return parsed.map((f) => {
    const column = f && typeof f === 'object' ? columnFor(f.key) : undefined
    const operator = f?.operator ?? 'exact'
    if (!column || f.type !== 'event_metadata' || (operator !== 'exact' && operator !== 'is_not'))
      throw invalid(
        'Unsupported property filter: the events list supports event_metadata filters on $group_0…$group_4 and distinct_id with operator exact or is_not.',
        'properties',
      )
    const values = (Array.isArray(f.value) ? f.value : [f.value]).map(String)
    if (values.length === 0 || values.length > MAX_FILTER_VALUES)
      throw invalid(`A filter needs 1 to ${MAX_FILTER_VALUES} values.`, 'properties')
    return { column, values, negate: operator === 'is_not' }
  })
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
    if (typeof data?.u === 'string' && timestamp) return { timestamp, uuid: data.u }
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
  app.get(
    '/api/projects/:project_id/events/',
    {
      config: { auth: { scope: 'group', action: 'read' } },
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
      const rows = await listEvents(database.db, {
        projectId: projectOf(request).id,
        event: q.event || undefined,
        filters: parsePropertyFilters(q.properties),
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
