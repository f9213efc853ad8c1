/**
 * Metrics pages and single metrics from memory, exact across processes: every write in store.ts
 * announces the project's change (db/changes.ts).
 */
import { cachePerDatabase } from '../db/cache.ts'
import { projectTopic } from '../db/changes.ts'
import type { Database } from '../db/database.ts'
import { countMetrics, getMetric, listMetrics, type Metric, type Scope } from './store.ts'

export const METRICS_CACHE = { maxEntries: 10_000, ttlMs: 60_000 }

const metrics = cachePerDatabase<Metric | undefined>(METRICS_CACHE)
const pages = cachePerDatabase<{ count: number; metrics: Metric[] }>(METRICS_CACHE)

export function cachedMetric(
  database: Database,
  scope: Scope,
  id: string,
): Metric | Promise<Metric | undefined> {
  return metrics(database).read(
    `${scope.projectId}:${scope.groupTypeIndex}:${id}`,
    projectTopic(scope.projectId),
    () => getMetric(database.db, scope, id),
  )
}

export function cachedMetricsPage(
  database: Database,
  scope: Scope,
  page: { limit: number; offset: number },
): Promise<{ count: number; metrics: Metric[] }> {
  return pages(database).get(
    `${scope.projectId}:${scope.groupTypeIndex}:${page.limit}:${page.offset}`,
    projectTopic(scope.projectId),
    async () => {
      const [count, list] = await Promise.all([
        countMetrics(database.db, scope),
        listMetrics(database.db, scope, page),
      ])
      return { count, metrics: list }
    },
  )
}
