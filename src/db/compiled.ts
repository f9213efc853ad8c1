/**
 * Queries built and compiled once per dialect, for statements that run on every cache miss of the
 * hot path: Kysely's building and compiling cost more CPU than SQLite's execution.
 * `build` receives placeholders for its arguments; each call substitutes the real values.
 */
import { type Compilable, CompiledQuery } from 'kysely'
import type { Executor } from './database.ts'

type Slot = { arg: number } | { value: unknown }

export function compiled<Row, Args extends unknown[]>(
  build: (db: Executor, ...args: Args) => Compilable<Row>,
): (db: Executor, ...args: Args) => Promise<Row[]> {
  const byAdapter = new Map<unknown, { sql: string; slots: Slot[] }>()
  return async (db, ...args) => {
    const adapter = db.getExecutor().adapter.constructor
    let template = byAdapter.get(adapter)
    if (!template) {
      const marks = args.map((_, i) => Symbol(`arg${i}`))
      const query = build(db, ...(marks as unknown as Args)).compile()
      const slots = query.parameters.map((p): Slot => {
        const arg = marks.indexOf(p as symbol)
        return arg >= 0 ? { arg } : { value: p }
      })
      template = { sql: query.sql, slots }
      byAdapter.set(adapter, template)
    }
    const parameters = template.slots.map((slot) => ('arg' in slot ? args[slot.arg] : slot.value))
    const result = await db.executeQuery<Row>(CompiledQuery.raw(template.sql, parameters))
    return result.rows
  }
}
