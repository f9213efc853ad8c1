/**
 * The legacy events list: newest first, keyset next, and filters: `event`, `before`/`after`, and
 * `properties` in the metrics' filter language (event_metadata $group_N / distinct_id, event and
 * group properties).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { sendCapture } from './helpers/capture.ts'
import {
  client,
  createTenant,
  mintKey,
  startServer,
  type Tenant,
  type TestServer,
} from './helpers/harness.ts'

describe('events list', () => {
  let server: TestServer
  let tenant: Tenant
  const t0 = Date.parse('2026-01-01T00:00:00Z')
  const at = (minutes: number) => new Date(t0 + minutes * 60_000).toISOString()

  before(async () => {
    server = await startServer()
    tenant = await createTenant(server.database)
    const batch = []
    for (let i = 0; i < 25; i++) {
      batch.push({
        event: i % 2 ? 'paid' : '$pageview',
        distinct_id: `user-${i % 3}`,
        timestamp: at(i),
        properties: { i, $groups: { company: i < 20 ? 'acme' : 'globex' } },
      })
    }
    const res = await sendCapture(server.url, '/batch/', { api_key: tenant.project.api_token, batch })
    assert.equal(res.status, 200)
  })
  after(() => server.close())

  const list = (query: string, key = tenant.key) =>
    client(server.url, key).get(`/api/projects/${tenant.project.id}/events/?${query}`)
  const group0 = (key: string) =>
    encodeURIComponent(
      JSON.stringify([{ key: '$group_0', value: key, operator: 'exact', type: 'event_metadata' }]),
    )

  it('lists newest first in PostHog legacy shape', async () => {
    const res = await list('limit=3')
    assert.equal(res.status, 200, res.text)
    assert.deepEqual(
      res.body.results.map((e: any) => e.properties.i),
      [24, 23, 22],
    )
    const first = res.body.results[0]
    assert.deepEqual(Object.keys(first), [
      'id',
      'distinct_id',
      'properties',
      'event',
      'timestamp',
      'person',
      'elements',
      'elements_chain',
    ])
    assert.equal(first.event, '$pageview')
    assert.equal(first.distinct_id, 'user-0')
    assert.equal(first.timestamp, '2026-01-01T00:24:00Z')
  })

  it('follows next through every page without gaps or repeats', async () => {
    const seen: number[] = []
    let url: string | null =
      `${server.url}/api/projects/${tenant.project.id}/events/?limit=7&properties=${group0('acme')}`
    while (url) {
      const res: any = await client(server.url, tenant.key).get(url.slice(server.url.length))
      assert.equal(res.status, 200)
      seen.push(...res.body.results.map((e: any) => e.properties.i))
      url = res.body.next
    }
    assert.deepEqual(
      seen,
      Array.from({ length: 20 }, (_, i) => 19 - i),
    )
  })

  it('filters by $group_0, event, distinct_id and before/after', async () => {
    const ids = async (q: string) => (await list(q)).body.results.map((e: any) => e.properties.i)
    assert.deepEqual(await ids(`properties=${group0('globex')}`), [24, 23, 22, 21, 20])
    assert.deepEqual(await ids(`properties=${group0('globex')}&event=paid`), [23, 21])
    assert.deepEqual(await ids(`after=${at(20)}&before=${encodeURIComponent(at(24))}`), [23, 22, 21])
    const notUser0 = encodeURIComponent(
      JSON.stringify([{ key: 'distinct_id', value: ['user-0'], operator: 'is_not', type: 'event_metadata' }]),
    )
    assert.deepEqual(await ids(`limit=4&properties=${notUser0}`), [23, 22, 20, 19])
    assert.deepEqual(await ids(`properties=${group0('nobody')}`), [])
    const filters = (f: unknown[]) => `properties=${encodeURIComponent(JSON.stringify(f))}`
    assert.deepEqual(
      await ids(filters([{ key: 'i', value: 21, operator: 'gt', type: 'event' }])),
      [24, 23, 22],
    )
    assert.deepEqual(
      await ids(
        filters([
          {
            type: 'OR',
            values: [
              { key: 'i', value: 3 },
              { key: 'i', value: [5, 7], operator: 'exact' },
            ],
          },
        ]),
      ),
      [7, 5, 3],
    )
  })

  it('rejects unsupported filters and bad parameters with 400 naming them', async () => {
    for (const [q, attr] of [
      ['properties=not-json', 'properties'],
      [`properties=${encodeURIComponent('[{"key":"plan","value":"x","type":"person"}]')}`, 'properties'],
      ['before=yesterday-ish', 'before'],
      ['limit=0', 'limit'],
      ['cursor=%%%', 'cursor'],
      [`properties=${encodeURIComponent(JSON.stringify([{ key: 'i', value: 'a\u0000' }]))}`, 'properties'],
      [
        `properties=${encodeURIComponent(JSON.stringify([{ key: 'i', value: '(', operator: 'regex' }]))}`,
        'properties',
      ],
    ] as const) {
      const res = await list(q)
      assert.equal(res.status, 400, q)
      assert.equal(res.body.attr, attr, q)
    }
  })

  it('needs group read scope; another project is not visible', async () => {
    const noScope = await mintKey(server.database, tenant.user.id, ['usage_metric:read'])
    assert.equal((await list('', noScope)).status, 403)
    for (const scope of ['group:read', 'query:read']) {
      const key = await mintKey(server.database, tenant.user.id, [scope])
      assert.equal((await list('', key)).status, 200, scope)
    }
    const other = await createTenant(server.database)
    const res = await client(server.url, other.key).get(`/api/projects/${other.project.id}/events/`)
    assert.deepEqual(res.body.results, [])
  })
})
