/**
 * The events store boundary: what metric values (and later the events list) need from stored
 * events, independent of the engine that holds them. Today one implementation over the SQL
 * database (sql-store.ts); a ClickHouse one can follow without touching callers.
 */
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

/** A stored event as the events list shows it. */
export interface StoredEvent {
  uuid: string
  event: string
  distinct_id: string
  properties: Record<string, unknown>
  timestamp: string
}

export interface EventListQuery {
  projectId: number
  /** Matching events (the events list's `properties` filters). */
  expr: Expr
  event?: string
  /** Strictly before / after these instants (ISO). */
  before?: string
  after?: string
  /** Keyset: strictly after this (timestamp, uuid) in newest-first order. */
  cursor?: { timestamp: string; uuid: string }
  limit: number
}

export interface EventsStore {
  /** Per-day partial sums of every series, in one pass over the target's events where possible. */
  metricDays(query: MetricDaysQuery): Promise<MetricDay[]>
  /** Matching events, newest first (ties by uuid, descending). */
  listEvents(query: EventListQuery): Promise<StoredEvent[]>
}
