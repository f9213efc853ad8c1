/**
 * The events store boundary: what metric values (and later the events list) need from stored
 * events, independent of the engine that holds them. Today one implementation over the SQL
 * database (sql-store.ts); a ClickHouse one can follow without touching callers.
 */
import type { Expr } from '../query/filters.ts'

/** One metric's events over the target's history. */
export interface MetricSeries {
  /** Matching events (test-account filters included). */
  expr: Expr
  /** Count matching events, or sum the number in this event property. */
  sumProperty: string | null
  /** The oldest event time that counts (epoch ms): the start of the metric's previous window. */
  since: number
}

export interface MetricBucketsQuery {
  projectId: number
  groupTypeIndex: number
  groupKey: string
  /** Epoch ms; events after it do not count. */
  now: number
  series: MetricSeries[]
}

/**
 * Partial sums of one UTC day's events (`YYYY-MM-DD`) whose time of day is before `now`'s time of
 * day (`late: false`) or not (`late: true`), one entry per series, each over its events in
 * [since, now]. Every window boundary (now − k days) falls between the two halves of a day, so the
 * caller can assign halves to windows exactly, and days to a sparkline, with one sum per series.
 */
export interface MetricBucket {
  day: string
  late: boolean
  sums: number[]
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
  /** Partial sums of every series by day half, in one pass over the target's events. */
  metricBuckets(query: MetricBucketsQuery): Promise<MetricBucket[]>
  /** Matching events, newest first (ties by uuid, descending). */
  listEvents(query: EventListQuery): Promise<StoredEvent[]>
}
