/**
 * Turns an SDK request into its JSON payload, deciding by content first as PostHog's capture does
 * (rust/capture payload/common.rs + payload/decompression.rs):
 * 1. the payload is `?data=` when given, else the body;
 * 2. a form body (`application/x-www-form-urlencoded`) contributes its `data` and `compression` fields;
 * 3. the hint is `?compression=`, else the form's, else `Content-Encoding` (gzip/gzip-js, lz64/lz-string);
 * 4. bytes that start with gzip's magic (1f 8b) are gunzipped whatever the hint says — posthog-js
 *    sends gzip as text/plain with no hint at all; else an lz64 hint inflates lz-string base64;
 * 5. base64 text (standard or URL-safe) is unwrapped, and gunzipped when it holds gzip;
 * 6. the text is parsed as JSON.
 * Decompression is bounded: a gzip or lz64 bomb is stopped at the limit, never inflated in full.
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
const noData = () =>
  new ApiError(
    'no_data',
    'No data found. Make sure to use a POST request when sending the payload in the body of the request.',
  )

export interface RawCapture {
  body: Buffer | undefined
  contentType: string
  contentEncoding: string
  query: Record<string, string | undefined>
}

type Hint = 'gzip' | 'lz64' | undefined

const HINTS: Record<string, Hint> = { gzip: 'gzip', 'gzip-js': 'gzip', lz64: 'lz64', 'lz-string': 'lz64' }
const hintOf = (value: string | undefined): Hint => HINTS[(value ?? '').trim().toLowerCase()]

const isGzip = (bytes: Buffer) => bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b

function gunzipBounded(data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    gunzip(data, { maxOutputLength: MAX_CAPTURE_PAYLOAD_BYTES }, (error, result) => {
      if (!error) return resolve(result)
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) {
        return reject(tooLarge())
      }
      if ((error as NodeJS.ErrnoException).code === 'Z_BUF_ERROR') {
        return reject(invalidPayload('Malformed request data: the gzip data is truncated (unexpected end).'))
      }
      reject(invalidPayload(`Malformed request data: Failed to decompress gzip data: ${error.message}.`))
    })
  })
}

function inflateLz64(bytes: Buffer): Buffer {
  let inflated: string | undefined
  try {
    inflated = decompressLz64(bytes.toString('latin1').trim().replace(/ /g, '+'), MAX_CAPTURE_PAYLOAD_BYTES)
  } catch (error) {
    if (error instanceof OutputTooLarge) throw tooLarge()
    throw error
  }
  if (!inflated) throw invalidPayload('Malformed request data: Failed to decompress lz64 data.')
  return Buffer.from(inflated)
}

/**
 * The bytes a base64 text stands for (standard or URL-safe; spaces read as '+', as a form decoder
 * leaves them), or undefined when the text looks like JSON or is not base64.
 */
function unwrapBase64(bytes: Buffer): Buffer | undefined {
  const first = bytes.find((b) => b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d)
  if (first === undefined || first === 0x7b || first === 0x5b) return undefined
  const clean = bytes.toString('latin1').trim().replace(/ /g, '+')
  if (clean.length === 0 || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(clean)) return undefined
  return Buffer.from(clean.replace(/-/g, '+').replace(/_/g, '/'), 'base64')
}

/**
 * A form body's `data` and `compression` fields (the first of each). A JSON body sent with curl's
 * default form content type has no `data` field and is taken as is.
 */
function readForm(body: Buffer): { data: Buffer | undefined; compression: string | undefined } {
  const text = body.toString('utf8')
  const fields = new URLSearchParams(text)
  const data = fields.get('data')
  const raw = text.trimStart()
  return {
    data: data !== null ? Buffer.from(data) : raw.startsWith('{') || raw.startsWith('[') ? body : undefined,
    compression: fields.get('compression') ?? undefined,
  }
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
  if (nestsDeeperThan(text, MAX_PAYLOAD_DEPTH)) {
    throw invalidPayload('Malformed request data: Invalid JSON: recursion limit exceeded')
  }
  try {
    return JSON.parse(storableJson(text.trim()))
  } catch (error) {
    throw invalidPayload(`Malformed request data: Invalid JSON: ${(error as Error).message}`)
  }
}

/** Steps 4 and 5: from the payload bytes to the JSON text's bytes. */
async function inflate(payload: Buffer, hint: Hint): Promise<Buffer> {
  const gzipped = isGzip(payload)
  let bytes = payload
  if (gzipped) bytes = await gunzipBounded(payload)
  else if (hint === 'lz64') bytes = inflateLz64(payload)
  const unwrapped = unwrapBase64(bytes)
  if (unwrapped && isGzip(unwrapped)) bytes = await gunzipBounded(unwrapped)
  else if (hint === 'gzip' && !gzipped) {
    throw invalidPayload('Malformed request data: the request says gzip but the body is not gzip data.')
  } else if (unwrapped) bytes = unwrapped
  if (bytes.length > MAX_CAPTURE_PAYLOAD_BYTES) throw tooLarge()
  return bytes
}

export interface Decoded {
  value: unknown
  /** Size of the JSON text, in bytes. */
  bytes: number
}

export async function decodeCapture(raw: RawCapture): Promise<Decoded> {
  let payload = raw.query.data ? Buffer.from(raw.query.data) : raw.body
  let hint = hintOf(raw.query.compression)
  if (payload?.length && !isGzip(payload) && raw.contentType.includes('application/x-www-form-urlencoded')) {
    const form = readForm(payload)
    payload = form.data
    hint ??= hintOf(form.compression)
  }
  if (!payload?.length) throw noData()
  const json = await inflate(payload, hint ?? hintOf(raw.contentEncoding))
  return { value: parseJson(json.toString('utf8')), bytes: json.length }
}
