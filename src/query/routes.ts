/**
 * The query endpoint (`POST …/query/`), for the query kinds groupd runs: UsageMetricsQuery (one
 * group's usage metrics) and GroupsQuery (a group type's population). Always synchronous:
 * PostHog's clients use a response whose query_status is null as it is.
 */
import { createHash } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Database } from '../db/database.ts'
import type { EventsStore } from '../events/store.ts'
import { MAX_GROUP_TYPES_PER_PROJECT } from '../group-types/service.ts'
import { projectOf } from '../http/auth.ts'
import { validationError } from '../http/errors.ts'
import { ProjectIdParam, responses } from '../http/schemas.ts'
import { parseGroupsQuery, runGroupsQuery } from './groups.ts'
import { runUsageMetrics } from './run.ts'
import { GroupsQueryResponseSchema, QueryRequestBody, UsageMetricsResponseSchema } from './schema.ts'
import type { UsageMetricsTarget } from './usage-metrics.ts'

const SUPPORTED_KINDS = ['UsageMetricsQuery', 'GroupsQuery']

const invalid = (detail: string, attr: string | null = null) => validationError('invalid_input', detail, attr)

/** The kind as JSON; a value nested too deeply for JSON.stringify (a stack overflow) by its type. */
function shownKind(kind: unknown): string {
  try {
    return JSON.stringify(kind ?? null)
  } catch {
    return Array.isArray(kind) ? 'list' : typeof kind
  }
}

/** The group a UsageMetricsQuery targets, with PostHog's messages for the target rules. */
function checkKind(query: Record<string, unknown>): void {
  if (!SUPPORTED_KINDS.includes(query.kind as string)) {
    throw invalid(
      `Query kind ${shownKind(query.kind)} is not supported: groupd runs ${SUPPORTED_KINDS.join(' and ')}.`,
    )
  }
}

export function queryTarget(query: Record<string, unknown>, projectId: number): UsageMetricsTarget {
  const { group_key: key, person_id: person } = query
  let index = query.group_type_index ?? null
  if (key !== undefined && key !== null && typeof key !== 'string')
    throw invalid('group_key must be a string.')
  // PostgreSQL text cannot hold NUL (no group key can contain one): DRF's message, not a 500.
  if (typeof key === 'string' && key.includes('\u0000'))
    throw validationError('null_characters_not_allowed', 'Null characters are not allowed.', 'group_key')
  if (person !== undefined && person !== null && typeof person !== 'string')
    throw invalid('person_id must be a string.')
  if (typeof index === 'string' && /^-?\d+$/.test(index.trim())) index = Number(index)
  if (index !== null && !(typeof index === 'number' && Number.isInteger(index))) {
    throw invalid('group_type_index must be an integer.')
  }
  const isGroup = Boolean(key) && index !== null
  const isPerson = Boolean(person)
  if (!isGroup && !isPerson) throw invalid('UsageMetricsQuery must have either group_key or person_id')
  if (isGroup && isPerson)
    throw invalid('UsageMetricsQuery must have either group_key or person_id, not both')
  if (isPerson) {
    throw invalid(
      'UsageMetricsQuery by person_id is not supported: groupd has no persons. Query a group with group_type_index and group_key.',
    )
  }
  if ((index as number) < 0 || (index as number) >= MAX_GROUP_TYPES_PER_PROJECT) {
    throw invalid(`group_type_index must be between 0 and ${MAX_GROUP_TYPES_PER_PROJECT - 1}.`)
  }
  return { projectId, groupTypeIndex: index as number, groupKey: key as string }
}

export const queryRoutes: FastifyPluginAsyncTypebox<{ database: Database; events: EventsStore }> = async (
  app,
  { database, events },
) => {
  // A POST that only reads: query:read (PostHog's scope) or group:read.
  const config = { auth: { scope: ['query', 'group'], action: 'read' } } as const

  for (const prefix of ['projects', 'environments']) {
    app.post(
      `/api/${prefix}/:project_id/query/`,
      {
        config,
        schema: {
          tags: ['query'],
          summary:
            'Run a query: UsageMetricsQuery gives every usage metric of the project for one group; GroupsQuery pages, filters, sorts, searches and aggregates a group type’s groups',
          params: Type.Object({ project_id: ProjectIdParam }),
          body: QueryRequestBody,
          response: responses(
            { 200: Type.Union([GroupsQueryResponseSchema, UsageMetricsResponseSchema]) },
            [400, 413, 415],
          ),
        },
      },
      async (request) => {
        const project = projectOf(request)
        const { query } = request.body
        checkKind(query)
        const now = Date.now()
        const at = new Date(now).toISOString()
        const unused = {
          cache_target_age: null,
          calculation_trigger: null,
          error: null,
          is_cached: false,
          last_refresh: at,
          modifiers: null,
          next_allowed_client_refresh: at,
          query_metadata: null,
          query_status: null,
          resolved_date_range: null,
          timezone: 'UTC',
        }
        if (query.kind === 'GroupsQuery') {
          const started = performance.now()
          const parsed = await parseGroupsQuery(database, query, now)
          const result = await runGroupsQuery(database, project.id, parsed)
          const timings = [{ k: '.', t: (performance.now() - started) / 1000 }]
          return { ...unused, ...result, kind: 'GroupsQuery' as const, timings }
        }
        const target = queryTarget(query, project.id)
        const { results, metrics, timings } = await runUsageMetrics(database, events, project, target, now)
        return { ...unused, cache_key: cacheKey(target, metrics), hogql: null, results, timings }
      },
    )
  }
}

/** Stable for the same target and metric definitions, as PostHog's key is. */
function cacheKey(target: UsageMetricsTarget, metrics: { id: string }[]): string {
  const hash = createHash('sha256')
    .update(JSON.stringify([target, metrics]))
    .digest('hex')
  return `cache_${hash.slice(0, 40)}`
}
