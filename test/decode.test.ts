/**
 * The capture decoder decides by content first, as PostHog's capture does: gzip is recognised by
 * its magic bytes whatever the hints say, then the hints, forms and base64 apply.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { gzipSync } from 'fflate'
import LZString from 'lz-string'
import { decodeCapture, MAX_CAPTURE_PAYLOAD_BYTES, type RawCapture } from '../src/capture/decode.ts'
import { MAX_REWRITE_GROWTH } from '../src/capture/events.ts'
import { ApiError } from '../src/http/errors.ts'

const payload = { api_key: 'phc_x', batch: [{ event: 'ünïcode 😀', distinct_id: 'u', properties: {} }] }
const json = JSON.stringify(payload)
const gzip = (text: string) => Buffer.from(gzipSync(new TextEncoder().encode(text), { mtime: 0 }))
const b64 = (bytes: Buffer | string) => Buffer.from(bytes).toString('base64')

function raw(body: Buffer | string | undefined, options: Partial<Omit<RawCapture, 'body'>> = {}): RawCapture {
  return {
    body: body === undefined ? undefined : Buffer.from(body),
    contentType: options.contentType ?? 'text/plain',
    contentEncoding: options.contentEncoding ?? '',
    query: options.query ?? {},
  }
}

const decodedValue = async (input: RawCapture) => (await decodeCapture(input)).value

/** Asserts the decoder refuses with this status and code, and a detail matching `detail`. */
async function refuses(input: RawCapture, status: number, code: string, detail: RegExp) {
  await assert.rejects(decodeCapture(input), (error) => {
    assert.ok(error instanceof ApiError, String(error))
    assert.deepEqual([error.statusCode, error.code], [status, code])
    assert.match(error.detail, detail)
    return true
  })
}

describe('capture decoder', () => {
  it('gunzips a body by its magic bytes with no hint at all (posthog-js defaults)', async () => {
    const decoded = await decodeCapture(raw(gzip(json)))
    assert.deepEqual(decoded.value, payload)
    assert.equal(decoded.bytes, Buffer.byteLength(json), 'the size of the JSON text, not of the gzip')
  })

  it('gunzips with every hint that says gzip', async () => {
    for (const options of [
      { query: { compression: 'gzip-js' } },
      { query: { compression: 'gzip' } },
      { contentEncoding: 'gzip', contentType: 'application/json' },
      { contentEncoding: 'gzip-js' },
    ]) {
      assert.deepEqual(await decodedValue(raw(gzip(json), options)), payload, JSON.stringify(options))
    }
  })

  it('gunzips a gzip body whatever a wrong hint or content type says', async () => {
    for (const options of [
      { query: { compression: 'lz64' } },
      { contentEncoding: 'lz64' },
      { query: { compression: 'base64' } },
      { contentType: 'application/x-www-form-urlencoded' },
      { contentType: 'application/json' },
    ]) {
      assert.deepEqual(await decodedValue(raw(gzip(json), options)), payload, JSON.stringify(options))
    }
  })

  it('gunzips gzip wrapped in base64, in ?data= or a form field', async () => {
    assert.deepEqual(await decodedValue(raw(undefined, { query: { data: b64(gzip(json)) } })), payload)
    const form = `data=${encodeURIComponent(b64(gzip(json)))}&compression=gzip-js`
    assert.deepEqual(
      await decodedValue(raw(form, { contentType: 'application/x-www-form-urlencoded' })),
      payload,
    )
  })

  it('keeps the other formats: JSON, lz64 (query or form hint), base64 forms and bodies', async () => {
    const form = 'application/x-www-form-urlencoded'
    const lz = encodeURIComponent(LZString.compressToBase64(json))
    const cases: RawCapture[] = [
      raw(json, { contentType: 'application/json' }),
      raw(`data=${lz}`, { contentType: form, query: { compression: 'lz64' } }),
      raw(`data=${lz}&compression=lz64`, { contentType: form }),
      raw(`data=${encodeURIComponent(b64(json))}`, { contentType: form, query: { compression: 'base64' } }),
      raw(`data=${encodeURIComponent(json)}`, { contentType: form }),
      raw(json, { contentType: form }),
      raw(b64(json)),
      raw(undefined, { query: { data: b64(json).replace(/\+/g, '-').replace(/\//g, '_') } }),
    ]
    for (const input of cases) assert.deepEqual(await decodedValue(input), payload, input.body?.toString())
  })

  it('refuses truncated gzip with 400 naming the truncation', async () => {
    const whole = gzip(json)
    for (const cut of [whole.length - 1, whole.length - 8, 12]) {
      await refuses(raw(whole.subarray(0, cut)), 400, 'invalid_payload', /gzip data is truncated/)
    }
  })

  it('refuses corrupt gzip and a gzip hint on a body that is not gzip, with 400', async () => {
    const corrupt = gzip(json)
    corrupt[12] = corrupt[12]! ^ 0xff
    corrupt[13] = corrupt[13]! ^ 0xff
    await refuses(raw(corrupt), 400, 'invalid_payload', /Failed to decompress gzip data/)
    await refuses(
      raw(json, { contentEncoding: 'gzip', contentType: 'application/json' }),
      400,
      'invalid_payload',
      /says gzip but the body is not gzip/,
    )
  })

  it('stops a gzip bomb at the bound, with or without a hint', async () => {
    const bomb = Buffer.from(gzipSync(new Uint8Array(MAX_CAPTURE_PAYLOAD_BYTES + 1)))
    assert.ok(bomb.length < 100_000, 'a small input')
    await refuses(raw(bomb), 413, 'request_too_large', /exceeds 20971520 bytes/)
    await refuses(raw(bomb, { query: { compression: 'gzip-js' } }), 413, 'request_too_large', /exceeds/)
    await refuses(raw(undefined, { query: { data: b64(bomb) } }), 413, 'request_too_large', /exceeds/)
  })

  it('refuses an empty payload with no_data', async () => {
    await refuses(raw(''), 400, 'no_data', /No data found/)
    await refuses(
      raw('compression=gzip-js', { contentType: 'application/x-www-form-urlencoded' }),
      400,
      'no_data',
      /No data/,
    )
  })
})

describe('the size bound that lets small requests skip measuring each event', () => {
  it('no JSON text grows by more than MAX_REWRITE_GROWTH when parsed and written again (fast-check)', () => {
    const number = fc
      .tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: -330, max: 330 }))
      .map(([digit, exp]) => `${digit}e${exp}`)
    const text = fc.oneof(
      fc.json(),
      fc.array(number, { minLength: 1, maxLength: 50 }).map((ns) => `[${ns.join(',')}]`),
      fc
        .string({ unit: 'binary' })
        .map((s) =>
          JSON.stringify(s).replace(
            /[^\x20-\x7e]/g,
            (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
          ),
        ),
    )
    fc.assert(
      fc.property(text, (source) => {
        const rewritten = Buffer.byteLength(JSON.stringify(JSON.parse(source)))
        assert.ok(
          rewritten <= MAX_REWRITE_GROWTH * Buffer.byteLength(source),
          `${source} → ${rewritten} bytes`,
        )
      }),
      { numRuns: 2000, seed: 20261130 },
    )
  })
})
