/**
 * Bulk upsert (a groupd extension; PostHog has none), modelled on Mixpanel's group profile
 * operations. Each operation names one group (by type index, or by type name, which registers a
 * new type as capture does) and changes its properties, in this order:
 *   $set (overwrite) · $set_once (only keys not present) · $union (add list values not present)
 *   · $remove (remove a value from a list) · $unset (remove keys)
 * Operations on one group apply in request order. Invalid operations change nothing and are
 * reported; the valid ones commit together in one transaction, so a retried request gives the
 * same groups (every operation is idempotent on the state it leaves).
 */
import type { Database, Executor } from '../db/database.ts'
import { WriteConflictError } from '../db/errors.ts'
import { isPlainObject } from '../db/text.ts'
import type { EventsStore, GroupSnapshot } from '../events/store.ts'
import { MAX_GROUP_TYPES_PER_PROJECT, register } from '../group-types/service.ts'
import { nestingDepth } from '../http/validation.ts'
import { PendingCounts } from './counts.ts'
import { MAX_PROPERTIES_BYTES, MAX_PROPERTIES_DEPTH, MAX_PROPERTY_KEY_LENGTH } from './schema.ts'
import { lockGroups, MAX_GROUP_KEY_LENGTH, snapshot, stored } from './store.ts'
import { insertGroups, type NewGroup, type UpdatedGroup, updateGroups } from './write.ts'

/** Most operations in one request (the request body is at most BULK_BODY_BYTES). */
export const MAX_BULK_OPERATIONS = 1000
export const BULK_BODY_BYTES = 10 * 1024 * 1024

export type BulkResult =
  | { status: 'created' | 'updated' | 'unchanged' }
  | { status: 'error'; code: string; detail: string }

const OPERATION_KEYS = new Set([
  'group_type_index',
  'group_type',
  'group_key',
  '$set',
  '$set_once',
  '$unset',
  '$union',
  '$remove',
])

/** A valid operation, its group type still to resolve when named. */
interface Operation {
  type: { index: number } | { name: string }
  key: string
  set: Record<string, unknown>
  setOnce: Record<string, unknown>
  union: Record<string, unknown[]>
  remove: Record<string, unknown>
  unset: string[]
}

class OperationError extends Error {
  constructor(
    readonly code: string,
    detail: string,
  ) {
    super(detail)
  }
}

const fail = (detail: string, code = 'invalid_input'): never => {
  throw new OperationError(code, detail)
}

function propertyKeys(keys: string[], field: string): void {
  for (const key of keys) {
    if (key === '') fail(`${field}: a property key may not be empty.`)
    if (key.length > MAX_PROPERTY_KEY_LENGTH)
      fail(`${field}: a property key may have at most ${MAX_PROPERTY_KEY_LENGTH} characters.`, 'max_length')
  }
}

function objectField(raw: Record<string, unknown>, field: string): Record<string, unknown> {
  const value = raw[field] ?? {}
  if (!isPlainObject(value)) fail(`${field} must be an object.`)
  propertyKeys(Object.keys(value as object), field)
  return value as Record<string, unknown>
}

/** The operation's shape, checked without the database. */
function parseOperation(raw: unknown): Operation {
  if (!isPlainObject(raw)) return fail('An operation must be an object.')
  const unknown = Object.keys(raw).find((k) => !OPERATION_KEYS.has(k))
  if (unknown !== undefined) fail(`Unknown operation key ${JSON.stringify(unknown)}.`)
  const { group_type_index: index, group_type: name, group_key: key } = raw
  if ((index === undefined || index === null) === (name === undefined || name === null))
    fail('Give group_type_index or group_type (a name), not both.')
  let type: Operation['type']
  if (name !== undefined && name !== null) {
    if (typeof name !== 'string' || name === '') fail('group_type must be a non-empty string.')
    type = { name: name as string }
  } else {
    if (
      typeof index !== 'number' ||
      !Number.isInteger(index) ||
      index < 0 ||
      index >= MAX_GROUP_TYPES_PER_PROJECT
    )
      fail(`group_type_index must be an integer from 0 to ${MAX_GROUP_TYPES_PER_PROJECT - 1}.`)
    type = { index: index as number }
  }
  if (typeof key !== 'string' || key === '') return fail('group_key must be a non-empty string.')
  if (key.length > MAX_GROUP_KEY_LENGTH)
    fail(`group_key may have at most ${MAX_GROUP_KEY_LENGTH} characters.`, 'max_length')
  if (key.includes('\u0000')) fail('Null characters are not allowed.', 'null_characters_not_allowed')
  const union = objectField(raw, '$union')
  for (const [k, values] of Object.entries(union))
    if (!Array.isArray(values)) fail(`$union.${k} must be a list.`)
  const unset = raw.$unset ?? []
  if (!Array.isArray(unset) || !unset.every((k) => typeof k === 'string'))
    fail('$unset must be a list of keys.')
  propertyKeys(unset as string[], '$unset')
  return {
    type,
    key,
    set: objectField(raw, '$set'),
    setOnce: objectField(raw, '$set_once'),
    union: union as Record<string, unknown[]>,
    remove: objectField(raw, '$remove'),
    unset: unset as string[],
  }
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)

function listAt(properties: Record<string, unknown>, key: string, field: string): unknown[] | undefined {
  const value = properties[key]
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value)) fail(`${field}.${key}: the group's ${JSON.stringify(key)} is not a list.`)
  return value as unknown[]
}

/** The operation applied to a group's properties (a new object), or an OperationError. */
function apply(op: Operation, current: Record<string, unknown>): Record<string, unknown> {
  const next = { ...current, ...op.set }
  for (const [k, v] of Object.entries(op.setOnce)) if (!(k in next)) next[k] = v
  for (const [k, values] of Object.entries(op.union)) {
    const list = [...(listAt(next, k, '$union') ?? [])]
    for (const v of values) if (!list.some((x) => same(x, v))) list.push(v)
    next[k] = list
  }
  for (const [k, v] of Object.entries(op.remove)) {
    const list = listAt(next, k, '$remove')
    if (list) next[k] = list.filter((x) => !same(x, v))
  }
  for (const k of op.unset) delete next[k]
  if (nestingDepth(next, MAX_PROPERTIES_DEPTH) > MAX_PROPERTIES_DEPTH)
    fail(`The group's properties would nest deeper than ${MAX_PROPERTIES_DEPTH} levels.`, 'max_depth')
  if (Buffer.byteLength(JSON.stringify(next)) > MAX_PROPERTIES_BYTES)
    fail(`The group's properties would exceed ${MAX_PROPERTIES_BYTES} bytes of JSON.`, 'max_length')
  return next
}

const errorOf = (error: unknown): BulkResult => {
  if (error instanceof OperationError) return { status: 'error', code: error.code, detail: error.message }
  throw error
}

/** A group as the request leaves it. */
interface Target {
  index: number
  key: string
  existed: boolean
  /** Its properties as read (for the population counts). */
  before: Record<string, unknown>
  properties: Record<string, unknown>
  /** Whether an operation created or changed it. */
  dirty: boolean
}

/** Applies the operations; returns one result per operation, in order. */
export async function bulkUpsert(
  database: Database,
  events: EventsStore,
  projectId: number,
  operations: unknown[],
): Promise<BulkResult[]> {
  const parsed = operations.map((raw): Operation | BulkResult => {
    try {
      return parseOperation(raw)
    } catch (error) {
      return errorOf(error)
    }
  })
  return database.retryingTransaction((tx) => applyAll(tx, database, events, projectId, parsed))
}

async function applyAll(
  tx: Executor,
  database: Database,
  events: EventsStore,
  projectId: number,
  parsed: (Operation | BulkResult)[],
): Promise<BulkResult[]> {
  const now = new Date().toISOString()
  // Group type names to indexes, registering new ones (the sixth is refused, as in capture).
  const types = new Map<string, number | null>()
  for (const op of parsed) {
    if ('status' in op || !('name' in op.type) || types.has(op.type.name)) continue
    const registration = await register(tx, projectId, op.type.name, now)
    types.set(op.type.name, registration.group_type_index)
  }
  const indexOf = (op: Operation) => ('index' in op.type ? op.type.index : types.get(op.type.name))
  // Every group the request names, read (and on PostgreSQL locked) once, in key order.
  const named = new Map<number, Set<string>>()
  for (const op of parsed) {
    if ('status' in op) continue
    const index = indexOf(op)
    if (index === null || index === undefined) continue
    const keys = named.get(index) ?? new Set<string>()
    named.set(index, keys.add(op.key))
  }
  const targets = new Map<string, Target>()
  for (const [index, keys] of named) {
    const found = await lockGroups(tx, database.engine, projectId, index, [...keys])
    for (const key of keys) {
      const json = found.get(key) ?? null
      targets.set(`${index}\u0000${key}`, {
        index,
        key,
        existed: json !== null,
        before: json === null ? {} : JSON.parse(json),
        properties: json === null ? {} : JSON.parse(json),
        dirty: false,
      })
    }
  }
  const touched = new Set<Target>()
  const results = parsed.map((op): BulkResult => {
    if ('status' in op) return op
    const index = indexOf(op)
    if (index === null || index === undefined)
      return {
        status: 'error',
        code: 'group_type_limit_reached',
        detail: `Group type ${JSON.stringify((op.type as { name: string }).name)} would be the project's sixth; a project has at most ${MAX_GROUP_TYPES_PER_PROJECT}.`,
      }
    const target = targets.get(`${index}\u0000${op.key}`) as Target
    let next: Record<string, unknown>
    try {
      next = stored(apply(op, target.properties)).properties
    } catch (error) {
      return errorOf(error)
    }
    const created = !target.existed && !touched.has(target)
    const changed = !same(next, target.properties)
    target.properties = next
    target.dirty ||= created || changed
    touched.add(target)
    return { status: created ? 'created' : changed ? 'updated' : 'unchanged' }
  })
  await writeTargets(tx, database, events, projectId, [...touched], now)
  return results
}

async function writeTargets(
  tx: Executor,
  database: Database,
  events: EventsStore,
  projectId: number,
  touched: Target[],
  now: string,
): Promise<void> {
  const byIndex = new Map<number, { created: NewGroup[]; changed: UpdatedGroup[] }>()
  const snapshots: GroupSnapshot[] = []
  for (const t of touched) {
    if (!t.dirty) continue
    const json = stored(t.properties).json
    const writes = byIndex.get(t.index) ?? { created: [], changed: [] }
    byIndex.set(t.index, writes)
    const group = { key: t.key, json, properties: t.properties }
    if (t.existed) writes.changed.push({ ...group, before: t.before })
    else writes.created.push({ ...group, createdAt: now })
    snapshots.push(snapshot(projectId, t.index, t.key, json))
  }
  const pending = new PendingCounts()
  for (const [index, { created, changed }] of byIndex) {
    const inserted = await insertGroups(tx, database.engine, projectId, index, created, pending)
    // Another transaction created one of these groups since they were read (PostgreSQL; SQLite
    // holds the write lock throughout): run the request again on the state it left.
    if (inserted.size < created.length) throw new WriteConflictError('a group was created concurrently')
    await updateGroups(tx, database.engine, projectId, index, changed, pending)
  }
  await pending.flush(tx, database.engine)
  if (snapshots.length > 0) await events.insert(tx, [], snapshots)
}
