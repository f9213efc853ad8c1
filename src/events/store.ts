/**
 * The events store boundary: what capture, metric values and the events list need from
 * stored events, independent of the engine that holds them: the SQL database (sql-store.ts) or
 * ClickHouse (clickhouse-store.ts), chosen once at start (open.ts).
 */
import type { Executor } from '../db/database.ts'
import type { EventsTable } from '../db/schema.ts'
import type { Expr } from '../filters/tree.ts'

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

/** An event to store: its row, and its properties as the object the row's JSON text was written from. */
export interface NewEvent {
  row: EventsTable
  properties: Record<string, unknown>
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
  /**
   * Whether events live outside the metadata database: then `insert` does not use `tx`, and a
   * capture that writes no metadata opens no transaction for it.
   */
  readonly external: boolean
  /** Partial sums of every series by day half, in one pass over the target's events. */
  metricBuckets(query: MetricBucketsQuery): Promise<MetricBucket[]>
  /** Matching events, newest first (ties by uuid, descending). */
  listEvents(query: EventListQuery): Promise<StoredEvent[]>
  /**
   * Stores one capture request's events, idempotently by uuid, and the group snapshots its
   * $groupidentify events produced: the last step of the request's metadata transaction `tx` (or
   * of no transaction, for an external store when there is no metadata to write).
   * Resolves once the store has them durably.
   */
  insert(tx: Executor, events: NewEvent[], groups: GroupSnapshot[]): Promise<void>
  /** Rejects when the store cannot be reached. */
  ping(): Promise<void>
  close(): Promise<void>
}
