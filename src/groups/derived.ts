/**
 * What groupd derives from a group's key and properties and stores beside them, so that search
 * and sorting by name read an index instead of every row's JSON: the display name (PostHog's
 * `coalesce(properties.name, key)`) and the key, each case-folded.
 *
 * Case folding: db/text.ts `fold`.
 */
import { fold, propertyText } from '../db/text.ts'

/** PostHog's display name: the `name` property's text, or the key when there is none. */
export function displayName(key: string, properties: Record<string, unknown>): string {
  return propertyText(properties.name) ?? key
}

export interface DerivedColumns {
  display_fold: string
  key_fold: string
}

export function derivedColumns(key: string, properties: Record<string, unknown>): DerivedColumns {
  return { display_fold: fold(displayName(key, properties)), key_fold: fold(key) }
}

/**
 * The embedded database's trigram index row of a group (migration 010): `name`, the folded key
 * and display name (GroupsQuery's search asks this column), and `properties`, the folded
 * properties JSON as stored (the REST list's search asks both).
 */
export function searchDocument(
  key: string,
  properties: Record<string, unknown>,
  json: string,
): { name: string; properties: string } {
  const d = derivedColumns(key, properties)
  return { name: `${d.key_fold}\n${d.display_fold}`, properties: fold(json) }
}

/** The shortest search the embedded database's trigram index can answer (shorter ones scan). */
export const TRIGRAM = 3
