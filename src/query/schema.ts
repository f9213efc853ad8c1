/** The query endpoint's wire format: PostHog's QueryRequest and CachedUsageMetricsQueryResponse. */
import { Type } from '@sinclair/typebox'
import { Choice, Nullable } from '../http/schemas.ts'

/** An optional request field of any type; null means "not given", as in PostHog's QueryRequest. */
const loose = (description: string) => Nullable(Type.Unknown(), { description })

export const QueryRequestBody = Type.Object(
  {
    query: Type.Record(Type.String(), Type.Unknown(), {
      description:
        'UsageMetricsQuery: {kind: "UsageMetricsQuery", group_type_index: 0..4, group_key: string}; GroupsQuery: {kind: "GroupsQuery", group_type_index: 0..4, select?, search?, properties?, orderBy?, limit?, offset?}. Other keys (tags, modifiers, response, …) are ignored; null means not given.',
      examples: [
        { kind: 'UsageMetricsQuery', group_type_index: 0, group_key: 'acme' },
        {
          kind: 'GroupsQuery',
          group_type_index: 0,
          select: ['group_name', 'properties.plan', 'created_at'],
          properties: [{ key: 'plan', value: 'pro', type: 'group', group_type_index: 0 }],
          orderBy: ['properties.seats DESC'],
        },
      ],
    }),
    refresh: Type.Optional(
      loose(
        'Execution mode (blocking, async, lazy_async, force_blocking, force_async, force_cache, async_except_on_cache_miss, or a boolean): groupd always answers synchronously',
      ),
    ),
    async: Type.Optional(loose('Legacy async flag; accepted and ignored')),
    client_query_id: Type.Optional(loose('Client-chosen query id')),
    name: Type.Optional(loose('Query name for logs')),
    filters_override: Type.Optional(loose('Dashboard filters; ignored')),
    variables_override: Type.Optional(loose('Dashboard variables; ignored')),
  },
  {
    examples: [
      { query: { kind: 'UsageMetricsQuery', group_type_index: 0, group_key: 'acme' }, refresh: 'blocking' },
    ],
  },
)

export const UsageMetricSchema = Type.Object({
  change_from_previous_pct: Nullable(
    Type.Number({ description: '(value − previous) / previous × 100; null when previous ≤ 0' }),
  ),
  display: Choice(['number', 'sparkline'] as const),
  format: Choice(['numeric', 'currency'] as const),
  id: Type.String({ format: 'uuid' }),
  interval: Type.Integer({ description: 'Window in days' }),
  name: Type.String(),
  previous: Type.Number({ description: 'Total of the previous window [now − 2·interval, now − interval)' }),
  timeseries: Nullable(Type.Array(Type.Number()), {
    description: 'Daily values of the current window (sparkline only)',
  }),
  timeseries_labels: Nullable(Type.Array(Type.String({ format: 'date' })), {
    description: 'UTC dates of timeseries',
  }),
  value: Type.Number({ description: 'Total of the current window [now − interval, now]' }),
})

const Timing = Type.Object({ k: Type.String(), t: Type.Number({ description: 'Seconds' }) })

/** The keys every cached query response has (PostHog's Cached*QueryResponse models); unused ones are null. */
const cached = {
  cache_key: Type.String(),
  cache_target_age: Nullable(Type.String()),
  calculation_trigger: Nullable(Type.String()),
  error: Nullable(Type.String()),
  is_cached: Type.Boolean(),
  last_refresh: Type.String({ format: 'date-time' }),
  modifiers: Nullable(Type.Record(Type.String(), Type.Unknown())),
  next_allowed_client_refresh: Type.String({ format: 'date-time' }),
  query_metadata: Nullable(Type.Record(Type.String(), Type.Unknown())),
  query_status: Nullable(Type.Record(Type.String(), Type.Unknown())),
  resolved_date_range: Nullable(Type.Record(Type.String(), Type.Unknown())),
  timezone: Type.String(),
  timings: Nullable(Type.Array(Timing)),
}

/** CachedGroupsQueryResponse: every key, alphabetical as PostHog's model lists them. */
export const GroupsQueryResponseSchema = Type.Object(
  {
    cache_key: cached.cache_key,
    cache_target_age: cached.cache_target_age,
    calculation_trigger: cached.calculation_trigger,
    columns: Type.Array(Type.String(), { description: 'The select expressions, duplicates removed' }),
    error: cached.error,
    hasMore: Type.Boolean({ description: 'Whether rows follow this page (limit + 1 were fetched)' }),
    hogql: Type.String({ description: 'A HogQL rendering of what ran (informational)' }),
    is_cached: cached.is_cached,
    kind: Type.Literal('GroupsQuery'),
    last_refresh: cached.last_refresh,
    limit: Type.Integer(),
    modifiers: cached.modifiers,
    next_allowed_client_refresh: cached.next_allowed_client_refresh,
    offset: Type.Integer(),
    query_metadata: cached.query_metadata,
    query_status: cached.query_status,
    resolved_date_range: cached.resolved_date_range,
    results: Type.Array(Type.Array(Type.Unknown()), { description: 'Rows: lists in column order' }),
    timezone: cached.timezone,
    timings: cached.timings,
    types: Type.Array(Type.String(), { description: "Each column's type, as ClickHouse names it" }),
  },
  { description: 'GroupsQuery' },
)

/** Every key PostHog's response model has, alphabetical as it lists them; unused ones are null. */
export const UsageMetricsResponseSchema = Type.Object(
  {
    cache_key: cached.cache_key,
    cache_target_age: cached.cache_target_age,
    calculation_trigger: cached.calculation_trigger,
    error: cached.error,
    hogql: Nullable(Type.String()),
    is_cached: cached.is_cached,
    last_refresh: cached.last_refresh,
    modifiers: cached.modifiers,
    next_allowed_client_refresh: cached.next_allowed_client_refresh,
    query_metadata: cached.query_metadata,
    query_status: cached.query_status,
    resolved_date_range: cached.resolved_date_range,
    results: Type.Array(UsageMetricSchema),
    timezone: cached.timezone,
    timings: cached.timings,
  },
  {
    examples: [
      {
        cache_key: 'cache_5f0c…',
        cache_target_age: null,
        calculation_trigger: null,
        error: null,
        hogql: null,
        is_cached: false,
        last_refresh: '2025-10-09T12:11:00.000Z',
        modifiers: null,
        next_allowed_client_refresh: '2025-10-09T12:11:00.000Z',
        query_metadata: null,
        query_status: null,
        resolved_date_range: null,
        results: [
          {
            change_from_previous_pct: 50,
            display: 'sparkline',
            format: 'numeric',
            id: '0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
            interval: 7,
            name: 'Events',
            previous: 4,
            timeseries: [0, 1, 0, 2, 0, 1, 2, 0],
            timeseries_labels: [
              '2025-10-02',
              '2025-10-03',
              '2025-10-04',
              '2025-10-05',
              '2025-10-06',
              '2025-10-07',
              '2025-10-08',
              '2025-10-09',
            ],
            value: 6,
          },
        ],
        timezone: 'UTC',
        timings: [
          { k: './metrics', t: 0.001 },
          { k: './query', t: 0.004 },
          { k: '.', t: 0.005 },
        ],
      },
    ],
  },
)
