/**
 * UsageMetricsQuery: every metric of the project evaluated for one group, with PostHog's window
 * math (next-wave notes §1.3) from one `now`: current window [now − I, now], previous window
 * [now − 2I, now − I), daily UTC buckets zero-filled over all I + 1 calendar days. Knows nothing
 * of SQL: the events store returns per-day partial sums.
 */
import type { EventsStore, MetricSeries } from '../events/store.ts'
import { DAY_MS } from '../filters/dates.ts'
import { parseMetricFilters, parseProperties } from '../filters/parse.ts'
import { and, type Expr, FilterError } from '../filters/tree.ts'
import type { Metric } from '../group-usage-metrics/store.ts'

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
    // The metric's own conditions first: event names are the cheapest test and rule out most rows.
    if (parsed.filterTestAccounts)
      expr = and([expr, parseProperties(testAccountFilters, 'test_account_filters', ctx)])
  } catch (error) {
    if (error instanceof FilterError) return { skipped: error.message }
    throw error
  }
  return {
    series: {
      expr,
      sumProperty: metric.math === 'sum' ? metric.math_property : null,
      since: now - 2 * metric.interval * DAY_MS,
    },
  }
}

const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10)

/** Whether a day half lies at or after another (days as YYYY-MM-DD order as text). */
const notBefore = (a: { day: string; late: boolean }, b: { day: string; late: boolean }) =>
  a.day > b.day || (a.day === b.day && (a.late || !b.late))

/** UTC calendar days from `from` to `to`, inclusive, as YYYY-MM-DD. */
export function dayLabels(from: number, to: number): string[] {
  const labels: string[] = []
  const last = dayOf(to)
  for (let t = Date.parse(dayOf(from)); ; t += DAY_MS) {
    const label = new Date(t).toISOString().slice(0, 10)
    labels.push(label)
    if (label >= last) return labels
  }
}

const SURROGATE = /[\ud800-\udfff]/

/** Python's string order (by code point), which UTF-16 comparison gets wrong above U+FFFF. */
export function compareCodePoints(a: string, b: string): number {
  // Without surrogates, UTF-16 order is code point order.
  if (!SURROGATE.test(a) && !SURROGATE.test(b)) return a < b ? -1 : a > b ? 1 : 0
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
  // Metrics that count or sum the same events share one series (over the longest of their
  // windows): buckets are day halves, so each metric still takes exactly its own windows from it.
  const evaluated: { metric: Metric; series: number }[] = []
  const series: MetricSeries[] = []
  const seriesOf = new Map<string, number>()
  for (const metric of metrics) {
    const result = metricSeries(metric, testAccountFilters, now)
    if (!('series' in result)) continue
    const key = JSON.stringify([result.series.expr, result.series.sumProperty])
    let index = seriesOf.get(key)
    if (index === undefined) {
      index = series.push(result.series) - 1
      seriesOf.set(key, index)
    }
    const shared = series[index] as MetricSeries
    shared.since = Math.min(shared.since, result.series.since)
    evaluated.push({ metric, series: index })
  }
  const buckets = await store.metricBuckets({ ...target, now, series })
  // Every metric's labels end today: the last interval + 1 days of the longest list.
  const longest = Math.max(0, ...evaluated.map((e) => e.metric.interval))
  const allLabels = dayLabels(now - longest * DAY_MS, now)
  const results = evaluated.map(({ metric, series: i }): UsageMetric => {
    const from = now - metric.interval * DAY_MS
    const labels = allLabels.slice(allLabels.length - metric.interval - 1)
    // Window boundaries (now − I, now − 2I days) fall between the halves of their days.
    const currentStart = { day: dayOf(from), late: true }
    const previousStart = { day: dayOf(now - 2 * metric.interval * DAY_MS), late: true }
    const daily = new Map<string, number>()
    let previous = 0
    for (const bucket of buckets) {
      const sum = bucket.sums[i] ?? 0
      if (sum === 0) continue
      if (notBefore(bucket, currentStart)) daily.set(bucket.day, (daily.get(bucket.day) ?? 0) + sum)
      else if (notBefore(bucket, previousStart)) previous += sum
    }
    const timeseries = labels.map((label) => daily.get(label) ?? 0)
    const value = timeseries.reduce((a, b) => a + b, 0)
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
