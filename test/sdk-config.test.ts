/** The SDK's flags and remote config calls: PostHog's shapes, token checks, CORS on every answer. */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import vm from 'node:vm'
import { gzipSync } from 'fflate'
import { createTenant, envelope, notFoundBody, startServer, type TestServer } from './helpers/harness.ts'

const ORIGIN = 'https://app.example.com'

/** Every optional posthog-js product is off; capture stays on groupd's /i/v0/e/. */
const OFF = {
  supportedCompression: ['gzip', 'gzip-js'],
  hasFeatureFlags: false,
  captureDeadClicks: false,
  capturePerformance: false,
  autocaptureExceptions: false,
  analytics: { endpoint: '/i/v0/e/' },
  errorTracking: { autocaptureExceptions: false, suppressionRules: [] },
  logs: { captureConsoleLogs: false },
  sessionRecording: false,
  heatmaps: false,
  conversations: false,
  productTours: false,
}

async function call(url: string, init: RequestInit = {}) {
  const res = await fetch(url, { ...init, headers: { origin: ORIGIN, ...init.headers } })
  const text = await res.text()
  let body: any = text
  try {
    body = JSON.parse(text)
  } catch {}
  return { status: res.status, headers: res.headers, body, text }
}

function assertCors(headers: Headers) {
  assert.equal(headers.get('access-control-allow-origin'), ORIGIN)
  assert.equal(headers.get('access-control-allow-credentials'), 'true')
}

describe('SDK flags and remote config', () => {
  let server: TestServer
  let token: string
  before(async () => {
    server = await startServer()
    token = (await createTenant(server.database)).project.api_token
  })
  after(() => server.close())

  const postFlags = (path: string, body: BodyInit, headers: Record<string, string> = {}) =>
    call(server.url + path, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', ...headers },
    })

  it('answers "no flags" in the shape each endpoint and version asks for', async () => {
    const body = JSON.stringify({ token, distinct_id: 'u', groups: { company: 'acme' } })
    const cases: [string, Record<string, unknown>, string[]][] = [
      ['/flags/?v=2', { flags: {}, errorsWhileComputingFlags: false }, ['featureFlags']],
      ['/flags/', { flags: {}, errorsWhileComputingFlags: false }, ['featureFlags']],
      ['/flags?v=2&config=true', { flags: {}, errorsWhileComputingFlags: false }, ['featureFlags']],
      [
        '/flags/?v=1',
        { featureFlags: {}, featureFlagPayloads: {}, errorsWhileComputingFlags: false },
        ['flags'],
      ],
      [
        '/flags/?config=true',
        { featureFlags: {}, featureFlagPayloads: {}, errorsWhileComputingFlags: false },
        ['flags'],
      ],
      ['/decide/', { featureFlags: [] }, ['flags', 'featureFlagPayloads']],
      ['/decide/?v=2', { featureFlags: {} }, ['flags', 'featureFlagPayloads']],
      [
        '/decide/?v=3',
        { featureFlags: {}, featureFlagPayloads: {}, errorsWhileComputingFlags: false },
        ['flags'],
      ],
      ['/decide/?v=4', { flags: {}, errorsWhileComputingFlags: false }, ['featureFlags']],
    ]
    for (const [path, shape, absent] of cases) {
      const res = await postFlags(path, body)
      assert.equal(res.status, 200, `${path}: ${res.text}`)
      assertCors(res.headers)
      assert.deepEqual({ ...res.body, ...shape }, res.body, path)
      assert.deepEqual({ ...res.body, ...OFF, token }, res.body, path)
      for (const key of absent) assert.equal(key in res.body, false, `${path} has no ${key}`)
      assert.match(res.body.requestId, /^[0-9a-f-]{36}$/)
      assert.ok(Math.abs(res.body.evaluatedAt - Date.now()) < 60_000)
    }
  })

  it('reads the flags body as JSON, gzip (with or without a hint) or a base64 form', async () => {
    const json = JSON.stringify({ token, distinct_id: 'u' })
    const gz = Buffer.from(gzipSync(new TextEncoder().encode(json)))
    const form = { 'content-type': 'application/x-www-form-urlencoded' }
    const cases: [string, BodyInit, Record<string, string>][] = [
      ['/flags/?v=2', gz, { 'content-type': 'text/plain' }],
      ['/flags/?v=2&compression=gzip-js', gz, { 'content-type': 'text/plain' }],
      ['/flags/?v=2', gz, { 'content-encoding': 'gzip' }],
      ['/flags/?v=2&compression=base64', `data=${encodeURIComponent(btoa(json))}`, form],
    ]
    for (const [path, body, headers] of cases) {
      const res = await postFlags(path, body, headers)
      assert.deepEqual([res.status, res.body.flags], [200, {}], `${path} ${JSON.stringify(headers)}`)
    }
  })

  it("refuses a missing or unknown token with PostHog's 401, readable cross-origin", async () => {
    const missing = await postFlags('/flags/?v=2', JSON.stringify({ distinct_id: 'u' }))
    assert.deepEqual(
      [missing.status, missing.body],
      [
        401,
        envelope(
          'authentication_error',
          'not_authenticated',
          'No API token provided. Please include a valid API token in your request.',
        ),
      ],
    )
    assertCors(missing.headers)
    const invalid = envelope(
      'authentication_error',
      'authentication_failed',
      'The provided API key is invalid or has expired. Please check your API key and try again.',
    )
    const t = await createTenant(server.database)
    for (const bad of ['phc_unknown', t.key, 'x'.repeat(201)]) {
      const res = await postFlags('/decide/?v=3', JSON.stringify({ api_key: bad, distinct_id: 'u' }))
      assert.deepEqual([res.status, res.body], [401, invalid])
      assertCors(res.headers)
    }
    const garbage = await postFlags('/flags/?v=2', Buffer.from([0x1f, 0x8b, 8, 0, 0]))
    assert.equal(garbage.status, 400)
    assert.equal(garbage.body.code, 'invalid_payload')
    assertCors(garbage.headers)
    const huge = await postFlags('/flags/?v=2', JSON.stringify({ token, pad: 'x'.repeat(1024 * 1024) }))
    assert.deepEqual([huge.status, huge.body.code], [413, 'request_too_large'])
    assertCors(huge.headers)
    const array = await postFlags('/flags/?v=2', '[1]')
    assert.deepEqual(
      [array.status, array.body.detail],
      [400, 'Malformed request data: expected a JSON object.'],
    )
  })

  it('answers a GET of /flags with the minimal response, token unchecked', async () => {
    const res = await call(`${server.url}/flags/?v=2`)
    assert.equal(res.status, 200)
    assert.deepEqual({ ...res.body, flags: {}, sessionRecording: false }, res.body)
    assertCors(res.headers)
  })

  it('serves the remote config as JSON and as the script posthog-js loads', async () => {
    const json = await call(`${server.url}/array/${token}/config`)
    assert.equal(json.status, 200)
    assert.deepEqual({ ...json.body, ...OFF, token, siteApps: [] }, json.body)
    // posthog-js loads its surveys script whenever `surveys` is a boolean, even false.
    assert.equal('surveys' in json.body, false)
    assertCors(json.headers)
    assert.equal(json.headers.get('cache-control'), 'public, max-age=300')

    const js = await call(`${server.url}/array/${token}/config.js`)
    assert.equal(js.status, 200)
    assert.match(js.headers.get('content-type') ?? '', /^application\/javascript/)
    assertCors(js.headers)
    const window: Record<string, any> = {}
    vm.runInNewContext(js.text, { window })
    const { siteApps, ...config } = json.body
    // Through JSON: objects made in the script's context have that context's prototypes.
    assert.deepEqual(JSON.parse(JSON.stringify(window._POSTHOG_REMOTE_CONFIG[token])), { config, siteApps })
  })

  it('answers 404 for an unknown token and 400 for a malformed one, with CORS', async () => {
    const t = await createTenant(server.database)
    for (const path of [
      '/array/phc_unknown/config',
      '/array/phc_unknown/config.js',
      `/array/${t.key}/config`,
    ]) {
      const res = await call(server.url + path)
      assert.deepEqual([res.status, res.body], [404, notFoundBody()], path)
      assertCors(res.headers)
      assert.equal(res.headers.get('cache-control'), null)
    }
    const bad = await call(`${server.url}/array/${'x'.repeat(201)}/config`)
    assert.deepEqual([bad.status, bad.body.code], [400, 'invalid_token'])
    assertCors(bad.headers)
  })

  it('answers preflights for flags and config', async () => {
    for (const path of ['/flags/?v=2', '/flags', '/decide/', `/array/${token}/config`]) {
      const res = await call(server.url + path, {
        method: 'OPTIONS',
        headers: {
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type',
        },
      })
      assert.equal(res.status, 204, path)
      assertCors(res.headers)
      assert.match(res.headers.get('access-control-allow-methods') ?? '', /GET/)
      assert.equal(res.headers.get('access-control-allow-headers'), 'content-type')
    }
  })

  it('puts CORS headers on 404s of public paths, never on the private API', async () => {
    for (const path of ['/static/recorder.js', '/nope', '/e/x']) {
      const res = await call(server.url + path)
      assert.deepEqual([res.status, res.body], [404, notFoundBody()], path)
      assertCors(res.headers)
    }
    const api = await call(`${server.url}/api/nope`)
    assert.equal(api.status, 404)
    assert.equal(api.headers.get('access-control-allow-origin'), null)
  })
})
