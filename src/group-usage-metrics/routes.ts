import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import type { Database } from '../db/database.ts'
import { parseUuid } from '../db/ids.ts'
import { MAX_GROUP_TYPES_PER_PROJECT } from '../group-types/service.ts'
import { projectOf } from '../http/auth.ts'
import { sendCachedJson } from '../http/cached-json.ts'
import { notFound } from '../http/errors.ts'
import { PageOf, PageQuery, page, pageRequest } from '../http/pagination.ts'
import { NoContent, responses } from '../http/schemas.ts'
import { cachedMetric, cachedMetricsPage } from './cache.ts'
import { MetricBody, MetricItemParams, MetricParams, MetricSchema, serializeMetric } from './schema.ts'
import { changeMetric, createMetric } from './service.ts'
import { deleteMetric, type Metric, type Scope } from './store.ts'

/** The (project, group type index) a request addresses; an index outside 0..4 is 404. */
function scopeOf(request: FastifyRequest): Scope {
  const raw = (request.params as { group_type_index: string }).group_type_index
  const index = /^\d$/.test(raw) ? Number(raw) : -1
  if (index < 0 || index >= MAX_GROUP_TYPES_PER_PROJECT) throw notFound()
  return { projectId: projectOf(request).id, groupTypeIndex: index }
}

export const metricRoutes: FastifyPluginAsyncTypebox<{ database: Database }> = async (app, { database }) => {
  const db = database.db
  // Reads need usage_metric:read or group:read, writes the matching write scope (PostHog's newest
  // code says usage_metric, its published docs say group).
  const config = { auth: { scope: ['usage_metric', 'group'] } } as const
  const tags = ['groups_types metrics']
  const base = '/api/projects/:project_id/groups_types/:group_type_index/metrics'
  const found = new WeakMap<FastifyRequest, { scope: Scope; metric: Metric }>()

  /** Resolves the addressed metric before the body is validated: an unknown id is 404 first, as in DRF. */
  const loadMetric = async (request: FastifyRequest) => {
    const scope = scopeOf(request)
    const id = parseUuid((request.params as { id: string }).id)
    const metric = id ? await cachedMetric(database, scope, id) : undefined
    if (!metric) throw notFound()
    found.set(request, { scope, metric })
  }
  const loaded = (request: FastifyRequest) => {
    const entry = found.get(request)
    if (!entry) throw new Error('metric was not loaded')
    return entry
  }

  app.get(
    `${base}/`,
    {
      config,
      schema: {
        tags,
        summary: 'List the metrics of a group type, in creation order',
        params: MetricParams,
        querystring: PageQuery,
        response: responses({ 200: PageOf(MetricSchema) }),
      },
    },
    async (request, reply) => {
      const scope = scopeOf(request)
      const pageReq = pageRequest(request.query)
      const cached = await cachedMetricsPage(database, scope, pageReq)
      const body = () => page(request, pageReq, cached.count, cached.metrics.map(serializeMetric))
      return sendCachedJson(reply, cached, body, `${request.protocol}://${request.host}${request.url}`)
    },
  )

  app.post(
    `${base}/`,
    {
      config,
      preValidation: async (request) => void scopeOf(request),
      schema: {
        tags,
        summary: 'Create a metric',
        params: MetricParams,
        body: MetricBody,
        response: responses({ 201: MetricSchema }, [400, 413, 415]),
      },
    },
    async (request, reply) => {
      const metric = await createMetric(database, scopeOf(request), request.body)
      return reply.code(201).send(serializeMetric(metric))
    },
  )

  app.get(
    `${base}/:id/`,
    {
      config,
      preValidation: loadMetric,
      schema: {
        tags,
        summary: 'Retrieve a metric',
        params: MetricItemParams,
        response: responses({ 200: MetricSchema }),
      },
    },
    async (request, reply) => {
      const { metric } = loaded(request)
      return sendCachedJson(reply, metric, () => serializeMetric(metric))
    },
  )

  for (const method of ['PUT', 'PATCH'] as const) {
    app.route({
      method,
      url: `${base}/:id/`,
      config,
      preValidation: loadMetric,
      schema: {
        tags,
        summary:
          method === 'PUT'
            ? 'Replace a metric (omitted format, interval, display and math reset to defaults)'
            : 'Update some fields of a metric',
        params: MetricItemParams,
        body: MetricBody,
        response: responses({ 200: MetricSchema }, [400, 413, 415]),
      },
      handler: async (request) => {
        const { scope, metric } = loaded(request)
        return serializeMetric(await changeMetric(database, scope, metric.id, request.body))
      },
    })
  }

  app.delete(
    `${base}/:id/`,
    {
      config,
      preValidation: loadMetric,
      schema: {
        tags,
        summary: 'Delete a metric',
        params: MetricItemParams,
        response: responses({ 204: NoContent }),
      },
    },
    async (request, reply) => {
      const { scope, metric } = loaded(request)
      if (!(await deleteMetric(db, scope, metric.id))) throw notFound()
      return reply.code(204).send()
    },
  )
}
