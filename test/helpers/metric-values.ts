/** Fixtures for metric-value tests: events with chosen times and properties, metrics, evaluation at a fixed now. */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { listProjectMetrics, type Metric } from '../../src/group-usage-metrics/store.ts'
import { type UsageMetric, usageMetrics } from '../../src/query/usage-metrics.ts'
import { client, type Tenant, type TestDatabase } from './harness.ts'

export const DAY = 86_400_000

export interface EventSpec {
  event?: string
  /** Epoch ms. */
  at: number
  properties?: Record<string, unknown>
  /** `$groups` of the event; default {company: 'acme'}. */
  groups?: Record<string, string>
}

/** Stores events through the real capture endpoint (a batch, explicit timestamps). */
export async function capture(url: string, token: string, events: EventSpec[]): Promise<void> {
  for (let i = 0; i < events.length; i += 1000) {
    const batch = events.slice(i, i + 1000).map((e) => ({
      event: e.event ?? 'e',
      distinct_id: 'user-1',
      uuid: randomUUID(),
      timestamp: new Date(e.at).toISOString(),
      properties: { ...e.properties, $groups: e.groups ?? { company: 'acme' } },
    }))
    const res = await fetch(`${url}/batch/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ api_key: token, batch }),
    })
    assert.equal(res.status, 200, await res.text())
  }
}

export type MetricInput = Partial<Omit<Metric, 'id' | 'group_type_index'>> & { name: string }

/** Creates a metric through the API (index 0 unless given). */
export async function createMetric(url: string, t: Tenant, input: MetricInput, index = 0): Promise<string> {
  const res = await client(url, t.key).post(`/api/projects/${t.project.id}/groups_types/${index}/metrics/`, {
    body: { filters: {}, ...input },
  })
  assert.equal(res.status, 201, res.text)
  return res.body.id
}

/** The service evaluated at a fixed `now` against the real database (the endpoint uses the clock). */
export async function valuesAt(
  { database, events }: Pick<TestDatabase, 'database' | 'events'>,
  t: Tenant,
  now: number,
  target: { index?: number; key?: string } = {},
  testAccountFilters: unknown = [],
): Promise<UsageMetric[]> {
  const metrics = await listProjectMetrics(database.db, t.project.id)
  return usageMetrics(
    events,
    { projectId: t.project.id, groupTypeIndex: target.index ?? 0, groupKey: target.key ?? 'acme' },
    metrics,
    testAccountFilters,
    now,
  )
}
