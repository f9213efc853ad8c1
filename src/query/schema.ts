/** The query endpoint's wire format: PostHog's QueryRequest and CachedUsageMetricsQueryResponse. */
import { Type } from '@sinclair/typebox'
import { Choice, Nullable } from '../http/schemas.ts'

/** An optional request field of any type; null means "not given", as in PostHog's QueryRequest. */
const loose = (description: string) => Nullable(Type.Unknown(), { description })

export const QueryRequestBody = Type.Object(
  {
    query: Type.Record(Type.String(), Type.Unknown(), {
      description:
        'UsageMetricsQuery: {kind: "UsageMetricsQuery", group_type_index: 0..4, group_key: string}. Other keys (tags, modifiers, response, …) are ignored; null means not given.',
      examples: [{ kind: 'UsageMetricsQuery', group_type_index: 0, group_key: 'acme' }],
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

/** Every key PostHog's response model has, alphabetical as it lists them; unused ones are null. */
export const UsageMetricsResponseSchema = Type.Object(
  {
    cache_key: Type.String(),
    cache_target_age: Nullable(Type.String()),
    calculation_trigger: Nullable(Type.String()),
    error: Nullable(Type.String()),
    hogql: Nullable(Type.String()),
    is_cached: Type.Boolean(),
    last_refresh: Type.String({ format: 'date-time' }),
    modifiers: Nullable(Type.Record(Type.String(), Type.Unknown())),
    next_allowed_client_refresh: Type.String({ format: 'date-time' }),
    query_metadata: Nullable(Type.Record(Type.String(), Type.Unknown())),
    query_status: Nullable(Type.Record(Type.String(), Type.Unknown())),
    resolved_date_range: Nullable(Type.Record(Type.String(), Type.Unknown())),
    results: Type.Array(UsageMetricSchema),
    timezone: Type.String(),
    timings: Nullable(Type.Array(Timing)),
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
