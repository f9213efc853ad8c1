/**
 * A properties object as the filter language reads it, computed once at insert for ClickHouse:
 * top-level keys with their value P (strings as they are, numbers as JSON writes them, true/false
 * as text, objects as JSON; null means missing, so the key is left out), and beside each the
 * number and the datetime the SQL engines would read from it (db/functions.ts). ClickHouse then
 * never parses JSON at query time: `visitParamExtract*` finds nested keys and fails on spaces.
 */
import { datetimeValue, numericValue } from '../db/functions.ts'

export interface FlatProperties {
  prop_keys: string[]
  prop_values: string[]
  /** F(P): a JSON number as is, a numeric string parsed; null otherwise (NaN in ClickHouse). */
  prop_numbers: (number | null)[]
  /** The datetime P denotes, epoch ms; null when it is not one. */
  prop_times: (number | null)[]
}

export function flattenProperties(properties: Record<string, unknown>): FlatProperties {
  const flat: FlatProperties = { prop_keys: [], prop_values: [], prop_numbers: [], prop_times: [] }
  for (const [key, value] of Object.entries(properties)) {
    if (value === null || value === undefined) continue
    const text =
      typeof value === 'string' ? value : typeof value === 'boolean' ? String(value) : JSON.stringify(value)
    flat.prop_keys.push(key)
    flat.prop_values.push(text)
    flat.prop_numbers.push(
      typeof value === 'number' ? value : typeof value === 'string' ? numericValue(value) : null,
    )
    flat.prop_times.push(datetimeValue(text))
  }
  return flat
}
