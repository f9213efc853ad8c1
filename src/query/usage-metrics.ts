/**
 * UsageMetricsQuery: every metric of the project evaluated for one group, with PostHog's window
 * math (next-wave notes §1.3) from one `now`: current window [now − I, now], previous window
 * [now − 2I, now − I), daily UTC buckets zero-filled over all I + 1 calendar days. Knows nothing
 * of SQL: the events store returns per-day partial sums.
 */
import type { EventsStore, MetricSeries } from '../events/store.ts'
import type { Metric } from '../group-usage-metrics/store.ts'
import { and, type Expr, FilterError, parseMetricFilters, parseProperties } from './filters.ts'

const DAY_MS = 86_400_000

export interface UsageMetric {
  change_from_previous_pct: number | null
  display: Metric['display']
  format: Metric['format']
  id: string
  interval: number
  name: string
  previous: number
  timeseries: number[] | null
  timeseries_labels: string[] | null
  value: number
}

export interface UsageMetricsTarget {
  projectId: number
  groupTypeIndex: number
  groupKey: string
}

/** A metric as the query evaluates it, or the reason it is left out. */
export function metricSeries(
  metric: Metric,
  testAccountFilters: unknown,
  now: number,
): { series: MetricSeries } | { skipped: string } {
  if (metric.math === 'sum' && !metric.math_property) return { skipped: 'sum without math_property' }
  const ctx = { now }
  let expr: Expr
  try {
    const parsed = parseMetricFilters(metric.filters, ctx)
    expr = parsed.expr
    // PostHog skips a metric whose own filters match everything, test-account filters or not.
    if (expr.kind === 'const' && expr.value) return { skipped: 'filters match every event' }
    if (parsed.filterTestAccounts)
      expr = and([parseProperties(testAccountFilters, 'test_account_filters', ctx), expr])
  } catch (error) {
    if (error instanceof FilterError) return { skipped: error.message }
    throw error
  }
  return {
    series: {
      expr,
      sumProperty: metric.math === 'sum' ? metric.math_property : null,
      from: now - metric.interval * DAY_MS,
      previousFrom: now - 2 * metric.interval * DAY_MS,
    },
  }
}

/** UTC calendar days from `from` to `to`, inclusive, as YYYY-MM-DD. */
export function dayLabels(from: number, to: number): string[] {
  const labels: string[] = []
  const last = new Date(to).toISOString().slice(0, 10)
  for (let t = Date.parse(new Date(from).toISOString().slice(0, 10)); ; t += DAY_MS) {
    const label = new Date(t).toISOString().slice(0, 10)
    labels.push(label)
    if (label >= last) return labels
  }
}

/** Python's string order (by code point), which UTF-16 comparison gets wrong above U+FFFF. */
export function compareCodePoints(a: string, b: string): number {
  const x = Array.from(a, (c) => c.codePointAt(0) as number)
  const y = Array.from(b, (c) => c.codePointAt(0) as number)
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i] as number) - (y[i] as number)
    if (d !== 0) return d
  }
  return x.length - y.length
}

export async function usageMetrics(
  store: EventsStore,
  target: UsageMetricsTarget,
  metrics: Metric[],
  testAccountFilters: unknown,
  now: number,
): Promise<UsageMetric[]> {
  const evaluated: { metric: Metric; series: MetricSeries }[] = []
  for (const metric of metrics) {
    const result = metricSeries(metric, testAccountFilters, now)
    if ('series' in result) evaluated.push({ metric, series: result.series })
  }
  const days = await store.metricDays({ ...target, now, series: evaluated.map((e) => e.series) })
  const byDay = new Map(days.map((d) => [d.day, d]))
  const results = evaluated.map(({ metric, series }, i): UsageMetric => {
    const labels = dayLabels(series.from, now)
    const timeseries = labels.map((label) => byDay.get(label)?.current[i] ?? 0)
    const value = timeseries.reduce((a, b) => a + b, 0)
    const previous = days.reduce((sum, d) => sum + (d.previous[i] ?? 0), 0)
    const sparkline = metric.display === 'sparkline'
    return {
      change_from_previous_pct: previous > 0 ? ((value - previous) / previous) * 100 : null,
      display: metric.display,
      format: metric.format,
      id: metric.id,
      interval: metric.interval,
      name: metric.name,
      previous,
      timeseries: sparkline ? timeseries : null,
      timeseries_labels: sparkline ? labels : null,
      value,
    }
  })
  // Name descending, stable (Python's sort(reverse=True) keeps equal names in their order).
  return results
    .map((r, i) => ({ r, i }))
    .sort((a, b) => compareCodePoints(b.r.name, a.r.name) || a.i - b.i)
    .map(({ r }) => r)
}
