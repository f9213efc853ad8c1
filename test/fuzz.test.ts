/**
 * Fuzz (issue 6, point 2): generated requests against the real server over HTTP, with fast-check.
 *
 * Every private route gets generated bodies (wrong types, huge numbers, NaN-ish strings, strings up
 * to ~100 KB, deep nesting, `__proto__`/`constructor`/`prototype` keys, NUL and lone surrogates),
 * query strings (garbage limit/offset/group_type_index/search/cursor, repeated keys, broken
 * percent-escapes), path segments (`@current`, `-1`, `1e3`, huge numbers, `%00`, …) and headers
 * (content types, bogus Authorization, content-encoding); raw bodies (invalid UTF-8, truncated JSON,
 * random bytes); capture gets random payloads in every SDK encoding, broken gzip/lz64/base64, gzip
 * and lz64 bombs, random tokens and the real token with random events.
 *
 * Every response must be < 500 with a JSON body, and every error PostHog's envelope
 * {type, code, detail, attr}. At the end the server's RSS (it runs in this process) must have stayed
 * bounded, Object.prototype unpolluted, and a normal request must still work.
 *
 * The seed is fixed, so a run is reproducible. GROUPD_FUZZ_RUNS (default 250, about 3,400 requests
 * and 20 s per engine) is the run count of each property (the busiest run a multiple of it); every
 * run sends one request or a few. Larger runs, or another seed (scripts/test.sh takes file args):
 *
 *   GROUPD_FUZZ_RUNS=5000 npm test -- test/fuzz.test.ts
 *   GROUPD_FUZZ_SEED=12345 npm test -- test/fuzz.test.ts
 *
 * A failure prints fast-check's seed, path and shrunk counterexample, and the request and response.
 *
 * Regression tests for what the fuzzer found close the file, before the final memory check.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { gzipSync } from 'fflate'
import LZString from 'lz-string'
import { CAPTURE_PATHS } from '../src/capture/routes.ts'
import { type Encoding, sendCapture } from './helpers/capture.ts'
import { createTenant, ENGINE, startServer, type Tenant, type TestServer } from './helpers/harness.ts'

const RUNS = Math.max(1, Number(process.env.GROUPD_FUZZ_RUNS) || 250)
const SEED = Number(process.env.GROUPD_FUZZ_SEED) || 0x6f757a7a
const MiB = 1024 * 1024
/** RSS growth allowed over the whole file (the server runs in this process). */
const RSS_BOUND_BYTES = 300 * MiB

// ---------------------------------------------------------------------------------------------
// Requests and the checks every response must pass
// ---------------------------------------------------------------------------------------------

interface Req {
  method: string
  path: string
  headers: Record<string, string>
  body?: string | Uint8Array
}

interface Res {
  status: number
  text: string
  headers: Headers
}

let cases = 0

const short = (value: unknown, max = 300): string => {
  const text =
    typeof value === 'string' ? value : value instanceof Uint8Array ? `<${value.length} bytes>` : ''
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…(${text.length})` : text)
}

const describeReq = (req: Req): string =>
  `${req.method} ${short(req.path, 200)} headers=${short(JSON.stringify(req.headers), 400)} body=${short(req.body ?? '')}`

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function assertEnvelope(body: unknown, where: string): void {
  assert.ok(isObject(body), `error body is not an object: ${where}`)
  assert.deepEqual(Object.keys(body).sort(), ['attr', 'code', 'detail', 'type'], `not an envelope: ${where}`)
  assert.equal(typeof body.type, 'string', where)
  assert.equal(typeof body.code, 'string', where)
  assert.equal(typeof body.detail, 'string', where)
  assert.ok(body.attr === null || typeof body.attr === 'string', `attr: ${where}`)
}

/** The invariant: < 500, JSON (empty for 204 and HEAD), an envelope for every error. */
function checkResponse(req: Req, res: Res): unknown {
  cases++
  const where = `${describeReq(req)} → ${res.status} ${short(res.text)}`
  assert.ok(res.status < 500, `server error: ${where}`)
  if (req.method === 'HEAD' || res.status === 204) {
    assert.equal(res.text, '', `a body on ${res.status}: ${where}`)
    return undefined
  }
  let body: unknown
  try {
    body = JSON.parse(res.text)
  } catch {
    assert.fail(`body is not JSON: ${where}`)
  }
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/, `content type: ${where}`)
  if (res.status >= 400) assertEnvelope(body, where)
  return body
}

let baseUrl = ''

async function send(req: Req): Promise<Res> {
  const res = await fetch(baseUrl + req.path, {
    method: req.method,
    headers: req.headers,
    body: req.body as BodyInit | undefined,
  })
  return { status: res.status, text: await res.text(), headers: res.headers }
}

async function hit(req: Req): Promise<{ res: Res; body: unknown }> {
  const res = await send(req)
  return { res, body: checkResponse(req, res) }
}

/** Runs a property with the file's seed (distinct per property) and run count. */
let propertyNumber = 0
async function check<T>(arbitrary: fc.Arbitrary<T>, run: (value: T) => Promise<void>, runs = RUNS) {
  propertyNumber++
  await fc.assert(fc.asyncProperty(arbitrary, run), { seed: SEED + propertyNumber, numRuns: runs })
}

// ---------------------------------------------------------------------------------------------
// Generators: strings, JSON text, bodies
// ---------------------------------------------------------------------------------------------

/** Code units that break naive code: NUL, lone surrogates, BOM, RTL override, escapes, quotes. */
const NASTY_UNITS = [
  '\u0000',
  '\ud800',
  '\udfff',
  '\ud83d',
  '\ude00',
  '😀',
  'é',
  'e\u0301',
  '\u202e',
  '\ufeff',
  '\uffff',
  '\u2028',
  '\u0085',
  '%',
  '%00',
  '%zz',
  '\\',
  '\\u0000',
  '"',
  "'",
  '\n',
  '\r\n',
  '\t',
  ' ',
  '<script>',
  '{{x}}',
  '%s',
  '*',
  '_',
  '?',
  '#',
  '&',
  '=',
  '+',
  '/',
  '..',
]

const NANISH = [
  'NaN',
  '-NaN',
  'Infinity',
  '-Infinity',
  'undefined',
  'null',
  'None',
  'true',
  'True',
  'false',
  '',
  ' ',
  '0',
  '-0',
  '+7',
  ' 7 ',
  '007',
  '7.0',
  '7.5',
  '7.',
  '.7',
  '1e3',
  '1E3',
  '1e999',
  '-1e999',
  '0x1F',
  '0b1',
  '0o7',
  '1_000',
  '١٢',
  '７',
  '-1',
  '2147483647',
  '2147483648',
  '-2147483649',
  '4294967296',
  '9007199254740993',
  '99999999999999999999999999999999',
  `1${'0'.repeat(400)}`,
  '1.0000000000000000000001',
]

/** Raw JSON number literals, including ones JSON.parse turns into Infinity or loses precision on. */
const NUMBER_LITERALS = [
  '0',
  '-0',
  '1',
  '4',
  '5',
  '-1',
  '7',
  '7.0',
  '7.5',
  '1e3',
  '1E+2',
  '1e308',
  '-1e308',
  '1e999',
  '-1e999',
  '5e-324',
  '2147483647',
  '2147483648',
  '-2147483649',
  '4294967296',
  '9007199254740993',
  '123456789012345678901234567890',
  '0.1',
  '1.7976931348623157e308',
]

const nastyUnit = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.constantFrom(...NASTY_UNITS) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
)

/** Up to ~100 KB: a prefix and one unit repeated (cheap to generate at any length). */
const longString = fc
  .tuple(
    fc.string({ unit: nastyUnit, maxLength: 5 }),
    fc.constantFrom('a', 'é', '😀', '\ud800', '\u0000', '%', '"', '\\'),
    fc.integer({ min: 256, max: 100_000 }),
  )
  .map(([prefix, unit, n]) => prefix + unit.repeat(Math.ceil(n / unit.length)))

const weirdString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: nastyUnit, maxLength: 24 }) },
  { weight: 3, arbitrary: fc.constantFrom(...NANISH) },
  { weight: 2, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: longString },
)

/** Short strings only (query values, keys, tokens). */
const shortWeird: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: nastyUnit, maxLength: 16 }),
  fc.constantFrom(...NANISH),
  fc.string({ maxLength: 8 }),
)

const PROTO_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__defineGetter__',
  'then',
]
const POLLUTER = '{"polluted":"yes","toString":"x","isAdmin":true}'

/** The fields the API reads, so generated objects often reach real validation and storage. */
const FIELD_NAMES = [
  'name',
  'format',
  'interval',
  'display',
  'filters',
  'math',
  'math_property',
  'group_type_index',
  'name_singular',
  'name_plural',
  'detail_dashboard',
  'default_columns',
  'personal_api_key',
  'id',
  'source',
  'table_name',
  'timestamp_field',
  'key_field',
  'events',
  'properties',
]

const keyArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...FIELD_NAMES) },
  { weight: 2, arbitrary: fc.constantFrom(...PROTO_KEYS) },
  { weight: 2, arbitrary: shortWeird },
)

const str = (s: string) => JSON.stringify(s)
const objectOf = (entries: readonly (readonly [string, string])[]) =>
  `{${entries.map(([k, v]) => `${str(k)}:${v}`).join(',')}}`

/** Deeply nested JSON text, built directly (the generators' own recursion stays shallow). */
const deepJson = fc
  .tuple(fc.integer({ min: 10, max: 200_000 }), fc.constantFrom('array', 'object', 'mixed', 'proto'))
  .map(([depth, kind]) => {
    const open = { array: '[', object: '{"a":', mixed: '[{"a":', proto: '{"__proto__":' }[kind] as string
    const close = { array: ']', object: '}', mixed: '}]', proto: '}' }[kind] as string
    const n = kind === 'array' ? depth : Math.ceil(depth / 4)
    return open.repeat(n) + (kind === 'array' ? '1' : POLLUTER) + close.repeat(n)
  })

const scalarJson: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: weirdString.map(str) },
  { weight: 2, arbitrary: fc.constantFrom(...NUMBER_LITERALS) },
  { weight: 1, arbitrary: fc.double().map((n) => (Number.isFinite(n) ? String(n) : 'null')) },
  { weight: 1, arbitrary: fc.integer().map(String) },
  { weight: 1, arbitrary: fc.constantFrom('true', 'false', 'null', '{}', '[]', POLLUTER) },
)

/** Any JSON value, as text (objects may repeat keys and carry `__proto__`). */
const { json: anyJson } = fc.letrec<{ json: string; array: string; object: string }>((tie) => ({
  json: fc.oneof({ depthSize: 'small' }, scalarJson, tie('array'), tie('object')),
  array: fc.array(tie('json'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
  object: fc.array(fc.tuple(keyArb, tie('json')), { maxLength: 5 }).map(objectOf),
}))

const valueJson: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: anyJson },
  { weight: 1, arbitrary: deepJson },
)

/** A JSON object with some of the given fields (each from its generator) plus random extra keys. */
function fieldsObject(fields: Record<string, fc.Arbitrary<string>>): fc.Arbitrary<string> {
  const known = Object.entries(fields).map(([key, arb]) =>
    fc.option(
      arb.map((value) => [key, value] as const),
      { nil: undefined, freq: 3 },
    ),
  )
  const extra = fc.array(fc.tuple(keyArb, valueJson), { maxLength: 3 })
  return fc.tuple(fc.tuple(...known), extra, fc.boolean()).map(([present, more, extraFirst]) => {
    const own = present.filter((entry) => entry !== undefined)
    return objectOf(extraFirst ? [...more, ...own] : [...own, ...more])
  })
}

const choiceJson = (valid: string[]) =>
  fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...valid.map(str)) }, { weight: 2, arbitrary: valueJson })
const intJson = (valid: number[]) =>
  fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...valid.map(String)) },
    { weight: 2, arbitrary: fc.constantFrom(...NUMBER_LITERALS) },
    { weight: 1, arbitrary: fc.constantFrom(...NANISH).map(str) },
    { weight: 1, arbitrary: valueJson },
  )
const stringJson = fc.oneof(
  { weight: 3, arbitrary: weirdString.map(str) },
  { weight: 1, arbitrary: valueJson },
)

const filtersJson: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 3,
    arbitrary: fieldsObject({
      events: fc.oneof(
        fc.constant('[{"id":"$pageview","type":"events"}]'),
        fc.array(fieldsObject({ id: stringJson, type: stringJson }), { maxLength: 3 }).map((xs) => `[${xs}]`),
        valueJson,
      ),
      source: choiceJson(['events', 'data_warehouse', 'other']),
      table_name: stringJson,
      timestamp_field: stringJson,
      key_field: stringJson,
      properties: valueJson,
      filter_test_accounts: valueJson,
    }),
  },
  { weight: 1, arbitrary: valueJson },
)

const metricBody = fc.oneof(
  {
    weight: 6,
    arbitrary: fieldsObject({
      name: stringJson,
      format: choiceJson(['numeric', 'currency']),
      interval: intJson([1, 7, 30, 3650, 3651, 0]),
      display: choiceJson(['number', 'sparkline']),
      filters: filtersJson,
      math: choiceJson(['count', 'sum']),
      math_property: fc.oneof(stringJson, fc.constant('null')),
    }),
  },
  { weight: 1, arbitrary: valueJson },
)

const metadataRow = fieldsObject({
  group_type_index: intJson([0, 1, 2, 3, 4, 5]),
  name_singular: fc.oneof(stringJson, fc.constant('null')),
  name_plural: fc.oneof(stringJson, fc.constant('null')),
  detail_dashboard: intJson([1, 2147483647, 2147483648]),
  default_columns: fc.oneof(
    fc.array(stringJson, { maxLength: 6 }).map((xs) => `[${xs}]`),
    fc.constant('null'),
    valueJson,
  ),
})

const metadataBody = fc.oneof(
  { weight: 5, arbitrary: fc.array(metadataRow, { maxLength: 4 }).map((rows) => `[${rows}]`) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 90, max: 130 }).map((n) => `[${'{"group_type_index":0},'.repeat(n)}{}]`),
  },
  { weight: 1, arbitrary: metadataRow },
  { weight: 1, arbitrary: valueJson },
)

const columnsBody = fc.oneof(
  {
    weight: 5,
    arbitrary: fieldsObject({
      group_type_index: intJson([0, 1, 2, 3, 4, 5]),
      default_columns: fc.oneof(
        fc.array(stringJson, { maxLength: 6 }).map((xs) => `[${xs}]`),
        fc.integer({ min: 190, max: 210 }).map((n) => `[${Array(n).fill('"c"').join(',')}]`),
        fc.constant('null'),
        valueJson,
      ),
    }),
  },
  { weight: 1, arbitrary: valueJson },
)

/** Bodies for routes that take none: still sent, to be ignored or refused. */
const groupBody = fc.oneof(
  {
    weight: 5,
    arbitrary: fieldsObject({
      group_type_index: intJson([0, 1, 4, 5]),
      group_key: stringJson,
      group_properties: fc.oneof(deepJson, valueJson),
    }),
  },
  { weight: 1, arbitrary: valueJson },
)

const propertyBody = fc.oneof(
  {
    weight: 5,
    arbitrary: fieldsObject({ key: stringJson, value: fc.oneof(deepJson, valueJson), $unset: stringJson }),
  },
  { weight: 1, arbitrary: valueJson },
)

/** GroupsQuery expressions, valid and nearly so. */
const expressionJson = fc.oneof(
  {
    weight: 3,
    arbitrary: choiceJson([
      'group_name',
      'key',
      'created_at',
      'properties.plan',
      'properties.`a b.c`',
      'count()',
      'sum(properties.seats)',
      'max(properties.`x`)',
      'properties.seats DESC',
      'count() DESC',
      'sum(key)',
      'properties.',
      'properties.`',
      'count(*)',
    ]),
  },
  { weight: 1, arbitrary: stringJson },
)
const listOf = (item: fc.Arbitrary<string>) =>
  fc.oneof(
    fc.array(item, { maxLength: 4 }).map((xs) => `[${xs}]`),
    valueJson,
  )

const groupFilterJson = fieldsObject({
  key: stringJson,
  value: valueJson,
  operator: choiceJson(['exact', 'icontains', 'gt', 'between', 'regex', 'is_set', 'semver_eq']),
  type: choiceJson(['group', 'event', 'person']),
  group_type_index: intJson([0, 1, 5]),
})

const queryBody = fc.oneof(
  {
    weight: 5,
    arbitrary: fieldsObject({
      query: fieldsObject({
        kind: choiceJson(['UsageMetricsQuery', 'GroupsQuery']),
        group_type_index: intJson([0, 1, 4, 5]),
        group_key: stringJson,
        select: listOf(expressionJson),
        orderBy: listOf(expressionJson),
        search: stringJson,
        properties: listOf(groupFilterJson),
        limit: intJson([0, 1, 100, 50_000, 50_001]),
        offset: intJson([0, 10, -1]),
      }),
      refresh: valueJson,
      filters_override: valueJson,
    }),
  },
  { weight: 1, arbitrary: valueJson },
)

const bulkBody = fc.oneof(
  {
    weight: 5,
    arbitrary: fieldsObject({
      operations: listOf(
        fieldsObject({
          group_type_index: intJson([0, 1, 4, 5]),
          group_type: stringJson,
          group_key: stringJson,
          $set: fc.oneof(deepJson, valueJson),
          $set_once: valueJson,
          $unset: listOf(stringJson),
          $union: valueJson,
          $remove: valueJson,
        }),
      ),
    }),
  },
  { weight: 1, arbitrary: valueJson },
)

const projectBody = fc.oneof(
  {
    weight: 5,
    arbitrary: fieldsObject({ name: stringJson, test_account_filters: fc.oneof(deepJson, valueJson) }),
  },
  { weight: 1, arbitrary: valueJson },
)

const ignoredBody = fc.oneof(anyJson, fc.constant(''))

// ---------------------------------------------------------------------------------------------
// Generators: headers, query strings, path segments
// ---------------------------------------------------------------------------------------------

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/json;charset=UTF-8',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'application/json; charset="utf-8"',
  'application/json; foo',
  'application/json; charset=',
  'application/json, text/plain',
  'application/jsonp',
  'application/vnd.api+json',
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=utf-8',
  'text/plain',
  'text/plain; charset=utf-8',
  'text/json',
  'multipart/form-data; boundary=xyz',
  'application/octet-stream',
  '*/*',
  'application/*',
  ';',
  ';;;=',
  'json',
  '/',
  'a/b/c',
  'application/ json',
  `application/json; ${'x'.repeat(2000)}`,
]

const CONTENT_ENCODINGS = ['gzip', 'deflate', 'br', 'identity', 'gzip, gzip', 'zstd', 'x-garbage', 'GZIP', '']

const headerValue = fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).map((s) => s.trim())

function authArb(key: string): fc.Arbitrary<string | undefined> {
  return fc.oneof(
    { weight: 12, arbitrary: fc.constant(`Bearer ${key}`) },
    {
      weight: 4,
      arbitrary: fc.constantFrom(
        undefined,
        'Bearer',
        'Bearer ',
        `bearer ${key}`,
        `BEARER ${key}`,
        `Bearer  ${key}`,
        `Bearer ${key} extra`,
        `Bearer ${key}x`,
        `Bearer ${key.slice(0, -1)}`,
        `Token ${key}`,
        key,
        `Basic ${Buffer.from(`user:${key}`).toString('base64')}`,
        'Bearer phx_',
        'Bearer pha_abcdef',
        'Bearer phc_abcdef',
        `Bearer ${'phx_'.padEnd(8000, 'x')}`,
        'Bearer \u00e9\u00e8',
        'Bearer null',
        'Bearer undefined',
        'Negotiate abc',
        'Bearer a b c',
      ),
    },
    { weight: 2, arbitrary: headerValue.map((v) => `Bearer ${v}`) },
    { weight: 1, arbitrary: headerValue },
  )
}

interface HeaderChoice {
  auth: string | undefined
  contentType: string | undefined
  contentEncoding: string | undefined
  extra: [string, string][]
}

const EXTRA_HEADER_NAMES = [
  'accept',
  'accept-encoding',
  'accept-charset',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'origin',
  'cookie',
  'x-http-method-override',
  'x-requested-with',
  'if-none-match',
  'range',
  'x-custom',
]

function headersArb(key: string, bodyKind: 'json' | 'none'): fc.Arbitrary<HeaderChoice> {
  const contentType =
    bodyKind === 'json'
      ? fc.oneof(
          { weight: 8, arbitrary: fc.constant('application/json') },
          { weight: 3, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
          { weight: 1, arbitrary: fc.constant(undefined) },
          { weight: 1, arbitrary: headerValue },
        )
      : fc.oneof(
          { weight: 6, arbitrary: fc.constant(undefined) },
          { weight: 1, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
        )
  return fc.record({
    auth: authArb(key),
    contentType,
    contentEncoding: fc.oneof(
      { weight: 8, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.constantFrom(...CONTENT_ENCODINGS) },
    ),
    extra: fc.array(
      fc.tuple(
        fc.constantFrom(...EXTRA_HEADER_NAMES),
        fc.oneof(
          { weight: 20, arbitrary: headerValue },
          {
            weight: 6,
            arbitrary: fc.constantFrom('*/*', 'text/html', 'gzip', '1.2.3.4, ::1', 'https', 'bytes=0-1'),
          },
          // Over Node's 16 KiB header limit: its parser refuses the request (431).
          { weight: 1, arbitrary: fc.constant('h'.repeat(17 * 1024)) },
        ),
      ),
      { maxLength: 3 },
    ),
  })
}

function buildHeaders(choice: HeaderChoice): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const [name, value] of choice.extra) headers[name] = value
  if (choice.auth !== undefined) headers.authorization = choice.auth
  if (choice.contentType !== undefined) headers['content-type'] = choice.contentType
  if (choice.contentEncoding !== undefined) headers['content-encoding'] = choice.contentEncoding
  return headers
}

const PERCENT_GARBAGE = [
  '%',
  '%%',
  '%zz',
  '%0',
  '%00',
  '%FF',
  '%C0%AF',
  '%E0%A4%A',
  '%ED%A0%80',
  '%F4%90%80%80',
  '%25',
  '%2',
  '%u0041',
  '%%30',
]

/** A pagination / groups cursor: PostHog's base64url JSON with garbage inside, or plain garbage. */
const cursorArb = fc.oneof(
  fc
    .tuple(fc.oneof(fc.constantFrom(...NUMBER_LITERALS), scalarJson), fc.oneof(scalarJson, anyJson))
    .map(([c, k]) => Buffer.from(`{"c":${c},"k":${k}}`).toString('base64url')),
  anyJson.map((text) => Buffer.from(text).toString('base64url')),
  fc.string({ unit: fc.constantFrom(...'ABCDEFabcdef0123456789-_=+/'.split('')), maxLength: 40 }),
  shortWeird,
)

const QUERY_KEYS = [
  'key',
  'value',
  'limit',
  'offset',
  'group_type_index',
  'search',
  'group_key',
  'cursor',
  'personal_api_key',
  'format',
  'compression',
  'token',
  'data',
  '__proto__',
  'constructor',
  'limit[]',
  'offset[0]',
  'a[b][c]',
  '',
]

const queryValue: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NANISH) },
  { weight: 2, arbitrary: shortWeird },
  { weight: 1, arbitrary: fc.constantFrom('0', '1', '2', '3', '4', '5', '100', '1000', '1001') },
  { weight: 1, arbitrary: cursorArb },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 3000 }).map((n) => 'x'.repeat(n)) },
)

/** Encoded properly, inserted raw (the URL parser escapes what it must), or percent garbage. */
const queryPart = fc
  .tuple(
    fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...QUERY_KEYS) }, { weight: 1, arbitrary: shortWeird }),
    queryValue,
    fc.constantFrom('encoded', 'raw', 'garbage', 'bare'),
    fc.constantFrom(...PERCENT_GARBAGE),
  )
  .map(([key, value, how, garbage]) => {
    const raw = (s: string) => s.replace(/[#&=]/g, (c) => encodeURIComponent(c))
    switch (how) {
      case 'encoded':
        return new URLSearchParams([[key, value]]).toString()
      case 'raw':
        return `${raw(key)}=${raw(value)}`
      case 'garbage':
        return `${encodeURIComponent(key.replace(/[\ud800-\udfff]/g, ''))}=${garbage}${raw(value)}${garbage}`
      default:
        return raw(key)
    }
  })

const queryString = fc
  .tuple(
    fc.array(queryPart, { maxLength: 6 }),
    fc.constantFrom('&', '&&', ';', '&amp;'),
    fc.constantFrom('?', '??', '?&', ''),
  )
  .map(([parts, sep, lead]) =>
    parts.length === 0 && lead === '' ? '' : `?${lead.slice(1)}${parts.join(sep)}`,
  )

interface Segments {
  project: string
  index: string
  metric: string
}

const PROJECT_GARBAGE = [
  '@current',
  '@CURRENT',
  '@current%00',
  '-1',
  '0',
  '1e3',
  '1.0',
  '+1',
  ' 1',
  '0x1',
  '١',
  '２',
  '999999999999999',
  '9999999999999999',
  '2147483647',
  '2147483648',
  '99999999999999999999999999999',
  '%00',
  '1%00',
  '%',
  '%zz',
  '%2e%2e',
  '%2F',
  'null',
  'NaN',
  'abc'.repeat(200),
]
const INDEX_GARBAGE = [
  '5',
  '-1',
  '00',
  '01',
  '1e0',
  '0x0',
  '９',
  '%30',
  '%00',
  '0%00',
  '99999999999',
  '4.0',
  ' 0',
  'a',
]
const METRIC_GARBAGE = [
  'not-a-uuid',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  '%00',
  '%',
  '1',
  '-1',
  'x'.repeat(600),
]

function segmentsArb(project: number, other: number): fc.Arbitrary<Segments> {
  return fc.record({
    project: fc.oneof(
      { weight: 10, arbitrary: fc.constant(String(project)) },
      { weight: 1, arbitrary: fc.constant(String(other)) },
      { weight: 3, arbitrary: fc.constantFrom(...PROJECT_GARBAGE) },
      { weight: 1, arbitrary: shortWeird.map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, ''))) },
    ),
    index: fc.oneof(
      { weight: 10, arbitrary: fc.constantFrom('0', '1', '2', '3', '4') },
      { weight: 3, arbitrary: fc.constantFrom(...INDEX_GARBAGE) },
    ),
    metric: fc.oneof(
      { weight: 10, arbitrary: fc.constant('keep') },
      { weight: 2, arbitrary: fc.constant('fresh') },
      { weight: 2, arbitrary: fc.uuid() },
      { weight: 2, arbitrary: fc.constantFrom(...METRIC_GARBAGE) },
    ),
  })
}

/** Valid segments: the tenant's project, an existing index, the kept metric. */
const VALID_SEGMENTS = (project: number): Segments => ({
  project: String(project),
  index: '0',
  metric: 'keep',
})

// ---------------------------------------------------------------------------------------------
// Private routes
// ---------------------------------------------------------------------------------------------

type BodyKind =
  | 'metric'
  | 'metadata'
  | 'columns'
  | 'group'
  | 'property'
  | 'query'
  | 'bulk'
  | 'project'
  | 'none'

interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  /** OpenAPI path template, as /api/schema/ lists it. */
  template: string
  body: BodyKind
}

const P = '/api/projects/{project_id}'
const M = `${P}/groups_types/{group_type_index}/metrics`
const ROUTES: Route[] = [
  { method: 'GET', template: '/api/projects/', body: 'none' },
  { method: 'GET', template: `${P}/`, body: 'none' },
  { method: 'GET', template: `${P}/groups_types/`, body: 'none' },
  { method: 'DELETE', template: `${P}/groups_types/{group_type_index}/`, body: 'none' },
  { method: 'PATCH', template: `${P}/groups_types/update_metadata/`, body: 'metadata' },
  { method: 'PUT', template: `${P}/groups_types/set_default_columns/`, body: 'columns' },
  { method: 'GET', template: `${M}/`, body: 'none' },
  { method: 'POST', template: `${M}/`, body: 'metric' },
  { method: 'GET', template: `${M}/{id}/`, body: 'none' },
  { method: 'PUT', template: `${M}/{id}/`, body: 'metric' },
  { method: 'PATCH', template: `${M}/{id}/`, body: 'metric' },
  { method: 'DELETE', template: `${M}/{id}/`, body: 'none' },
  { method: 'GET', template: `${P}/groups/`, body: 'none' },
  { method: 'GET', template: `${P}/groups/find/`, body: 'none' },
  { method: 'GET', template: `${P}/ingestion_warnings/`, body: 'none' },
  { method: 'POST', template: `${P}/groups/`, body: 'group' },
  { method: 'POST', template: `${P}/groups/update_property/`, body: 'property' },
  { method: 'POST', template: `${P}/groups/delete_property/`, body: 'property' },
  { method: 'POST', template: `${P}/groups/bulk/`, body: 'bulk' },
  { method: 'GET', template: `${P}/groups/property_values/`, body: 'none' },
  { method: 'GET', template: `${P}/groups/property_definitions/`, body: 'none' },
  { method: 'GET', template: `${P}/events/`, body: 'none' },
  { method: 'PATCH', template: `${P}/`, body: 'project' },
  { method: 'POST', template: `${P}/query/`, body: 'query' },
]

const BODIES: Record<BodyKind, fc.Arbitrary<string>> = {
  metric: metricBody,
  metadata: metadataBody,
  columns: columnsBody,
  group: groupBody,
  property: propertyBody,
  query: queryBody,
  bulk: bulkBody,
  project: projectBody,
  none: ignoredBody,
}

const routeArb = fc.constantFrom(...ROUTES)

const OTHER_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'] as const

// ---------------------------------------------------------------------------------------------
// Capture
// ---------------------------------------------------------------------------------------------

const ENCODINGS: Encoding[] = ['json', 'gzip-header', 'gzip-js', 'lz64-form', 'base64-form', 'get-data']

const eventName = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('$pageview', '$groupidentify', 'signed up', '$identify').map(str) },
  { weight: 2, arbitrary: stringJson },
  { weight: 1, arbitrary: fc.constant(str('e'.repeat(201))) },
)

const groupsJson = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .array(
        fc.tuple(
          fc.oneof(fc.constantFrom('company', 'team', 'org', 'project', 'instance', 'sixth'), shortWeird),
          fc.oneof(stringJson, fc.constantFrom(...NUMBER_LITERALS), fc.constant('null')),
        ),
        { maxLength: 4 },
      )
      .map(objectOf),
  },
  { weight: 1, arbitrary: valueJson },
)

const eventJson = fieldsObject({
  event: eventName,
  distinct_id: fc.oneof(stringJson, fc.constantFrom(...NUMBER_LITERALS), fc.constant(str('d'.repeat(201)))),
  properties: fc.oneof(
    {
      weight: 5,
      arbitrary: fieldsObject({
        $groups: groupsJson,
        $group_type: fc.oneof(fc.constantFrom('company', 'team').map(str), stringJson),
        $group_key: fc.oneof(
          stringJson,
          fc.constantFrom(...NUMBER_LITERALS),
          fc.constant(str('k'.repeat(401))),
        ),
        $group_set: fc.oneof(anyJson, fc.constant(POLLUTER)),
        $process_person_profile: fc.constantFrom('true', 'false', '"false"', '0'),
        distinct_id: stringJson,
        token: stringJson,
      }),
    },
    { weight: 1, arbitrary: valueJson },
  ),
  timestamp: fc.oneof(
    fc.constantFrom(
      '"2024-01-01T00:00:00Z"',
      '"2024-13-45T99:99:99Z"',
      '"0"',
      '-1',
      '1e308',
      '8.64e15',
      '"now"',
    ),
    fc.date({ noInvalidDate: true }).map((d) => str(d.toISOString())),
    fc.constantFrom(...NUMBER_LITERALS),
    stringJson,
  ),
  offset: fc.oneof(fc.constantFrom(...NUMBER_LITERALS), stringJson),
  uuid: fc.oneof(
    fc.uuid().map(str),
    fc.uuid().map((u) => str(u.toUpperCase())),
    stringJson,
  ),
  sent_at: fc.oneof(fc.constantFrom(...NUMBER_LITERALS), stringJson),
})

interface CaptureCase {
  path: string
  encoding: Encoding
  shape: 'single' | 'batch' | 'array' | 'raw'
  token: 'real' | 'none' | string
  tokenField: 'token' | 'api_key' | '$token' | 'query'
  events: string[]
  raw: string
  query: string
}

function captureArb(): fc.Arbitrary<CaptureCase> {
  return fc.record({
    path: fc.constantFrom(...CAPTURE_PATHS, '/e', '/batch', '/i/v0/e'),
    encoding: fc.constantFrom(...ENCODINGS),
    shape: fc.constantFrom('single', 'batch', 'array', 'raw'),
    token: fc.oneof(
      { weight: 8, arbitrary: fc.constant('real') },
      { weight: 1, arbitrary: fc.constant('none') },
      {
        weight: 3,
        arbitrary: fc.oneof(
          shortWeird,
          fc.constantFrom('phc_', 'phx_abc', '   ', `phc_${'x'.repeat(300)}`, 'null'),
          fc.string({ unit: 'grapheme-ascii', maxLength: 60 }),
        ),
      },
    ),
    tokenField: fc.constantFrom('token', 'api_key', '$token', 'query'),
    events: fc.array(eventJson, { minLength: 0, maxLength: 4 }),
    raw: valueJson,
    query: fc.oneof({ weight: 4, arbitrary: fc.constant('') }, { weight: 1, arbitrary: queryString }),
  })
}

// ---------------------------------------------------------------------------------------------
// Broken compression
// ---------------------------------------------------------------------------------------------

/** lz-string base64 for `char` repeated about `total` times, written directly (lz-string's own
 * compressor takes a minute for 20 MiB). Each code repeats the previous entry plus one char. */
function lz64Repeat(char: string, total: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  const out: string[] = []
  let value = 0
  let position = 0
  const write = (bits: number, count: number) => {
    for (let i = 0; i < count; i++) {
      value = (value << 1) | ((bits >> i) & 1)
      if (++position === 6) {
        out.push(alphabet[value] as string)
        value = 0
        position = 0
      }
    }
  }
  write(0, 2)
  write(char.charCodeAt(0), 8)
  let dictionaryLength = 4
  let enlargeIn = 4
  let numBits = 3
  let produced = 1
  for (let entry = 2; produced < total; entry++) {
    write(dictionaryLength, numBits)
    produced += entry
    dictionaryLength++
    if (--enlargeIn === 0) {
      enlargeIn = 2 ** numBits
      numBits++
    }
  }
  write(2, numBits)
  if (position > 0) write(0, 6 - position)
  return out.join('')
}

// ---------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------

describe(`fuzz (${ENGINE})`, () => {
  let server: TestServer
  let tenant: Tenant
  let other: Tenant
  let keepId: string
  let rssStart = 0
  let started = 0
  let fresh = 0
  const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort()

  const valid = () => ({ authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json' })
  /** The regression tests' own tenant, untouched by the fuzzing (which may fill every limit). */
  let reg: Tenant
  let regMetric: string
  const regValid = () => ({ authorization: `Bearer ${reg.key}`, 'content-type': 'application/json' })

  before(async () => {
    started = Date.now()
    server = await startServer()
    baseUrl = server.url
    tenant = await createTenant(server.database)
    other = await createTenant(server.database)
    const p = tenant.project.id
    // A group type, a group and a metric, so the routes have something to read and update.
    const seeded = await sendCapture(server.url, '/batch/', {
      api_key: tenant.project.api_token,
      batch: [
        { event: 'x', distinct_id: 'u', properties: { $groups: { company: 'acme' } } },
        {
          event: '$groupidentify',
          distinct_id: 'u',
          properties: { $group_type: 'company', $group_key: 'acme', $group_set: { plan: 'pro' } },
        },
      ],
    })
    assert.equal(seeded.status, 200)
    const created = await hit({
      method: 'POST',
      path: `/api/projects/${p}/groups_types/0/metrics/`,
      headers: valid(),
      body: JSON.stringify({ name: 'kept', filters: { events: [{ id: '$pageview', type: 'events' }] } }),
    })
    assert.equal(created.res.status, 201)
    keepId = (created.body as { id: string }).id
    reg = await createTenant(server.database)
    const regCreated = await hit({
      method: 'POST',
      path: `/api/projects/${reg.project.id}/groups_types/0/metrics/`,
      headers: regValid(),
      body: JSON.stringify({ name: 'kept', filters: {} }),
    })
    regMetric = (regCreated.body as { id: string }).id
    rssStart = process.memoryUsage().rss
  })

  after(async () => {
    console.log(`fuzz: ${cases} cases on ${ENGINE} in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    await server?.close()
  })

  /** Path from a template and segments; `fresh` creates a metric to be deleted or changed. */
  async function pathOf(route: Route, s: Segments, method: string = route.method): Promise<string> {
    let metric = s.metric === 'keep' ? keepId : s.metric
    if (s.metric === 'fresh' || (s.metric === 'keep' && method === 'DELETE')) {
      const created = await hit({
        method: 'POST',
        path: `/api/projects/${tenant.project.id}/groups_types/0/metrics/`,
        headers: valid(),
        body: JSON.stringify({ name: `fresh-${++fresh}`, filters: {} }),
      })
      metric = (created.body as { id?: string }).id ?? '00000000-0000-0000-0000-000000000000'
    }
    return route.template
      .replace('{project_id}', s.project)
      .replace('{group_type_index}', s.index)
      .replace('{id}', metric)
  }

  function bodyFor(method: string, text: string): string | undefined {
    return method === 'GET' || method === 'HEAD' ? undefined : text
  }

  it('fuzzes every private route listed by the OpenAPI document', async () => {
    const res = await hit({ method: 'GET', path: '/api/schema/', headers: {} })
    const doc = res.body as { paths: Record<string, Record<string, unknown>> }
    const listed = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/api/projects'))
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
      .sort()
    assert.deepEqual(listed, ROUTES.map((r) => `${r.method} ${r.template}`).sort())
  })

  it('private routes: generated bodies', async () => {
    const arb = routeArb.chain((route) =>
      fc.record({
        route: fc.constant(route),
        body: BODIES[route.body],
        headers: headersArb(tenant.key, route.body === 'none' ? 'none' : 'json'),
      }),
    )
    await check(
      arb,
      async ({ route, body, headers }) => {
        const path = await pathOf(route, VALID_SEGMENTS(tenant.project.id))
        const h = buildHeaders(headers)
        if (route.body !== 'none' && h['content-type'] === undefined) h['content-type'] = 'application/json'
        await hit({ method: route.method, path, headers: h, body: bodyFor(route.method, body) })
      },
      RUNS * 3,
    )
  })

  it('private routes: generated query strings and path segments', async () => {
    const arb = fc.record({
      route: routeArb,
      segments: segmentsArb(tenant.project.id, other.project.id),
      query: queryString,
      method: fc.oneof(
        { weight: 6, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.constantFrom(...OTHER_METHODS) },
      ),
      keyInQuery: fc.boolean(),
    })
    await check(
      arb,
      async ({ route, segments, query, method, keyInQuery }) => {
        const m = method ?? route.method
        const path = (await pathOf(route, segments, m)) + query
        const headers: Record<string, string> = keyInQuery ? {} : { authorization: `Bearer ${tenant.key}` }
        const withKey = keyInQuery
          ? `${path}${path.includes('?') ? '&' : '?'}personal_api_key=${tenant.key}`
          : path
        const body = route.body === 'metric' ? '{"name":"q","filters":{}}' : route.body === 'none' ? '' : '[]'
        if (m !== 'GET' && m !== 'HEAD') headers['content-type'] = 'application/json'
        await hit({ method: m, path: withKey, headers, body: bodyFor(m, body) })
      },
      RUNS * 2,
    )
  })

  it('private routes: generated headers', async () => {
    const arb = routeArb.chain((route) =>
      fc.record({
        route: fc.constant(route),
        headers: headersArb(tenant.key, 'json'),
        body: fc.oneof(BODIES[route.body], fc.constant('')),
      }),
    )
    await check(arb, async ({ route, headers, body }) => {
      const path = await pathOf(route, VALID_SEGMENTS(tenant.project.id))
      await hit({
        method: route.method,
        path,
        headers: buildHeaders(headers),
        body: bodyFor(route.method, body),
      })
    })
  })

  it('private routes: raw bodies (invalid UTF-8, truncated JSON, random bytes)', async () => {
    const bodyRoutes = ROUTES.filter((r) => r.body !== 'none' || r.method === 'DELETE')
    const invalidUtf8 = fc.constantFrom(
      [0xff],
      [0xfe, 0xff],
      [0xc0, 0x80],
      [0xc3],
      [0xe2, 0x82],
      [0xed, 0xa0, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0xf8, 0x88, 0x80, 0x80, 0x80],
      [0x00],
      [0xef, 0xbb, 0xbf],
    )
    const rawBody = fc.oneof(
      fc.uint8Array({ maxLength: 2000 }),
      fc
        .tuple(metricBody, fc.nat())
        .map(([text, cut]) => new TextEncoder().encode(text.slice(0, cut % (text.length + 1)))),
      fc
        .tuple(fc.string({ maxLength: 10 }), invalidUtf8, fc.string({ maxLength: 10 }))
        .map(([a, bad, b]) =>
          Buffer.concat([
            Buffer.from(`{"name":"${a}`),
            Buffer.from(bad),
            Buffer.from(`${b}","filters":{"events":"`),
            Buffer.from(bad),
            Buffer.from('"}}'),
          ]),
        ),
      metricBody.map((text) => Buffer.from(text, 'utf16le')),
      metricBody.map((text) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)])),
      metadataBody.map((text) => gzipSync(new TextEncoder().encode(text))),
      deepJson.map((text) => new TextEncoder().encode(`{"name":"n","filters":${text.slice(0, -1)}`)),
    )
    const arb = fc.record({
      route: fc.constantFrom(...bodyRoutes),
      body: rawBody,
      contentType: fc.oneof(
        { weight: 4, arbitrary: fc.constant('application/json') },
        { weight: 1, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
      ),
      encoding: fc.option(fc.constantFrom(...CONTENT_ENCODINGS), { nil: undefined, freq: 4 }),
    })
    await check(arb, async ({ route, body, contentType, encoding }) => {
      const path = await pathOf(route, VALID_SEGMENTS(tenant.project.id))
      const headers: Record<string, string> = {
        authorization: `Bearer ${tenant.key}`,
        'content-type': contentType,
      }
      if (encoding !== undefined) headers['content-encoding'] = encoding
      await hit({ method: route.method, path, headers, body })
    })
  })

  it('private routes: large and deep bodies near the 1 MiB limit', async () => {
    const route = ROUTES.find((r) => r.method === 'POST' && r.body === 'metric') as Route
    const arb = fc.record({
      depth: fc.integer({ min: 1_000, max: 400_000 }),
      kind: fc.constantFrom('[', '{"a":', '{"__proto__":'),
      field: fc.constantFrom('filters', 'name', 'math_property', 'extra'),
      size: fc.integer({ min: MiB - 1024, max: MiB + 1024 }),
    })
    await check(
      arb,
      async ({ depth, kind, field, size }) => {
        const close = kind === '[' ? ']' : '}'
        const n = Math.min(depth, Math.floor((MiB - 100) / (kind.length + 1)))
        const deep = `{"name":"deep","filters":{},"${field}":${kind.repeat(n)}1${close.repeat(n)}}`
        const path = await pathOf(route, VALID_SEGMENTS(tenant.project.id))
        await hit({ method: 'POST', path, headers: valid(), body: deep })
        const padded = `{"name":"big","filters":{"pad":"${'x'.repeat(Math.max(0, size - 40))}"}}`
        await hit({ method: 'POST', path, headers: valid(), body: padded })
      },
      Math.max(4, Math.ceil(RUNS / 10)),
    )
  })

  it('capture: random payloads in every encoding, random tokens', async () => {
    await check(
      captureArb(),
      async (c) => {
        const token = c.token === 'real' ? tenant.project.api_token : c.token
        let path = c.path + c.query
        const events = c.events.map((e) => JSON.parse(e) as unknown)
        let payload: unknown
        if (c.shape === 'raw') payload = JSON.parse(c.raw)
        else if (c.shape === 'batch') payload = { batch: events }
        else if (c.shape === 'array') payload = events
        else payload = events[0] ?? {}
        if (c.token !== 'none') {
          if (c.tokenField === 'query') {
            path += `${path.includes('?') ? '&' : '?'}${new URLSearchParams({ token })}`
          } else if (isObject(payload)) {
            payload[c.tokenField] = token
          } else if (Array.isArray(payload) && isObject(payload[0])) {
            payload[0][c.tokenField] = token
          }
        }
        let text: string | undefined
        try {
          text = JSON.stringify(payload)
        } catch {
          // Too deep for this process's JSON.stringify: sent as generated, the token in the query.
          const sep = path.includes('?') ? '&' : '?'
          await hit({
            method: 'POST',
            path: `${path}${sep}${new URLSearchParams({ token: tenant.project.api_token })}`,
            headers: { 'content-type': 'application/json' },
            body: c.shape === 'raw' ? c.raw : `[${c.events.join(',')}]`,
          })
          return
        }
        // ?data= travels in the URL: keep it under Node's header limit.
        const encoding = c.encoding === 'get-data' && (text?.length ?? 0) > 6000 ? 'json' : c.encoding
        const res = await sendCapture(server.url, path, payload, encoding)
        cases++
        const where = `capture ${encoding} ${short(path)} ${short(JSON.stringify(payload))} → ${res.status} ${short(JSON.stringify(res.body))}`
        assert.ok(res.status < 500, `server error: ${where}`)
        assert.ok(isObject(res.body), `body is not a JSON object: ${where}`)
        assert.match(res.headers.get('content-type') ?? '', /^application\/json/, where)
        if (res.status >= 400) assertEnvelope(res.body, where)
        else assert.deepEqual(res.body, { status: 1 }, where)
      },
      RUNS * 3,
    )
  })

  it('capture: broken gzip, lz64, base64 and raw bytes', async () => {
    const validJson = JSON.stringify({ token: tenant.project.api_token, event: 'e', distinct_id: 'u' })
    const gz = gzipSync(new TextEncoder().encode(validJson))
    const brokenGzip = fc.oneof(
      fc.nat().map((cut) => gz.slice(0, cut % gz.length)),
      fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })).map(([at, x]) => {
        const copy = Uint8Array.from(gz)
        const i = at % copy.length
        copy[i] = (copy[i] as number) ^ x
        return copy
      }),
      fc.uint8Array({ maxLength: 500 }).map((tail) => Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), tail])),
      fc.uint8Array({ maxLength: 500 }).map((tail) => Buffer.concat([gz, tail])),
      fc.uint8Array({ maxLength: 500 }).map((bytes) => gzipSync(bytes)),
      fc.constant(Buffer.concat([gz, gz])),
      fc.uint8Array({ maxLength: 500 }),
    )
    const b64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/='
    const lz = LZString.compressToBase64(validJson)
    const brokenLz64 = fc.oneof(
      fc.string({ unit: fc.constantFrom(...b64.split('')), maxLength: 300 }),
      fc.nat().map((cut) => lz.slice(0, cut % lz.length)),
      fc
        .tuple(fc.nat(), fc.constantFrom('!', '%', ' ', '-', '_', '\u00e9', '\ud800', '\u0000'))
        .map(([at, c]) => lz.slice(0, at % lz.length) + c + lz.slice(at % lz.length)),
      fc.constantFrom('', '=', 'A', 'AAAA', 'gAAA', 'BAAA', 'IAAA', 'Qg==', lz.toLowerCase()),
      anyJson.map((t) => LZString.compressToBase64(t)),
    )
    const brokenBase64 = fc.oneof(
      fc.string({ unit: fc.constantFrom(...`${b64}-_ .%`.split('')), maxLength: 300 }),
      fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString('base64')),
      anyJson.map((t) => Buffer.from(t).toString('base64')),
      fc.nat().map((cut) =>
        Buffer.from(validJson)
          .toString('base64')
          .slice(0, cut % 80),
      ),
      shortWeird,
    )
    const arb = fc.oneof(
      fc.record({
        kind: fc.constant('gzip' as const),
        bytes: brokenGzip,
        how: fc.constantFrom('header', 'gzip-js', 'get'),
        path: fc.constantFrom(...CAPTURE_PATHS),
      }),
      fc.record({
        kind: fc.constant('lz64' as const),
        text: brokenLz64,
        how: fc.constantFrom('form', 'text', 'get'),
        path: fc.constantFrom(...CAPTURE_PATHS),
      }),
      fc.record({
        kind: fc.constant('base64' as const),
        text: brokenBase64,
        how: fc.constantFrom('form', 'get', 'form-raw'),
        path: fc.constantFrom(...CAPTURE_PATHS),
      }),
      fc.record({
        kind: fc.constant('bytes' as const),
        bytes: fc.oneof(
          fc.uint8Array({ maxLength: 3000 }),
          fc.nat().map((cut) => Buffer.from(validJson).subarray(0, cut % validJson.length)),
          fc.constantFrom(
            Buffer.from([0xff, 0xfe, 0x7b, 0x7d]),
            Buffer.from(validJson, 'utf16le'),
            Buffer.from(
              `{"token":"${tenant.project.api_token}","event":"\xff\xfe","distinct_id":"u"}`,
              'latin1',
            ),
          ),
        ),
        how: fc.constantFrom(...CONTENT_TYPES),
        path: fc.constantFrom(...CAPTURE_PATHS),
      }),
    )
    await check(
      arb,
      async (c) => {
        const req: Req = { method: 'POST', path: c.path, headers: {} }
        if (c.kind === 'gzip') {
          if (c.how === 'header') {
            req.headers = { 'content-type': 'application/json', 'content-encoding': 'gzip' }
            req.body = c.bytes
          } else if (c.how === 'gzip-js') {
            req.path += '?compression=gzip-js'
            req.headers = { 'content-type': 'text/plain' }
            req.body = c.bytes
          } else {
            req.method = 'GET'
            req.path += `?compression=gzip&data=${encodeURIComponent(Buffer.from(c.bytes).toString('latin1'))}`
          }
        } else if (c.kind === 'lz64') {
          const data = encodeURIComponent(c.text.replace(/[\ud800-\udfff]/g, '\ufffd'))
          if (c.how === 'form') {
            req.path += '?compression=lz64'
            req.headers = { 'content-type': 'application/x-www-form-urlencoded' }
            req.body = `data=${data}`
          } else if (c.how === 'text') {
            req.path += '?compression=lz64'
            req.headers = { 'content-type': 'text/plain' }
            req.body = c.text
          } else {
            req.method = 'GET'
            req.path += `?compression=lz64&data=${data}`
          }
        } else if (c.kind === 'base64') {
          const data = encodeURIComponent(c.text.replace(/[\ud800-\udfff]/g, '\ufffd'))
          if (c.how === 'form') {
            req.headers = { 'content-type': 'application/x-www-form-urlencoded' }
            req.body = `data=${data}`
          } else if (c.how === 'form-raw') {
            req.headers = { 'content-type': 'application/x-www-form-urlencoded' }
            req.body = `data=${c.text}`
          } else {
            req.method = 'GET'
            req.path += `?data=${data}`
          }
        } else {
          req.headers = { 'content-type': c.how }
          req.body = c.bytes
        }
        await hit(req)
      },
      RUNS * 2,
    )
  })

  it('capture: gzip and lz64 bombs are stopped at the 20 MiB limit', async () => {
    const over = gzipSync(new Uint8Array(21 * MiB).fill(0x20))
    const arrayBomb = gzipSync(new TextEncoder().encode('['.repeat(21 * MiB)))
    const under = gzipSync(
      new TextEncoder().encode(
        `${' '.repeat(19 * MiB)}{"token":"${tenant.project.api_token}","event":"e","distinct_id":"u"}`,
      ),
    )
    assert.ok(over.length < 100 * 1024, 'a small compressed body')
    const json = { 'content-type': 'application/json', 'content-encoding': 'gzip' }
    for (const path of ['/e/', '/batch/']) {
      let r = await hit({ method: 'POST', path, headers: json, body: over })
      assert.equal(r.res.status, 413)
      r = await hit({ method: 'POST', path, headers: json, body: arrayBomb })
      assert.equal(r.res.status, 413)
      r = await hit({
        method: 'POST',
        path: `${path}?compression=gzip-js`,
        headers: { 'content-type': 'text/plain' },
        body: over,
      })
      assert.equal(r.res.status, 413)
      r = await hit({ method: 'POST', path, headers: json, body: Buffer.concat([over, over]) })
      assert.equal(r.res.status, 413)
      r = await hit({ method: 'POST', path, headers: json, body: under })
      assert.equal(r.res.status, 200, r.res.text)
    }
    // lz64: the crafted stream decodes as lz-string would; the big one is stopped at the bound.
    assert.equal(LZString.decompressFromBase64(lz64Repeat('a', 10_000))?.slice(0, 10_000), 'a'.repeat(10_000))
    const lzBomb = lz64Repeat('[', 21 * MiB)
    assert.ok(lzBomb.length < 64 * 1024, 'a small lz64 body')
    for (const how of ['form', 'text']) {
      const r = await hit({
        method: 'POST',
        path: '/e/?compression=lz64',
        headers: { 'content-type': how === 'form' ? 'application/x-www-form-urlencoded' : 'text/plain' },
        body: how === 'form' ? `data=${encodeURIComponent(lzBomb)}` : lzBomb,
      })
      assert.equal(r.res.status, 413)
    }
    // A compressed body over the limit is refused before decompression.
    const huge = Buffer.alloc(21 * MiB, 0x20)
    const r = await hit({
      method: 'POST',
      path: '/e/',
      headers: { 'content-type': 'application/json' },
      body: huge,
    })
    assert.equal(r.res.status, 413)
  })

  // -------------------------------------------------------------------------------------------
  // Regressions: what the fuzzer found, as fixed cases
  // -------------------------------------------------------------------------------------------

  const metrics = () => `/api/projects/${reg.project.id}/groups_types/0/metrics/`
  const expectError = async (req: Req, status: number, code: string, attr: string | null = null) => {
    const { res, body } = await hit(req)
    assert.equal(res.status, status, res.text)
    assert.deepEqual([(body as { code: string }).code, (body as { attr: string | null }).attr], [code, attr])
  }
  const deep = (open: string, close: string, n: number, inner = '1') =>
    open.repeat(n) + inner + close.repeat(n)

  it('regression: a malformed percent-escape or an over-long segment is a 404 envelope, not Fastify’s body', async () => {
    for (const path of [
      '/api/projects/%/groups_types/',
      `/api/projects/${reg.project.id}/groups/?group_type_index=0&search=%zz`,
      `/api/projects/${reg.project.id}/groups_types/0/metrics/%E0%A4%A/`,
      `${metrics()}${'x'.repeat(600)}/`,
    ]) {
      const { res } = await hit({ method: 'GET', path, headers: regValid() })
      assert.ok(res.status === 404 || res.status === 200, `${path}: ${res.status}`)
    }
    await expectError({ method: 'GET', path: '/api/projects/%/', headers: regValid() }, 404, 'not_found')
  })

  it('regression: requests Node’s parser refuses (headers over 16 KiB, garbage) get the envelope', async () => {
    await expectError(
      { method: 'GET', path: '/e/', headers: { 'x-big': 'x'.repeat(20_000) } },
      431,
      'request_header_fields_too_large',
    )
    const port = new URL(server.url).port
    const answer = await new Promise<string>((resolve) => {
      const socket = net.connect(Number(port), '127.0.0.1', () => socket.write('GARBAGE\r\n\r\n'))
      let out = ''
      socket.on('data', (chunk) => {
        out += chunk
      })
      socket.on('close', () => resolve(out))
      socket.on('error', () => resolve(out))
    })
    cases++
    assert.match(answer, /^HTTP\/1\.1 400 /)
    assertEnvelope(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)), answer)
  })

  it('regression: deeply nested filters and choices are 400s, not stack overflows', async () => {
    const body = (field: string, value: string) => `{"name":"deep","filters":{},"${field}":${value}}`
    for (const open of ['{"a":', '{"__proto__":']) {
      await expectError(
        {
          method: 'POST',
          path: metrics(),
          headers: regValid(),
          body: body('filters', deep(open, '}', 5000)),
        },
        400,
        'max_depth',
        'filters',
      )
    }
    await expectError(
      { method: 'POST', path: metrics(), headers: regValid(), body: body('format', deep('[', ']', 20_000)) },
      400,
      'invalid_choice',
      'format',
    )
    await expectError(
      {
        method: 'PATCH',
        path: `${metrics()}${regMetric}/`,
        headers: regValid(),
        body: `{"math":${deep('[', ']', 20_000)}}`,
      },
      400,
      'invalid_choice',
      'math',
    )
  })

  it('regression: capture refuses payloads nested deeper than 128 levels', async () => {
    const token = reg.project.api_token
    for (const encoding of ['json', 'gzip']) {
      const text = `{"token":"${token}","event":"e","distinct_id":"u","properties":{"p":${deep('[', ']', 50_000)}}}`
      const { res, body } = await hit({
        method: 'POST',
        path: '/e/',
        headers: {
          'content-type': 'application/json',
          ...(encoding === 'gzip' ? { 'content-encoding': 'gzip' } : {}),
        },
        body: encoding === 'gzip' ? gzipSync(new TextEncoder().encode(text)) : text,
      })
      assert.equal(res.status, 400)
      assert.equal((body as { code: string }).code, 'invalid_payload')
    }
    const shallow = `{"token":"${token}","event":"e","distinct_id":"u","properties":{"p":${deep('[', ']', 100)}}}`
    assert.equal(
      (
        await hit({
          method: 'POST',
          path: '/e/',
          headers: { 'content-type': 'application/json' },
          body: shallow,
        })
      ).res.status,
      200,
    )
  })

  it('regression: NUL and unpaired surrogates are refused in API strings, U+FFFD in JSON and capture', async () => {
    const raw = (text: string) => ({ method: 'POST', path: metrics(), headers: regValid(), body: text })
    await expectError(raw('{"name":"a\\u0000b","filters":{}}'), 400, 'null_characters_not_allowed', 'name')
    const lone = await hit(raw('{"name":"a\\ud800b","filters":{}}'))
    assert.equal(lone.res.status, 400)
    assert.deepEqual(lone.body, {
      type: 'validation_error',
      code: 'surrogate_characters_not_allowed',
      detail: 'Surrogate characters are not allowed: U+D800.',
      attr: 'name',
    })
    await expectError(
      {
        method: 'PUT',
        path: `/api/projects/${reg.project.id}/groups_types/set_default_columns/`,
        headers: regValid(),
        body: '{"group_type_index":0,"default_columns":["ok","\\udfff"]}',
      },
      400,
      'surrogate_characters_not_allowed',
      'default_columns__1',
    )
    // JSON fields keep the value with U+FFFD in place (PostgreSQL's jsonb refuses both), as stored.
    const created = await hit(
      raw('{"name":"nul-filters","filters":{"k\\u0000":"\\u0000\\ud800\\\\u0000😀"}}'),
    )
    assert.equal(created.res.status, 201, created.res.text)
    const expected = { 'k\ufffd': '\ufffd\ufffd\\u0000😀' }
    assert.deepEqual((created.body as { filters: unknown }).filters, expected)
    const id = (created.body as { id: string }).id
    const read = await hit({ method: 'GET', path: `${metrics()}${id}/`, headers: regValid() })
    assert.deepEqual((read.body as { filters: unknown }).filters, expected)
    // Query parameters: %00 reaches no query as NUL.
    const p = `/api/projects/${reg.project.id}`
    for (const path of [
      `${p}/groups/?group_type_index=0&search=%00`,
      `${p}/groups/?group_type_index=0&group_key=a%00`,
      `${p}/groups/find/?group_type_index=0&group_key=a%00`,
    ]) {
      const { res } = await hit({ method: 'GET', path, headers: regValid() })
      assert.ok(res.status === 200 || res.status === 404, `${path}: ${res.text}`)
    }
    await expectError(
      {
        method: 'GET',
        path: `/e/?token=a%00&data=${Buffer.from('{"event":"e","distinct_id":"u"}').toString('base64')}`,
        headers: {},
      },
      401,
      'invalid_api_key',
    )
    // Capture: the same group type name with an unpaired surrogate, twice (the second was a 500
    // on both engines: the name stored was not the name looked up), and NUL in every text column.
    const token = reg.project.api_token
    const event = `{"token":"${token}","event":"e\\u0000","distinct_id":"\\u0000","properties":{"$groups":{"t\\ud800":"k\\u0000"}}}`
    for (let i = 0; i < 2; i++) {
      const { res } = await hit({
        method: 'POST',
        path: '/e/',
        headers: { 'content-type': 'application/json' },
        body: event,
      })
      assert.equal(res.status, 200, res.text)
    }
    const lz = LZString.compressToBase64(
      JSON.stringify({ token, event: 'e', distinct_id: 'u', properties: { $groups: { 'q\udc00': 'k' } } }),
    )
    for (let i = 0; i < 2; i++) {
      const { res } = await hit({
        method: 'POST',
        path: '/e/?compression=lz64',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `data=${encodeURIComponent(lz)}`,
      })
      assert.equal(res.status, 200, res.text)
    }
    const groupKey = `{"token":"${token}","event":"$groupidentify","distinct_id":"u","properties":{"$group_type":"t\\ud800","$group_key":"k\\u0000","$group_set":{"\\u0000":"\\udbff"}}}`
    assert.equal(
      (
        await hit({
          method: 'POST',
          path: '/e/',
          headers: { 'content-type': 'application/json' },
          body: groupKey,
        })
      ).res.status,
      200,
    )
  })

  it('regression: a huge offset pages past the end instead of failing the query', async () => {
    for (const offset of ['99999999999999999999999999999999', '9'.repeat(400), '9007199254740993']) {
      for (const path of [
        `/api/projects/?offset=${offset}`,
        `/api/projects/${reg.project.id}/groups_types/0/metrics/?limit=5&offset=${offset}`,
      ]) {
        const { res, body } = await hit({ method: 'GET', path, headers: regValid() })
        assert.equal(res.status, 200, `${path}: ${res.text}`)
        const page = body as {
          count: number
          next: string | null
          previous: string | null
          results: unknown[]
        }
        assert.deepEqual([page.results, page.next], [[], null])
        assert.ok(page.count >= 1 && page.previous !== null, res.text)
      }
    }
  })

  it('regression: capture ignores out-of-range times and non-scalar keys instead of failing', async () => {
    const token = reg.project.api_token
    const send = (fields: string) =>
      hit({
        method: 'POST',
        path: '/e/',
        headers: { 'content-type': 'application/json' },
        body: `{"token":"${token}","event":"e","distinct_id":"u",${fields}}`,
      })
    for (const fields of [
      '"timestamp":"+010000-01-01T00:00:00.000Z"',
      '"timestamp":"-000001-01-01T00:00:00.000Z"',
      '"timestamp":253402300800000',
      '"offset":123456789012345678901234567890',
      '"offset":-1e20',
      '"timestamp":{"toString":"x","valueOf":"y"}',
      '"properties":{"$group_type":"company","$group_key":{"toString":"x"}},"event":"$groupidentify"',
    ]) {
      const { res } = await send(fields)
      assert.equal(res.status, 200, `${fields}: ${res.text}`)
    }
    await expectError(
      {
        method: 'POST',
        path: '/batch/',
        headers: { 'content-type': 'application/json' },
        body: `{"api_key":"${token}","sent_at":{"toString":"x"},"batch":[{"event":"e","distinct_id":"u"}]}`,
      },
      400,
      'invalid_payload',
    )
    const warnings = await hit({
      method: 'GET',
      path: `/api/projects/${reg.project.id}/ingestion_warnings/`,
      headers: regValid(),
    })
    const types = (warnings.body as { results: { type: string }[] }).results.map((w) => w.type)
    assert.ok(types.includes('ignored_invalid_timestamp'))
  })

  it('kept memory bounded, Object.prototype clean, and still serves normal requests', async () => {
    const grown = process.memoryUsage().rss - rssStart
    console.log(`fuzz: rss grew ${(grown / MiB).toFixed(0)} MiB on ${ENGINE}`)
    assert.ok(grown < RSS_BOUND_BYTES, `RSS grew by ${(grown / MiB).toFixed(0)} MiB`)
    const probe = {} as any
    assert.equal(probe.polluted, undefined)
    assert.equal(probe.isAdmin, undefined)
    assert.equal(typeof probe.toString, 'function')
    assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), prototypeKeys)
    const list = await hit({
      method: 'GET',
      path: `/api/projects/${tenant.project.id}/groups_types/`,
      headers: valid(),
    })
    assert.equal(list.res.status, 200)
    assert.ok(Array.isArray(list.body))
    const metric = await hit({
      method: 'GET',
      path: `/api/projects/${tenant.project.id}/groups_types/0/metrics/${keepId}/`,
      headers: valid(),
    })
    assert.equal(metric.res.status, 200)
    const captured = await sendCapture(server.url, '/e/', {
      token: tenant.project.api_token,
      event: 'after fuzz',
      distinct_id: 'u',
    })
    assert.deepEqual([captured.status, captured.body], [200, { status: 1 }])
  })
})
