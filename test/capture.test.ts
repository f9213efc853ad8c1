/** Capture over HTTP: every payload format PostHog's SDKs send, token checks, limits, processing. */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { gzipSync } from 'fflate'
import { MAX_GROUP_TYPES_PER_PROJECT } from '../src/group-types/service.ts'
import { type Encoding, sendCapture } from './helpers/capture.ts'
import {
  client,
  createTenant,
  envelope,
  startServer,
  storedEvents,
  type Tenant,
  type TestServer,
} from './helpers/harness.ts'

const OK = { status: 1 }
const missingKey = envelope(
  'authentication_error',
  'missing_api_key',
  'API key not provided. You can find your project API key in PostHog project settings.',
)
const invalidKey = envelope(
  'authentication_error',
  'invalid_api_key',
  'Project API key invalid. You can find your project API key in PostHog project settings.',
)

describe('capture', () => {
  let server: TestServer
  before(async () => {
    server = await startServer()
  })
  after(() => server.close())

  const tenant = () => createTenant(server.database)
  const events = (t: Tenant) => storedEvents(server, t.project.id)
  const groupTypes = async (t: Tenant) =>
    (await client(server.url, t.key).get(`/api/projects/${t.project.id}/groups_types/`)).body as {
      group_type: string
      group_type_index: number
    }[]
  const warnings = async (t: Tenant) =>
    (await client(server.url, t.key).get(`/api/projects/${t.project.id}/ingestion_warnings/`)).body
      .results as {
      type: string
      count: number
      warnings: { details: Record<string, unknown> }[]
    }[]

  const encodings: Encoding[] = [
    'json',
    'gzip-plain',
    'gzip-header',
    'gzip-js',
    'lz64-form',
    'base64-form',
    'get-data',
  ]
  for (const encoding of encodings) {
    it(`accepts a single event encoded as ${encoding}, on every capture path`, async () => {
      const t = await tenant()
      for (const path of ['/i/v0/e/', '/e/', '/capture/', '/batch/', '/track/', '/e']) {
        const res = await sendCapture(
          server.url,
          path,
          {
            token: t.project.api_token,
            event: 'signed up',
            distinct_id: 'user-1',
            properties: { $groups: { company: 'acme' }, plan: 'ünïcode 😀' },
          },
          encoding,
        )
        assert.deepEqual(
          [res.status, res.body],
          [200, OK],
          `${encoding} ${path}: ${JSON.stringify(res.body)}`,
        )
      }
      const rows = await events(t)
      assert.equal(rows.length, 6)
      assert.equal(JSON.parse(rows[0]!.properties).plan, 'ünïcode 😀')
      assert.equal(rows[0]!.group_0, 'acme')
      assert.deepEqual(
        (await groupTypes(t)).map((g) => g.group_type),
        ['company'],
      )
    })
  }

  it('accepts posthog-node batches, bare arrays and tokens in properties', async () => {
    const t = await tenant()
    const e = (n: number) => ({ event: `e${n}`, distinct_id: 'u', properties: {} })
    assert.deepEqual(
      (await sendCapture(server.url, '/batch/', { api_key: t.project.api_token, batch: [e(1), e(2)] })).body,
      OK,
    )
    assert.deepEqual(
      (await sendCapture(server.url, '/e/', [{ ...e(3), token: t.project.api_token }, e(4)])).body,
      OK,
    )
    assert.deepEqual(
      (await sendCapture(server.url, '/e/', { ...e(5), properties: { token: t.project.api_token } })).body,
      OK,
    )
    assert.deepEqual(
      (await sendCapture(server.url, `/e/?token=${t.project.api_token}`, e(6), 'get-data')).body,
      OK,
    )
    assert.equal((await events(t)).length, 6)
  })

  it('answers CORS preflights and echoes the origin', async () => {
    const res = await fetch(`${server.url}/e/`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    })
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example.com')
    assert.equal(res.headers.get('access-control-allow-credentials'), 'true')
    assert.match(res.headers.get('access-control-allow-methods') ?? '', /POST/)
    assert.equal(res.headers.get('access-control-allow-headers'), 'content-type')
    const t = await tenant()
    const post = await sendCapture(
      server.url,
      '/e/',
      { token: t.project.api_token, event: 'x', distinct_id: 'u' },
      'json',
      { origin: 'https://app.example.com' },
    )
    assert.equal(post.headers.get('access-control-allow-origin'), 'https://app.example.com')
  })

  it('answers another method on a capture path with 405 and Allow, with CORS', async () => {
    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      for (const path of ['/e/', '/batch', '/i/v0/e/']) {
        const res = await fetch(`${server.url}${path}`, {
          method,
          headers: { origin: 'https://app.example.com', 'content-type': 'application/json' },
          body: '{}',
        })
        assert.equal(res.status, 405, `${method} ${path}`)
        assert.deepEqual(await res.json(), {
          type: 'invalid_request',
          code: 'method_not_allowed',
          detail: `Method "${method}" not allowed.`,
          attr: null,
        })
        assert.equal(res.headers.get('allow'), 'GET, HEAD, POST, OPTIONS')
        assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example.com')
      }
    }
  })

  it('refuses missing, unknown and personal-key tokens with 401', async () => {
    const t = await tenant()
    const event = { event: 'x', distinct_id: 'u' }
    assert.deepEqual(await pick(sendCapture(server.url, '/e/', event)), [401, missingKey])
    assert.deepEqual(await pick(sendCapture(server.url, '/e/', { ...event, token: 'phc_unknown' })), [
      401,
      invalidKey,
    ])
    assert.deepEqual(await pick(sendCapture(server.url, '/e/', { ...event, token: t.key })), [
      401,
      invalidKey,
    ])
    assert.equal((await events(t)).length, 0)
  })

  it('refuses a request whose events name different projects, storing nothing', async () => {
    const a = await tenant()
    const b = await tenant()
    const res = await sendCapture(server.url, '/batch/', {
      api_key: a.project.api_token,
      batch: [
        { event: 'x', distinct_id: 'u' },
        { event: 'y', distinct_id: 'u', properties: { token: b.project.api_token } },
      ],
    })
    assert.deepEqual(await pick(Promise.resolve(res)), [
      400,
      envelope(
        'validation_error',
        'invalid_payload',
        'Invalid payload: all events of a request must use the same project API key.',
      ),
    ])
    assert.equal((await events(a)).length + (await events(b)).length, 0)
  })

  it('answers 400 for unreadable payloads, naming what was wrong', async () => {
    const t = await tenant()
    const cases: [RequestInit & { path?: string }, string][] = [
      [{ body: '{"event": ', headers: { 'content-type': 'application/json' } }, 'invalid_payload'],
      [
        {
          body: Buffer.from('not gzip'),
          headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        },
        'invalid_payload',
      ],
      [
        {
          path: '/e/?compression=lz64',
          body: 'data=%%%%',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        },
        'invalid_payload',
      ],
      [{ body: '', headers: { 'content-type': 'application/json' } }, 'no_data'],
      [
        {
          body: JSON.stringify({ token: t.project.api_token, distinct_id: 'u' }),
          headers: { 'content-type': 'application/json' },
        },
        'invalid_payload',
      ],
      [
        {
          body: JSON.stringify({ token: t.project.api_token, event: 'x' }),
          headers: { 'content-type': 'application/json' },
        },
        'invalid_payload',
      ],
      [
        {
          body: JSON.stringify({ token: t.project.api_token, event: 'x', distinct_id: 'u', uuid: 'nope' }),
          headers: { 'content-type': 'application/json' },
        },
        'invalid_payload',
      ],
      [
        {
          body: JSON.stringify({ api_key: t.project.api_token, batch: [] }),
          headers: { 'content-type': 'application/json' },
        },
        'invalid_payload',
      ],
    ]
    for (const [init, code] of cases) {
      const res = await fetch(server.url + (init.path ?? '/e/'), { method: 'POST', ...init })
      const body = await res.json()
      assert.equal(res.status, 400, JSON.stringify(body))
      assert.equal(body.code, code)
      assert.equal(body.type, 'validation_error')
      assert.ok(body.detail.length > 10)
    }
    const missingDistinct = await sendCapture(server.url, '/e/', { token: t.project.api_token, event: 'x' })
    assert.equal(
      missingDistinct.body.detail,
      'Invalid payload: All events must have the event field "distinct_id"!',
    )
    assert.equal((await events(t)).length, 0)
  })

  it('drops malformed events inside a batch with a warning and keeps the rest', async () => {
    const t = await tenant()
    const res = await sendCapture(server.url, '/batch/', {
      api_key: t.project.api_token,
      batch: [
        { event: 'ok', distinct_id: 'u' },
        { distinct_id: 'u' },
        null,
        { event: 'also ok', distinct_id: 7 },
        { event: 'x'.repeat(201), distinct_id: 'u' },
      ],
    })
    assert.deepEqual(res.body, OK)
    assert.deepEqual(
      (await events(t)).map((e) => [e.event, e.distinct_id]),
      [
        ['ok', 'u'],
        ['also ok', '7'],
      ],
    )
    const w = await warnings(t)
    assert.equal(w.find((x) => x.type === 'invalid_event')?.count, 3)
  })

  it('registers 5 group types, warns about the 6th by name, and reuses a freed index', async () => {
    const t = await tenant()
    const names = ['a', 'b', 'c', 'd', 'e', 'f']
    const res = await sendCapture(server.url, '/batch/', {
      api_key: t.project.api_token,
      batch: names.map((n) => ({
        event: 'x',
        distinct_id: 'u',
        properties: { $groups: { [n]: `${n}-key` } },
      })),
    })
    assert.deepEqual(res.body, OK)
    assert.deepEqual(
      (await groupTypes(t)).map((g) => [g.group_type_index, g.group_type]),
      [
        [0, 'a'],
        [1, 'b'],
        [2, 'c'],
        [3, 'd'],
        [4, 'e'],
      ],
    )
    const rows = await events(t)
    assert.equal(rows.length, 6, 'the event with the dropped type is still stored')
    const last = rows.find((r) => JSON.parse(r.properties).$groups.f)!
    assert.deepEqual([last.group_0, last.group_4], [null, null])
    const limit = (await warnings(t)).find((w) => w.type === 'group_type_limit_reached')
    assert.deepEqual(limit?.warnings[0]?.details, { group_type: 'f', limit: MAX_GROUP_TYPES_PER_PROJECT })
    assert.equal(
      (await client(server.url, t.key).delete(`/api/projects/${t.project.id}/groups_types/2/`)).status,
      204,
    )
    await sendCapture(server.url, '/e/', {
      token: t.project.api_token,
      event: 'x',
      distinct_id: 'u',
      properties: { $groups: { f: 'k' } },
    })
    assert.deepEqual((await groupTypes(t)).find((g) => g.group_type === 'f')?.group_type_index, 2)
  })

  it('registers $groups keys in key order and stores $group_<index> columns and properties', async () => {
    const t = await tenant()
    await sendCapture(server.url, '/e/', {
      token: t.project.api_token,
      event: 'x',
      distinct_id: 'u',
      properties: { $groups: { workspace: 'w1', company: 42 } },
    })
    assert.deepEqual(
      (await groupTypes(t)).map((g) => g.group_type),
      ['workspace', 'company'],
    )
    const [row] = await events(t)
    assert.deepEqual([row!.group_0, row!.group_1], ['w1', '42'])
    const props = JSON.parse(row!.properties)
    assert.deepEqual([props.$group_0, props.$group_1], ['w1', 42])
  })

  it('merges $groupidentify properties in arrival order, created_at from the first event', async () => {
    const t = await tenant()
    const identify = (set: unknown, timestamp?: string) => ({
      event: '$groupidentify',
      distinct_id: '$company_acme',
      timestamp,
      properties: { $group_type: 'company', $group_key: 'acme', $group_set: set },
    })
    await sendCapture(server.url, '/batch/', {
      api_key: t.project.api_token,
      batch: [
        identify({ name: 'Acme', plan: 'free' }, '2026-01-01T00:00:00.000Z'),
        identify({ plan: 'pro', seats: 5 }, '2025-01-01T00:00:00.000Z'),
      ],
    })
    await sendCapture(server.url, '/e/', {
      token: t.project.api_token,
      ...identify({ seats: 9 }, '2024-01-01T00:00:00.000Z'),
    })
    const found = await client(server.url, t.key).get(
      `/api/projects/${t.project.id}/groups/find/?group_type_index=0&group_key=acme`,
    )
    assert.deepEqual(found.body, {
      group_type_index: 0,
      group_key: 'acme',
      group_properties: { name: 'Acme', plan: 'pro', seats: 9 },
      created_at: '2026-01-01T00:00:00Z',
    })
  })

  it('drops $groupidentify with a too-long key or a non-object $group_set, with warnings', async () => {
    const t = await tenant()
    const base = { event: '$groupidentify', distinct_id: 'u' }
    await sendCapture(server.url, '/batch/', {
      api_key: t.project.api_token,
      batch: [
        { ...base, properties: { $group_type: 'company', $group_key: 'k'.repeat(401), $group_set: {} } },
        { ...base, properties: { $group_type: 'company', $group_key: 'ok', $group_set: 'nope' } },
        { ...base, properties: { $group_type: 'company', $group_key: 'k'.repeat(400) } },
      ],
    })
    assert.equal((await events(t)).length, 1)
    const types = (await warnings(t)).map((w) => w.type).sort()
    assert.deepEqual(types, ['group_key_too_long', 'invalid_group_set'])
    const tooLong = (await warnings(t)).find((w) => w.type === 'group_key_too_long')
    assert.deepEqual(
      [tooLong?.warnings[0]?.details.groupKeyLength, tooLong?.warnings[0]?.details.maxLength],
      [401, 400],
    )
  })

  it('corrects timestamps for clock skew (sent_at), offset, and keeps valid uuids once', async () => {
    const t = await tenant()
    const now = Date.now()
    const uuid = '0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b'
    const payload = {
      api_key: t.project.api_token,
      sent_at: new Date(now - 3_600_000).toISOString(), // the client clock is an hour behind
      batch: [
        {
          event: 'skewed',
          distinct_id: 'u',
          uuid,
          timestamp: new Date(now - 3_600_000 - 60_000).toISOString(),
        },
        { event: 'offset', distinct_id: 'u', offset: 120_000 },
        { event: 'bad time', distinct_id: 'u', timestamp: 'yesterday-ish' },
      ],
    }
    await sendCapture(server.url, '/batch/', payload)
    await sendCapture(server.url, '/batch/', payload) // a retry: the uuid'd event is not stored twice
    const rows = await events(t)
    const byName = (n: string) => rows.filter((r) => r.event === n)
    assert.equal(byName('skewed').length, 1)
    const skewed = Date.parse(byName('skewed')[0]!.timestamp)
    assert.ok(
      Math.abs(skewed - (now - 60_000)) < 30_000,
      `skew-corrected timestamp ${byName('skewed')[0]!.timestamp}`,
    )
    assert.equal(byName('skewed')[0]!.uuid, uuid)
    assert.ok(Math.abs(Date.parse(byName('offset')[0]!.timestamp) - (now - 120_000)) < 30_000)
    assert.ok((await warnings(t)).some((w) => w.type === 'ignored_invalid_timestamp'))
  })

  it('bounds payloads: gzip bomb, oversized event, too many events', async () => {
    const t = await tenant()
    const bomb = gzipSync(new Uint8Array(30 * 1024 * 1024))
    const res = await fetch(`${server.url}/e/`, {
      method: 'POST',
      headers: { 'content-encoding': 'gzip', 'content-type': 'application/json' },
      body: bomb,
    })
    assert.equal(res.status, 413)
    assert.equal((await res.json()).code, 'request_too_large')
    const big = await sendCapture(server.url, '/batch/', {
      api_key: t.project.api_token,
      batch: [
        { event: 'big', distinct_id: 'u', properties: { blob: 'x'.repeat(1_100_000) } },
        { event: 'small', distinct_id: 'u' },
      ],
    })
    assert.deepEqual(big.body, OK)
    assert.deepEqual(
      (await events(t)).map((e) => e.event),
      ['small'],
    )
    const many = await sendCapture(server.url, '/batch/', {
      api_key: t.project.api_token,
      batch: Array.from({ length: 10_001 }, () => ({ event: 'x', distinct_id: 'u' })),
    })
    assert.equal(many.status, 413)
  })

  it('keeps concurrent clients consistent: one row per type, at most 5, no lost events', async () => {
    const t = await tenant()
    const pool = ['org', 'team', 'workspace', 'account', 'region', 'cluster', 'tenant']
    const clients = Array.from({ length: 8 }, (_, c) =>
      Promise.all(
        Array.from({ length: 5 }, (_, b) =>
          sendCapture(server.url, '/batch/', {
            api_key: t.project.api_token,
            batch: Array.from({ length: 20 }, (_, i) => ({
              event: 'x',
              distinct_id: `c${c}`,
              properties: {
                $groups: {
                  [pool[(c + b + i) % pool.length]!]: `k${i}`,
                  [pool[(c * 3 + i) % pool.length]!]: 'z',
                },
              },
            })),
          }),
        ),
      ),
    )
    const results = (await Promise.all(clients)).flat()
    for (const r of results) assert.deepEqual([r.status, r.body], [200, OK])
    const types = await groupTypes(t)
    assert.equal(types.length, 5)
    assert.equal(new Set(types.map((g) => g.group_type)).size, 5)
    assert.equal((await events(t)).length, 8 * 5 * 20)
  })

  it('lists groups newest first with a forward cursor, search and find', async () => {
    const t = await tenant()
    const batch = Array.from({ length: 130 }, (_, i) => ({
      event: '$groupidentify',
      distinct_id: 'u',
      timestamp: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
      properties: {
        $group_type: 'company',
        $group_key: `co-${String(i).padStart(3, '0')}`,
        $group_set: { name: i === 7 ? 'Needle Corp' : `Company ${i}` },
      },
    }))
    assert.deepEqual(
      (await sendCapture(server.url, '/batch/', { api_key: t.project.api_token, batch })).body,
      OK,
    )
    const api = client(server.url, t.key)
    const base = `/api/projects/${t.project.id}/groups/`
    const first = await api.get(`${base}?group_type_index=0`)
    assert.equal(first.status, 200)
    assert.equal(first.body.results.length, 100)
    assert.equal(first.body.previous, null)
    assert.equal(first.body.results[0].group_key, 'co-129')
    assert.deepEqual(Object.keys(first.body.results[0]), [
      'group_type_index',
      'group_key',
      'group_properties',
      'created_at',
    ])
    const nextUrl = new URL(first.body.next)
    assert.equal(nextUrl.searchParams.get('group_type_index'), '0')
    const second = await api.get(nextUrl.pathname + nextUrl.search)
    assert.equal(second.body.results.length, 30)
    assert.equal(second.body.next, null)
    assert.equal(second.body.results.at(-1).group_key, 'co-000')
    const search = await api.get(`${base}?group_type_index=0&search=needle`)
    assert.deepEqual(
      search.body.results.map((g: { group_key: string }) => g.group_key),
      ['co-007'],
    )
    const exact = await api.get(`${base}?group_type_index=0&search=co-042`)
    assert.deepEqual(
      exact.body.results.map((g: { group_key: string }) => g.group_key),
      ['co-042'],
    )
    const missing = await api.get(base)
    assert.deepEqual(
      [missing.status, missing.body.attr, missing.body.detail],
      [
        400,
        'group_type_index',
        'You must pass ?group_type_index= in this URL. To get a list of valid group types, call /api/:project_id/groups_types/.',
      ],
    )
    assert.equal((await api.get(`${base}find/?group_type_index=0&group_key=nope`)).status, 404)
    assert.equal((await api.get(`${base}find/?group_type_index=0`)).status, 400)
    const outsider = await tenant()
    assert.equal((await client(server.url, outsider.key).get(`${base}?group_type_index=0`)).status, 403)
  })
})

async function pick(res: Promise<{ status: number; body: unknown }>) {
  const r = await res
  return [r.status, r.body]
}
