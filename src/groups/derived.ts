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
 * The text the embedded database's trigram index holds for a group: its folded key and folded
 * properties JSON as stored, so a search of either (folded the same way) finds it.
 */
export function searchDocument(keyFold: string, propertiesJson: string): string {
  return `${keyFold}\n${fold(propertiesJson)}`
}

/** The shortest search the embedded database's trigram index can answer (shorter ones scan). */
export const TRIGRAM = 3
