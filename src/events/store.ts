/**
 * The events store boundary: what capture and metric values (and later the events list) need from
 * stored events, independent of the engine that holds them: the SQL database (sql-store.ts) or
 * ClickHouse (clickhouse-store.ts), chosen once at start (open.ts).
 */
import type { Executor } from '../db/database.ts'
import type { EventsTable } from '../db/schema.ts'
import type { Expr } from '../query/filters.ts'

/** One metric's series over the target's events, each window as epoch ms. */
export interface MetricSeries {
  /** Matching events (test-account filters included). */
  expr: Expr
  /** Count matching events, or sum the number in this event property. */
  sumProperty: string | null
  /** Current window: from ≤ ts ≤ now. */
  from: number
  /** Previous window: previousFrom ≤ ts < from. */
  previousFrom: number
}

export interface MetricDaysQuery {
  projectId: number
  groupTypeIndex: number
  groupKey: string
  now: number
  series: MetricSeries[]
}

/** Partial sums of one UTC day (`YYYY-MM-DD`), one entry per series in query order. */
export interface MetricDay {
  day: string
  current: number[]
  previous: number[]
}

/** A group's full properties after a $groupidentify merge; a higher version is newer. */
export interface GroupSnapshot {
  project_id: number
  group_type_index: number
  group_key: string
  /** JSON object text. */
  properties: string
  version: number
}

export interface EventsStore {
  /** Per-day partial sums of every series, in one pass over the target's events where possible. */
  metricDays(query: MetricDaysQuery): Promise<MetricDay[]>
  /**
   * Stores one capture request's events, idempotently by uuid, and the group snapshots its
   * $groupidentify events produced: the last step of the request's metadata transaction `tx`.
   * Resolves once the store has them durably.
   */
  insert(tx: Executor, events: EventsTable[], groups: GroupSnapshot[]): Promise<void>
  /** Rejects when the store cannot be reached. */
  ping(): Promise<void>
  close(): Promise<void>
}
