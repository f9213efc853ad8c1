/**
 * Turns a capture request into its JSON payload, accepting every encoding PostHog's SDKs send:
 * plain JSON, `Content-Encoding: gzip`, `?compression=gzip-js` (posthog-js), `?compression=lz64`
 * (lz-string base64), form-encoded `data=<base64 JSON>` and GET `?data=`. Decompression is bounded:
 * a gzip bomb is stopped at the limit, never inflated in full.
 */
import { gunzip } from 'node:zlib'
import { storableJson } from '../db/text.ts'
import { ApiError } from '../http/errors.ts'
import { decompressLz64, OutputTooLarge } from './lz64.ts'

/** Largest decompressed capture payload. */
export const MAX_CAPTURE_PAYLOAD_BYTES = 20 * 1024 * 1024
/**
 * Deepest accepted nesting: serde_json's recursion limit, which PostHog's capture parses with.
 * Storage and responses serialize recursively; a deeper payload would overflow the stack (500).
 */
export const MAX_PAYLOAD_DEPTH = 128

export const invalidPayload = (detail: string) => new ApiError('invalid_payload', detail)
const tooLarge = () =>
  new ApiError('request_too_large', `Decompressed payload exceeds ${MAX_CAPTURE_PAYLOAD_BYTES} bytes.`)

export interface RawCapture {
  method: string
  body: Buffer | undefined
  contentType: string
  contentEncoding: string
  query: Record<string, string | undefined>
}

function gunzipBounded(data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    gunzip(data, { maxOutputLength: MAX_CAPTURE_PAYLOAD_BYTES }, (error, result) => {
      if (!error) return resolve(result)
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) {
        return reject(tooLarge())
      }
      reject(invalidPayload(`Malformed request data: Failed to decompress data. ${error.message}`))
    })
  })
}

/** Base64 (standard or URL-safe, spaces read as '+'), or undefined when the text is not base64. */
function base64Decode(text: string): string | undefined {
  const clean = text.trim().replace(/ /g, '+')
  if (clean.length === 0 || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(clean)) return undefined
  return Buffer.from(clean.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')
}

/** Whether JSON text nests objects and arrays deeper than `max` (strings skipped, one pass). */
function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true
    } else if (c === 0x7d || c === 0x5d) depth--
  }
  return false
}

function parseJson(text: string): unknown {
  const trimmed = text.trim()
  const candidate =
    trimmed.startsWith('{') || trimmed.startsWith('[') ? trimmed : (base64Decode(trimmed) ?? trimmed)
  if (nestsDeeperThan(candidate, MAX_PAYLOAD_DEPTH)) {
    throw invalidPayload('Malformed request data: Invalid JSON: recursion limit exceeded')
  }
  try {
    return JSON.parse(storableJson(candidate))
  } catch (error) {
    throw invalidPayload(`Malformed request data: Invalid JSON: ${(error as Error).message}`)
  }
}

/** Form body: its `data` field; a JSON body sent with curl's default form content type is taken as is. */
function formData(body: Buffer): string | undefined {
  const text = body.toString('latin1')
  const value = new URLSearchParams(text).get('data')
  if (value !== null) return Buffer.from(value, 'latin1').toString('utf8')
  const raw = body.toString('utf8').trim()
  return raw.startsWith('{') || raw.startsWith('[') ? raw : undefined
}

export async function decodeCapture(raw: RawCapture): Promise<unknown> {
  const compression = (raw.query.compression || raw.contentEncoding || '').toLowerCase().trim()
  const gzipped = compression === 'gzip' || compression === 'gzip-js'
  let data: Buffer | string | undefined
  if (raw.method === 'GET') data = raw.query.data
  else if (raw.body === undefined || raw.body.length === 0) data = undefined
  else if (gzipped) data = await gunzipBounded(raw.body)
  else if (raw.contentType.includes('application/x-www-form-urlencoded')) data = formData(raw.body)
  else data = raw.body
  if (data === undefined || data.length === 0) {
    throw new ApiError(
      'no_data',
      'No data found. Make sure to use a POST request when sending the payload in the body of the request.',
    )
  }
  if (gzipped && typeof data === 'string') data = await gunzipBounded(Buffer.from(data, 'latin1'))
  let text = typeof data === 'string' ? data : data.toString('utf8')
  if (compression === 'lz64') {
    let inflated: string | undefined
    try {
      inflated = decompressLz64(text.trim().replace(/ /g, '+'), MAX_CAPTURE_PAYLOAD_BYTES)
    } catch (error) {
      if (error instanceof OutputTooLarge) throw tooLarge()
      throw error
    }
    if (!inflated) throw invalidPayload('Malformed request data: Failed to decompress data.')
    text = inflated
  }
  if (Buffer.byteLength(text) > MAX_CAPTURE_PAYLOAD_BYTES) throw tooLarge()
  return parseJson(text)
}
