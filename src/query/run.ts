/** Runs a UsageMetricsQuery for a project: loads its metrics and settings, evaluates at one `now`. */
import { type Database, fromJson } from '../db/database.ts'
import type { Project } from '../db/schema.ts'
import type { EventsStore } from '../events/store.ts'
import { listProjectMetrics, type Metric } from '../group-usage-metrics/store.ts'
import { type UsageMetric, type UsageMetricsTarget, usageMetrics } from './usage-metrics.ts'

export interface UsageMetricsRun {
  results: UsageMetric[]
  /** The definitions evaluated (for a cache key). */
  metrics: Metric[]
  /** PostHog's timings: seconds per phase. */
  timings: { k: string; t: number }[]
}

export async function runUsageMetrics(
  database: Database,
  store: EventsStore,
  project: Project,
  target: UsageMetricsTarget,
  now: number,
): Promise<UsageMetricsRun> {
  const started = performance.now()
  const metrics = await listProjectMetrics(database.db, project.id)
  const loaded = performance.now()
  const results = await usageMetrics(store, target, metrics, fromJson(project.test_account_filters), now)
  const done = performance.now()
  return {
    results,
    metrics,
    timings: [
      { k: './metrics', t: (loaded - started) / 1000 },
      { k: './query', t: (done - loaded) / 1000 },
      { k: '.', t: (done - started) / 1000 },
    ],
  }
}
