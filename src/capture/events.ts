/**
 * From a decoded capture payload to the request's project token and its events, normalised:
 * timestamps corrected for client clock skew as PostHog does, uuids kept when valid, bad events
 * turned into ingestion warnings (or a 400 when the request is a single event).
 */
import { isUuid, uuidv7 } from '../db/ids.ts'
import { isPlainObject } from '../db/text.ts'
import { ApiError } from '../http/errors.ts'
import { type Decoded, invalidPayload } from './decode.ts'

/** Bounds on what one request may carry. */
export const MAX_EVENTS_PER_REQUEST = 10_000
export const MAX_EVENT_BYTES = 1024 * 1024
export const MAX_EVENT_NAME_LENGTH = 200
export const MAX_DISTINCT_ID_LENGTH = 200

export interface CapturedEvent {
  uuid: string
  event: string
  distinct_id: string
  properties: Record<string, unknown>
  timestamp: string
}

export interface Warning {
  type: string
  details: Record<string, unknown>
}

export interface CaptureBatch {
  token: string | undefined
  events: CapturedEvent[]
  warnings: Warning[]
}

function tokenOf(value: unknown): string | undefined {
  if (!isPlainObject(value)) return undefined
  const properties = isPlainObject(value.properties) ? value.properties : {}
  for (const candidate of [value.$token, value.token, value.api_key, properties.token]) {
    if (typeof candidate === 'string' && candidate) return candidate.trim()
  }
  return undefined
}

/** sent_at: posthog-js's `?_=<ms>`, else the body's `sent_at` (ISO or epoch). */
function parseSentAt(query: Record<string, string | undefined>, body: unknown): number | undefined {
  const raw = query._ ?? (isPlainObject(body) ? body.sent_at : undefined)
  if (raw === undefined || raw === null || raw === '') return undefined
  // Not String(raw): an object whose own `toString` is not a function would throw (a 500).
  const text = typeof raw === 'string' || typeof raw === 'number' ? String(raw) : JSON.stringify(raw)
  if (/^\d+(\.\d+)?$/.test(text)) return text.length > 11 ? Number(text) : Number(text) * 1000
  const ms = Date.parse(text)
  if (Number.isNaN(ms)) throw invalidPayload(`Malformed request data, invalid sent at: ${text}`)
  return ms
}

/**
 * Event times PostHog keeps: years 1 to 9999 (it ignores timestamps outside 0-9999; PostgreSQL has
 * no year 0, and neither engine could store or order the expanded years toISOString writes).
 */
const MIN_EVENT_MS = Date.parse('0001-01-01T00:00:00.000Z')
const MAX_EVENT_MS = Date.parse('9999-12-31T23:59:59.999Z')
const inRange = (ms: number) => ms >= MIN_EVENT_MS && ms <= MAX_EVENT_MS

/**
 * PostHog's rule: a `timestamp` is shifted by (server now − client sent_at) when sent_at is known;
 * an `offset` (ms before sending) counts back from now; otherwise now. A time out of range is
 * ignored with a warning.
 */
function eventTime(
  raw: Record<string, unknown>,
  now: number,
  sentAt: number | undefined,
  warnings: Warning[],
): string {
  const ignored = (value: unknown) => {
    const text = typeof value === 'string' ? value : JSON.stringify(value)
    warnings.push({ type: 'ignored_invalid_timestamp', details: { timestamp: text.slice(0, 100) } })
    return new Date(now).toISOString()
  }
  const { timestamp, offset } = raw
  if (timestamp !== undefined && timestamp !== null) {
    const ms =
      typeof timestamp === 'number' ? timestamp : typeof timestamp === 'string' ? Date.parse(timestamp) : NaN
    const shifted = sentAt === undefined ? ms : ms + (now - sentAt)
    return inRange(ms) && inRange(shifted) ? new Date(shifted).toISOString() : ignored(timestamp)
  }
  if (typeof offset === 'number' && Number.isFinite(offset)) {
    return inRange(now - offset) ? new Date(now - offset).toISOString() : ignored(offset)
  }
  return new Date(now).toISOString()
}

/** One event, or the reason it cannot be used. */
function normalise(
  raw: unknown,
  now: number,
  sentAt: number | undefined,
  warnings: Warning[],
): CapturedEvent | string {
  if (!isPlainObject(raw)) return 'some events are null or not objects'
  if (typeof raw.event !== 'string' || raw.event === '')
    return 'All events must have the event name field "event"!'
  const properties = raw.properties ?? {}
  if (!isPlainObject(properties)) return 'Properties must be a JSON object!'
  const rawId = raw.$distinct_id ?? properties.distinct_id ?? raw.distinct_id
  if (rawId === undefined || rawId === null) return 'All events must have the event field "distinct_id"!'
  if (typeof rawId !== 'string' && typeof rawId !== 'number')
    return 'Event field "distinct_id" must be a string or a number!'
  const distinctId = String(rawId)
  if (distinctId === '') return 'Event field "distinct_id" should not be blank!'
  if (distinctId.length > MAX_DISTINCT_ID_LENGTH) {
    return `Event field "distinct_id" must be at most ${MAX_DISTINCT_ID_LENGTH} characters!`
  }
  if (raw.event.length > MAX_EVENT_NAME_LENGTH)
    return `Event name must be at most ${MAX_EVENT_NAME_LENGTH} characters!`
  if (raw.uuid !== undefined && raw.uuid !== null && !(typeof raw.uuid === 'string' && isUuid(raw.uuid))) {
    return 'Event field "uuid" is not a valid UUID!'
  }
  return {
    uuid: typeof raw.uuid === 'string' ? raw.uuid.toLowerCase() : uuidv7(now),
    event: raw.event,
    distinct_id: distinctId,
    properties,
    timestamp: eventTime(raw, now, sentAt, warnings),
  }
}

/**
 * How much larger an event's JSON can get when written again than its share of the request's JSON
 * text: numbers in exponent form expand most ("9e20" is 21 characters written out); everything
 * else is written back no longer (whitespace and escapes of printable characters go).
 */
export const MAX_REWRITE_GROWTH = 6

export function readBatch(
  { value: payload, bytes }: Decoded,
  query: Record<string, string | undefined>,
  now = Date.now(),
): CaptureBatch {
  const isBatchObject = isPlainObject(payload) && Array.isArray(payload.batch)
  const list: unknown[] = isBatchObject
    ? (payload.batch as unknown[])
    : Array.isArray(payload)
      ? payload
      : [payload]
  if (list.length === 0) throw invalidPayload('Invalid payload: no events.')
  if (list.length > MAX_EVENTS_PER_REQUEST) {
    throw new ApiError('request_too_large', `A request may carry at most ${MAX_EVENTS_PER_REQUEST} events.`)
  }
  const token = query.token ?? query.api_key ?? tokenOf(payload) ?? tokenOf(list[0])
  const sentAt = parseSentAt(query, payload)
  const single = list.length === 1 && !isBatchObject && !Array.isArray(payload)
  const events: CapturedEvent[] = []
  const warnings: Warning[] = []
  // Measuring each event costs writing it out; a small request cannot hold a too large event.
  const measure = bytes * MAX_REWRITE_GROWTH > MAX_EVENT_BYTES
  list.forEach((raw, index) => {
    // One request, one project: an event naming another token would otherwise land elsewhere.
    const own = tokenOf(raw)
    if (own !== undefined && token !== undefined && own !== token) {
      throw invalidPayload('Invalid payload: all events of a request must use the same project API key.')
    }
    const sizeOf = () => Buffer.byteLength(JSON.stringify(raw) ?? '')
    const size = measure ? sizeOf() : undefined
    const result =
      size !== undefined && size > MAX_EVENT_BYTES
        ? `Event is larger than ${MAX_EVENT_BYTES} bytes`
        : normalise(raw, now, sentAt, warnings)
    if (typeof result !== 'string') {
      events.push(result)
      return
    }
    if (single) throw invalidPayload(`Invalid payload: ${result}`)
    const name =
      isPlainObject(raw) && typeof raw.event === 'string' ? raw.event.slice(0, MAX_EVENT_NAME_LENGTH) : null
    warnings.push({
      type: 'invalid_event',
      details: { index, event: name, reason: result, bytes: size ?? sizeOf() },
    })
  })
  if (events.length === 0)
    throw invalidPayload(`Invalid payload: ${warnings[0]?.details.reason ?? 'no valid events'}`)
  return { token, events, warnings }
}
