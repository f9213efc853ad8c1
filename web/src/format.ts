/** Display formats: numbers, currency, dates, property values. */

const compact = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 })
const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: 2 })

export function formatValue(value: number | null, format: 'numeric' | 'currency'): string {
  if (value === null) return '—'
  return format === 'currency' ? money.format(value) : compact.format(value)
}

export function formatDate(iso: string | null): string {
  if (!iso) return '—'
  const date = new Date(iso)
  return Number.isNaN(date.getTime())
    ? iso
    : date.toLocaleString('en-US', {
        year: 'numeric',
        month: 'short',
        day: 'numeric',
        hour: '2-digit',
        minute: '2-digit',
      })
}

export function formatRelative(iso: string): string {
  const seconds = Math.round((Date.now() - Date.parse(iso)) / 1000)
  if (!Number.isFinite(seconds)) return iso
  if (seconds < 60) return 'just now'
  const units: [number, string][] = [
    [60, 'minute'],
    [3600, 'hour'],
    [86400, 'day'],
    [2592000, 'month'],
    [31536000, 'year'],
  ]
  let label = ''
  for (const [size, unit] of units) {
    if (seconds >= size) {
      const n = Math.floor(seconds / size)
      label = `${n} ${unit}${n === 1 ? '' : 's'} ago`
    }
  }
  return label
}

export function formatProperty(value: unknown): string {
  if (typeof value === 'string') return value
  return JSON.stringify(value) ?? 'undefined'
}

/** What a typed value becomes: JSON when it parses (numbers, booleans, null, objects), else the text. */
export function parseProperty(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

export const capitalize = (text: string) => text.charAt(0).toUpperCase() + text.slice(1)

export function groupTypeNames(t: {
  group_type: string
  name_singular: string | null
  name_plural: string | null
}) {
  return { singular: t.name_singular || t.group_type, plural: t.name_plural || `${t.group_type}(s)` }
}
