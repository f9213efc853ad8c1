/**
 * The operator matrix: every supported operator and list form over events whose property is a
 * string, a number, a numeric string, a boolean, null, missing, an object or empty; expected counts
 * worked out by hand (helpers/operator-matrix.ts), the same on every engine.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { client, createTenant, startServer, type Tenant, type TestServer } from './helpers/harness.ts'
import { capture, createMetric, DAY, valuesAt } from './helpers/metric-values.ts'
import { CASES, ODD_KEY, VALUES, v } from './helpers/operator-matrix.ts'

const NOW = Date.parse('2025-10-09T12:11:00Z')

describe('filter operators (the same counts on every engine)', () => {
  let server: TestServer
  let t: Tenant
  before(async () => {
    server = await startServer()
    t = await createTenant(server.database)
    await capture(
      server.url,
      t.project.api_token,
      VALUES.map((value, i) => ({
        event: 'm',
        at: NOW - 60 * 60_000,
        properties: { ...(value === undefined ? {} : { v: value }), ...(i === 0 ? { [ODD_KEY]: 1 } : {}) },
      })),
    )
    const identify = await fetch(`${server.url}/e/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        api_key: t.project.api_token,
        event: '$groupidentify',
        distinct_id: 'user-1',
        timestamp: new Date(NOW - 30 * DAY).toISOString(),
        properties: { $group_type: 'company', $group_key: 'acme', $group_set: { plan: 'pro', seats: 12 } },
      }),
    })
    assert.equal(identify.status, 200)
  })
  after(() => server.close())

  it('creates one metric per case through the API, then evaluates them all in one query', async () => {
    for (const [name, properties] of CASES) {
      await createMetric(server.url, t, {
        name,
        filters: { events: [{ id: 'm', type: 'events' }], properties },
      })
    }
    const results = await valuesAt(server, t, NOW)
    const got = Object.fromEntries(results.map((r) => [r.name, r.value]))
    const expected = Object.fromEntries(CASES.map(([name, , count]) => [name, count]))
    assert.deepEqual(got, expected)
  })

  it('a metric without events entries but with a property filter counts every matching event', async () => {
    const other = await createTenant(server.database)
    await createMetric(server.url, other, { name: 'any', filters: { properties: [v('exact', 'x')] } })
    await capture(server.url, other.project.api_token, [
      { event: 'a', at: NOW - DAY, properties: { v: 'x' } },
      { event: 'b', at: NOW - DAY, properties: { v: 'x' } },
      { event: 'b', at: NOW - DAY, properties: { v: 'y' } },
    ])
    assert.equal((await valuesAt(server, other, NOW))[0]?.value, 2)
  })

  it('filter_test_accounts ANDs the project’s test-account filters, which PATCH changes', async () => {
    const p = await createTenant(server.database)
    await createMetric(server.url, p, {
      name: 'real',
      filters: { events: [{ id: 'pageview' }], filter_test_accounts: true },
    })
    await createMetric(server.url, p, { name: 'all', filters: { events: [{ id: 'pageview' }] } })
    const host = (h?: string) => ({
      event: 'pageview',
      at: Date.now() - DAY,
      properties: h ? { $host: h } : {},
    })
    await capture(server.url, p.project.api_token, [
      host('localhost:8000'),
      host('127.0.0.1'),
      host('app.example.com'),
      host(),
      host('localhost.example.com'),
    ])
    const api = client(server.url, p.key)
    const path = `/api/projects/${p.project.id}/query/`
    const body = { query: { kind: 'UsageMetricsQuery', group_type_index: 0, group_key: 'acme' } }
    const values = async () =>
      Object.fromEntries(
        (await api.post(path, { body })).body.results.map((r: { name: string; value: number }) => [
          r.name,
          r.value,
        ]),
      )
    // Default: the $host rule (not_regex ^(localhost|127\.0\.0\.1)($|:)) keeps 3 of 5.
    assert.deepEqual(await values(), { real: 3, all: 5 })
    const patched = await api.patch(`/api/projects/${p.project.id}/`, {
      body: {
        test_account_filters: [{ key: '$host', operator: 'icontains', value: 'example', type: 'event' }],
      },
    })
    assert.equal(patched.status, 200, patched.text)
    assert.deepEqual(patched.body.test_account_filters, [
      { key: '$host', operator: 'icontains', value: 'example', type: 'event' },
    ])
    assert.deepEqual(await values(), { real: 2, all: 5 })
    const refused = await api.patch(`/api/projects/${p.project.id}/`, {
      body: { test_account_filters: [{ key: 'email', value: 'x', type: 'person' }] },
    })
    assert.equal(refused.status, 400)
    assert.equal(refused.body.attr, 'test_account_filters')
    assert.match(refused.body.detail, /person.*not supported.*no persons/)
  })

  it('a metric on group properties follows a $groupidentify that changes them', async () => {
    const g = await createTenant(server.database)
    await createMetric(server.url, g, {
      name: 'pro events',
      filters: {
        events: [{ id: 'used' }],
        properties: [{ key: 'plan', value: 'pro', type: 'group', group_type_index: 0 }],
      },
    })
    const identify = (plan: string) =>
      fetch(`${server.url}/e/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          api_key: g.project.api_token,
          event: '$groupidentify',
          distinct_id: 'u',
          properties: { $group_type: 'company', $group_key: 'acme', $group_set: { plan } },
        }),
      })
    assert.equal((await identify('free')).status, 200)
    await capture(server.url, g.project.api_token, [
      { event: 'used', at: NOW - DAY },
      { event: 'used', at: NOW - 2 * DAY },
    ])
    assert.equal((await valuesAt(server, g, NOW))[0]?.value, 0)
    assert.equal((await identify('pro')).status, 200)
    assert.equal((await valuesAt(server, g, NOW))[0]?.value, 2)
  })

  it('a metric on group properties follows the API’s and the bulk endpoint’s writes', async () => {
    const g = await createTenant(server.database)
    await createMetric(server.url, g, {
      name: 'pro events',
      filters: {
        events: [{ id: 'used' }],
        properties: [{ key: 'plan', value: 'pro', type: 'group', group_type_index: 0 }],
      },
    })
    const api = client(server.url, g.key)
    const groups = `/api/projects/${g.project.id}/groups`
    const created = await api.post(`${groups}/`, {
      body: { group_type_index: 0, group_key: 'acme', group_properties: { plan: 'pro' } },
    })
    assert.equal(created.status, 201, created.text)
    await capture(server.url, g.project.api_token, [{ event: 'used', at: NOW - DAY }])
    assert.equal((await valuesAt(server, g, NOW))[0]?.value, 1)
    const bulk = await api.post(`${groups}/bulk/`, {
      body: { operations: [{ group_type_index: 0, group_key: 'acme', $set: { plan: 'free' } }] },
    })
    assert.deepEqual(bulk.body.results, [{ status: 'updated' }])
    assert.equal((await valuesAt(server, g, NOW))[0]?.value, 0)
    const updated = await api.post(`${groups}/update_property/?group_type_index=0&group_key=acme`, {
      body: { key: 'plan', value: 'pro' },
    })
    assert.equal(updated.status, 200, updated.text)
    assert.equal((await valuesAt(server, g, NOW))[0]?.value, 1)
  })
})
