/** Reading stored events back: newest first, by (timestamp, uuid) keyset. */
import { sql } from 'kysely'
import { type Executor, fromJson } from '../db/database.ts'

export interface StoredEvent {
  uuid: string
  event: string
  distinct_id: string
  properties: Record<string, unknown>
  timestamp: string
}

/** An equality on a column the events table has (group_0…group_4, distinct_id). */
export interface ColumnFilter {
  column: 'group_0' | 'group_1' | 'group_2' | 'group_3' | 'group_4' | 'distinct_id'
  values: string[]
  negate: boolean
}

export interface EventQuery {
  projectId: number
  event?: string
  filters: ColumnFilter[]
  /** Strictly before / after these instants (ISO). */
  before?: string
  after?: string
  /** Keyset: strictly after this (timestamp, uuid) in newest-first order. */
  cursor?: { timestamp: string; uuid: string }
  limit: number
}

export async function listEvents(db: Executor, q: EventQuery): Promise<StoredEvent[]> {
  let query = db
    .selectFrom('events')
    .select(['uuid', 'event', 'distinct_id', 'properties', 'timestamp'])
    .where('project_id', '=', q.projectId)
    .modifyEnd(sql`/* groupd:events-list */`)
  if (q.event !== undefined) query = query.where('event', '=', q.event)
  for (const f of q.filters) {
    query = f.negate
      ? query.where((eb) => eb.or([eb(f.column, 'is', null), eb(f.column, 'not in', f.values)]))
      : query.where(f.column, 'in', f.values)
  }
  if (q.before) query = query.where('timestamp', '<', q.before)
  if (q.after) query = query.where('timestamp', '>', q.after)
  if (q.cursor) {
    const { timestamp, uuid } = q.cursor
    query = query.where((eb) =>
      eb.or([
        eb('timestamp', '<', timestamp),
        eb.and([eb('timestamp', '=', timestamp), eb('uuid', '<', uuid)]),
      ]),
    )
  }
  const rows = await query.orderBy('timestamp', 'desc').orderBy('uuid', 'desc').limit(q.limit).execute()
  return rows.map((r) => ({ ...r, properties: fromJson<Record<string, unknown>>(r.properties) }))
}
