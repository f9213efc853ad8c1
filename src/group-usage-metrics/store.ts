/** Group usage metrics of one project and group type index; every query is filtered by both. */
import { type Executor, fromJson, nowIso, toJson } from '../db/database.ts'
import type { GroupUsageMetricRow } from '../db/schema.ts'

export interface Metric {
  id: string
  group_type_index: number
  name: string
  format: 'numeric' | 'currency'
  interval: number
  display: 'number' | 'sparkline'
  filters: Record<string, unknown>
  math: 'count' | 'sum'
  math_property: string | null
}

export type MetricValues = Omit<Metric, 'id' | 'group_type_index'>

export interface Scope {
  projectId: number
  groupTypeIndex: number
}

function decode(row: GroupUsageMetricRow): Metric {
  return {
    id: row.id,
    group_type_index: row.group_type_index,
    name: row.name,
    format: row.format as Metric['format'],
    interval: row.interval,
    display: row.display as Metric['display'],
    filters: fromJson<Record<string, unknown>>(row.filters),
    math: row.math as Metric['math'],
    math_property: row.math_property,
  }
}

function inScope(db: Executor, scope: Scope) {
  return db
    .selectFrom('group_usage_metrics')
    .where('project_id', '=', scope.projectId)
    .where('group_type_index', '=', scope.groupTypeIndex)
}

export async function countMetrics(db: Executor, scope: Scope): Promise<number> {
  const row = await inScope(db, scope)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirst()
  return Number(row?.n ?? 0)
}

/** In creation order (UUIDv7 ids sort by time). */
export async function listMetrics(
  db: Executor,
  scope: Scope,
  page: { limit: number; offset: number },
): Promise<Metric[]> {
  const rows = await inScope(db, scope)
    .selectAll()
    .orderBy('id')
    .limit(page.limit)
    .offset(page.offset)
    .execute()
  return rows.map(decode)
}

export async function getMetric(db: Executor, scope: Scope, id: string): Promise<Metric | undefined> {
  const row = await inScope(db, scope).selectAll().where('id', '=', id).executeTakeFirst()
  return row && decode(row)
}

export async function insertMetric(
  db: Executor,
  scope: Scope,
  id: string,
  values: MetricValues,
): Promise<Metric> {
  const now = nowIso()
  await db
    .insertInto('group_usage_metrics')
    .values({
      id,
      project_id: scope.projectId,
      group_type_index: scope.groupTypeIndex,
      ...values,
      filters: toJson(values.filters),
      created_at: now,
      updated_at: now,
    })
    .execute()
  return { id, group_type_index: scope.groupTypeIndex, ...values }
}

export async function updateMetric(
  db: Executor,
  scope: Scope,
  id: string,
  values: MetricValues,
): Promise<boolean> {
  const result = await db
    .updateTable('group_usage_metrics')
    .set({ ...values, filters: toJson(values.filters), updated_at: nowIso() })
    .where('project_id', '=', scope.projectId)
    .where('group_type_index', '=', scope.groupTypeIndex)
    .where('id', '=', id)
    .executeTakeFirst()
  return Number(result.numUpdatedRows) > 0
}

export async function deleteMetric(db: Executor, scope: Scope, id: string): Promise<boolean> {
  const result = await db
    .deleteFrom('group_usage_metrics')
    .where('project_id', '=', scope.projectId)
    .where('group_type_index', '=', scope.groupTypeIndex)
    .where('id', '=', id)
    .executeTakeFirst()
  return Number(result.numDeletedRows) > 0
}

/** Every metric of a project, whatever its group type index (metric values evaluate them all, as PostHog). */
export async function listProjectMetrics(db: Executor, projectId: number): Promise<Metric[]> {
  const rows = await db
    .selectFrom('group_usage_metrics')
    .selectAll()
    .where('project_id', '=', projectId)
    .orderBy('id')
    .execute()
  return rows.map(decode)
}
