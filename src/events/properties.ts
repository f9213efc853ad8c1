/**
 * A properties object as the filter language reads it, computed once at insert for ClickHouse:
 * top-level keys with their value P (strings as they are, numbers as JSON writes them, true/false
 * as text, objects as JSON; null means missing, so the key is left out), and beside each the
 * number and the datetime the SQL engines would read from it (db/functions.ts). ClickHouse then
 * never parses JSON at query time: `visitParamExtract*` finds nested keys and fails on spaces.
 */
import { datetimeValue, numericValue } from '../db/functions.ts'

/** The columns holding a properties object's view, in the order FlatProperties lists them. */
export const PROPERTY_COLUMNS = ['prop_keys', 'prop_values', 'prop_numbers', 'prop_times'] as const

export interface FlatProperties {
  prop_keys: string[]
  prop_values: string[]
  /** F(P): a JSON number as is, a numeric string parsed; NaN otherwise. */
  prop_numbers: number[]
  /** The datetime P denotes, epoch ms; NaN when it is not one. */
  prop_times: number[]
}

export function flattenProperties(properties: Record<string, unknown>): FlatProperties {
  const flat: FlatProperties = { prop_keys: [], prop_values: [], prop_numbers: [], prop_times: [] }
  for (const [key, value] of Object.entries(properties)) {
    // As the JSON text has them: no value, or a number too large for JSON (written as null).
    if (value === null || value === undefined || (typeof value === 'number' && !Number.isFinite(value)))
      continue
    const text =
      typeof value === 'string' ? value : typeof value === 'boolean' ? String(value) : JSON.stringify(value)
    flat.prop_keys.push(key)
    flat.prop_values.push(text)
    flat.prop_numbers.push(
      typeof value === 'number'
        ? value
        : ((typeof value === 'string' ? numericValue(value) : null) ?? Number.NaN),
    )
    flat.prop_times.push(datetimeValue(text) ?? Number.NaN)
  }
  return flat
}
