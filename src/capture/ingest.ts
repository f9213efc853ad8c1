/**
 * Processing of one capture request, in one transaction: group types named by `$groups` and
 * `$groupidentify` are registered (lowest free index, at most 5), events are stored with their
 * `$group_<index>` columns, `$groupidentify` merges group properties in arrival order, and
 * everything dropped becomes an ingestion warning.
 *
 * With an events store outside the database (ClickHouse), a request that writes no metadata (its
 * group types are all known, no $groupidentify, no warnings: the steady state) opens no transaction
 * at all: the known types come from the group types cache and the events go straight to the store.
 * Otherwise the transaction would hold a database connection, and on SQLite the write lock, for
 * as long as the store takes to acknowledge.
 */
import type { Database, Executor } from '../db/database.ts'
import type { EventsTable } from '../db/schema.ts'
import { isPlainObject } from '../db/text.ts'
import type { EventsStore, GroupSnapshot, NewEvent } from '../events/store.ts'
import { cachedGroupTypes } from '../group-types/cache.ts'
import { MAX_GROUP_TYPES_PER_PROJECT, register } from '../group-types/service.ts'
import { groupTypeIndexes } from '../group-types/store.ts'
import { PendingCounts } from '../groups/counts.ts'
import { MAX_GROUP_KEY_LENGTH, mergeGroup } from '../groups/store.ts'
import { insertWarnings } from '../ingestion-warnings/store.ts'
import type { CaptureBatch, CapturedEvent, Warning } from './events.ts'

type GroupColumn = 'group_0' | 'group_1' | 'group_2' | 'group_3' | 'group_4'

/** Resolves group type names to indexes for one request, registering new ones. */
class GroupTypeResolver {
  private readonly dropped = new Set<string>()

  constructor(
    private readonly tx: Executor,
    private readonly projectId: number,
    private readonly known: Map<string, number>,
    private readonly warnings: Warning[],
  ) {}

  async index(name: string, createdAt: string): Promise<number | null> {
    const cached = this.known.get(name)
    if (cached !== undefined) return cached
    if (this.dropped.has(name)) return null
    const result = await register(this.tx, this.projectId, name, createdAt)
    if (result.group_type_index !== null) {
      this.known.set(name, result.group_type_index)
      return result.group_type_index
    }
    this.dropped.add(name)
    this.warnings.push(
      result.reason === 'limit_reached'
        ? {
            type: 'group_type_limit_reached',
            details: { group_type: name, limit: MAX_GROUP_TYPES_PER_PROJECT },
          }
        : {
            type: 'invalid_group_type',
            details: { group_type: name.slice(0, 100), length: [...name].length },
          },
    )
    return null
  }
}

export interface IngestResult {
  stored: number
  dropped: number
}

/**
 * The events go to the events store as the transaction's last step, so a store that fails (503)
 * rolls back the metadata too, and a retried batch is deduplicated by uuid.
 */
export async function ingest(
  database: Database,
  events: EventsStore,
  projectId: number,
  batch: CaptureBatch,
): Promise<IngestResult> {
  const now = new Date().toISOString()
  const store = async (db: Executor, known: Map<string, number>): Promise<IngestResult> => {
    const warnings: Warning[] = [...batch.warnings]
    const types = new GroupTypeResolver(db, projectId, known, warnings)
    const rows: NewEvent[] = []
    const snapshots: GroupSnapshot[] = []
    const counts = new PendingCounts()
    for (const event of batch.events) {
      const row = await processEvent(db, database, projectId, event, types, warnings, now, snapshots, counts)
      if (row) rows.push(row)
    }
    await counts.flush(db, database.engine)
    await insertWarnings(db, projectId, warnings, now)
    await events.insert(db, rows, snapshots)
    return { stored: rows.length, dropped: batch.events.length - rows.length }
  }
  if (events.external) {
    const types = await cachedGroupTypes(database, projectId)
    const known = new Map(types.map((t) => [t.group_type, t.group_type_index]))
    // Nothing in it touches `db`: it only reads `known` and hands the rows to the store.
    if (!writesMetadata(batch, known)) return store(database.db, known)
  }
  // Concurrent batches can lock the same groups in opposite orders; PostgreSQL then aborts one.
  return database.retryingTransaction(async (tx) => store(tx, await groupTypeIndexes(tx, projectId)))
}

/**
 * Whether processing `batch` may write metadata: a warning to record, a $groupidentify to merge,
 * or a group type not in `known` to register (or to refuse, with a warning).
 */
function writesMetadata(batch: CaptureBatch, known: Map<string, number>): boolean {
  if (batch.warnings.length > 0) return true
  return batch.events.some(
    (event) =>
      event.event === '$groupidentify' ||
      (isPlainObject(event.properties.$groups) &&
        Object.keys(event.properties.$groups).some((name) => !known.has(name))),
  )
}

async function processEvent(
  tx: Executor,
  database: Database,
  projectId: number,
  event: CapturedEvent,
  types: GroupTypeResolver,
  warnings: Warning[],
  now: string,
  snapshots: GroupSnapshot[],
  counts: PendingCounts,
): Promise<NewEvent | undefined> {
  const properties = { ...event.properties }
  const row: EventsTable = {
    project_id: projectId,
    uuid: event.uuid,
    event: event.event,
    distinct_id: event.distinct_id,
    properties: '',
    timestamp: event.timestamp,
    created_at: now,
    group_0: null,
    group_1: null,
    group_2: null,
    group_3: null,
    group_4: null,
  }
  const personProcessing = properties.$process_person_profile !== false
  if (isPlainObject(properties.$groups) && personProcessing) {
    for (const [name, key] of Object.entries(properties.$groups)) {
      if (typeof key !== 'string' && typeof key !== 'number') continue
      const index = await types.index(name, event.timestamp)
      if (index === null) continue
      row[`group_${index}` as GroupColumn] = String(key)
      properties[`$group_${index}`] = key
    }
  }
  if (event.event === '$groupidentify') {
    const { $group_type: type, $group_key: rawKey } = properties
    const set = properties.$group_set ?? {}
    // A key is a scalar: String() of an object whose own `toString` is not a function would throw.
    if (typeof type === 'string' && rawKey !== undefined && rawKey !== null && typeof rawKey !== 'object') {
      const key = String(rawKey)
      if (key.length > MAX_GROUP_KEY_LENGTH) {
        warnings.push({
          type: 'group_key_too_long',
          details: {
            eventUuid: event.uuid,
            groupType: type,
            groupKeyLength: key.length,
            maxLength: MAX_GROUP_KEY_LENGTH,
          },
        })
        return undefined
      }
      if (!isPlainObject(set)) {
        warnings.push({
          type: 'invalid_group_set',
          details: { eventUuid: event.uuid, groupType: type, groupKey: key },
        })
        return undefined
      }
      const index = await types.index(type, event.timestamp)
      if (index !== null && personProcessing) {
        const merged = await mergeGroup(
          tx,
          database.engine,
          projectId,
          index,
          key,
          set,
          event.timestamp,
          counts,
        )
        if (merged)
          snapshots.push({ project_id: projectId, group_type_index: index, group_key: key, ...merged })
      }
    }
  }
  row.properties = JSON.stringify(properties)
  return { row, properties }
}
