/**
 * Counts of a group type's population, kept by the one write path (write.ts) in the transaction
 * of each write, so the list's most common questions read a few rows instead of every group
 * (migration 010): groups per type, groups per property key, and groups per (key, value) while the
 * key's values are countable. A key stops being counted, for good, when it reaches more than
 * MAX_COUNTED_VALUES distinct values or a value longer than MAX_COUNTED_VALUE_JSON characters of
 * JSON; questions about it then scan (population.ts, properties.ts decide).
 *
 * Values are identified by their JSON text as JavaScript writes it (the stored properties are
 * JSON.stringify's output on both engines, so a value read back writes the same text).
 * Counter rows are written last in each write and in key order, so concurrent PostgreSQL
 * transactions take their locks in one order.
 */
import { sql } from 'kysely'
import type { Executor } from '../db/database.ts'
import type { Engine } from '../db/dialect.ts'

export const MAX_COUNTED_VALUES = 1000
export const MAX_COUNTED_VALUE_JSON = 200

/** A group written: its properties before (null: it did not exist) and after. */
export interface PropertyChange {
  before: Record<string, unknown> | null
  after: Record<string, unknown>
}

/** Counter rows per statement (SQLite binds at most 32,766 values; a row binds 6). */
const CHUNK = 500

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

function chunks<T>(items: T[]): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK))
  return out
}

interface Deltas {
  population: number
  keys: Map<string, number>
  values: Map<string, Map<string, number>>
}

function deltasOf(changes: PropertyChange[]): Deltas {
  const d: Deltas = { population: 0, keys: new Map(), values: new Map() }
  const bump = (key: string, value: string, by: number) => {
    const values = d.values.get(key) ?? new Map<string, number>()
    d.values.set(key, values.set(value, (values.get(value) ?? 0) + by))
  }
  for (const { before, after } of changes) {
    if (before === null) d.population += 1
    const old = before ?? {}
    for (const key of new Set([...Object.keys(old), ...Object.keys(after)])) {
      const had = Object.hasOwn(old, key)
      const has = Object.hasOwn(after, key)
      const was = had ? JSON.stringify(old[key]) : undefined
      const is = has ? JSON.stringify(after[key]) : undefined
      if (was === is) continue
      if (had !== has) d.keys.set(key, (d.keys.get(key) ?? 0) + (has ? 1 : -1))
      if (was !== undefined) bump(key, was, -1)
      if (is !== undefined) bump(key, is, 1)
    }
  }
  for (const [key, values] of d.values) {
    for (const [value, by] of values) if (by === 0) values.delete(value)
    if (values.size === 0) d.values.delete(key)
  }
  for (const [key, by] of d.keys) if (by === 0) d.keys.delete(key)
  return d
}

/** Applies the counts of written groups (call inside the write's transaction, after the rows). */
export async function countChanges(
  tx: Executor,
  engine: Engine,
  projectId: number,
  index: number,
  changes: PropertyChange[],
): Promise<void> {
  const d = deltasOf(changes)
  const type = sql`${projectId}, ${index}`
  if (d.population !== 0)
    await sql`
      INSERT INTO group_population (project_id, group_type_index, groups) VALUES (${type}, ${d.population})
      ON CONFLICT (project_id, group_type_index)
      DO UPDATE SET groups = group_population.groups + excluded.groups`.execute(tx)
  const counted = engine === 'postgres' ? sql`true` : sql`1`
  for (const chunk of chunks([...d.keys].sort(([a], [b]) => compare(a, b))))
    await sql`
      INSERT INTO group_property_keys (project_id, group_type_index, key, groups, values_counted)
      VALUES ${sql.join(chunk.map(([key, by]) => sql`(${type}, ${key}, ${by}, ${counted})`))}
      ON CONFLICT (project_id, group_type_index, key)
      DO UPDATE SET groups = group_property_keys.groups + excluded.groups`.execute(tx)
  if (d.values.size === 0) return

  const keys = [...d.values.keys()].sort(compare)
  const countedKeys = new Set(
    (
      await sql<{ key: string }>`
        SELECT key FROM group_property_keys
        WHERE project_id = ${projectId} AND group_type_index = ${index} AND values_counted
          AND key IN (${sql.join(keys)})`.execute(tx)
    ).rows.map((r) => r.key),
  )
  const stop = new Set<string>()
  const rows: [string, string, number][] = []
  for (const key of keys) {
    if (!countedKeys.has(key)) continue
    const values = d.values.get(key) as Map<string, number>
    if ([...values].some(([value, by]) => by > 0 && value.length > MAX_COUNTED_VALUE_JSON)) {
      stop.add(key)
      continue
    }
    for (const [value, by] of [...values].sort(([a], [b]) => compare(a, b))) rows.push([key, value, by])
  }
  const properties = (key: string, value: string) => {
    const json = `{${JSON.stringify(key)}:${value}}`
    return engine === 'postgres' ? sql`${json}::jsonb` : sql`${json}`
  }
  for (const chunk of chunks(rows))
    await sql`
      INSERT INTO group_property_values (project_id, group_type_index, key, value, properties, groups)
      VALUES ${sql.join(chunk.map(([key, value, by]) => sql`(${type}, ${key}, ${value}, ${properties(key, value)}, ${by})`))}
      ON CONFLICT (project_id, group_type_index, key, value)
      DO UPDATE SET groups = group_property_values.groups + excluded.groups`.execute(tx)
  const written = [...new Set(rows.map(([key]) => key))]
  if (written.length > 0) {
    const inKeys = sql`project_id = ${projectId} AND group_type_index = ${index} AND key IN (${sql.join(written)})`
    await sql`DELETE FROM group_property_values WHERE ${inKeys} AND groups <= 0`.execute(tx)
    const { rows: over } = await sql<{ key: string }>`
      SELECT key FROM group_property_values WHERE ${inKeys}
      GROUP BY key HAVING COUNT(*) > ${MAX_COUNTED_VALUES}`.execute(tx)
    for (const { key } of over) stop.add(key)
  }
  if (stop.size === 0) return
  const stopped = sql`project_id = ${projectId} AND group_type_index = ${index} AND key IN (${sql.join([...stop].sort(compare))})`
  await sql`UPDATE group_property_keys SET values_counted = ${engine === 'postgres' ? sql`false` : sql`0`} WHERE ${stopped}`.execute(
    tx,
  )
  await sql`DELETE FROM group_property_values WHERE ${stopped}`.execute(tx)
}

/**
 * Changes collected across one transaction's writes and counted together at its end (capture and
 * the bulk endpoint write many groups, of several types, before they commit).
 */
export class PendingCounts {
  private readonly byType = new Map<string, { projectId: number; index: number; changes: PropertyChange[] }>()

  add(projectId: number, index: number, changes: PropertyChange[]): void {
    const id = `${projectId}\t${index}`
    const entry = this.byType.get(id) ?? { projectId, index, changes: [] }
    this.byType.set(id, entry)
    entry.changes.push(...changes)
  }

  async flush(tx: Executor, engine: Engine): Promise<void> {
    const types = [...this.byType.values()].sort((a, b) => a.projectId - b.projectId || a.index - b.index)
    this.byType.clear()
    for (const t of types) await countChanges(tx, engine, t.projectId, t.index, t.changes)
  }
}
