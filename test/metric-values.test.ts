/**
 * UsageMetricsQuery on the query endpoint: wire format, validation, scopes, and PostHog's runner
 * cases (spec §13.3 #46–#53, next-wave §1.3): window edges, sparkline labels, change percent,
 * ordering and skipped metrics.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { client, createTenant, envelope, mintKey, startServer, type TestServer } from './helpers/harness.ts'
import { capture, createMetric, DAY, valuesAt } from './helpers/metric-values.ts'
import { groupd } from './helpers/processes.ts'

const NOW = Date.parse('2025-10-09T12:11:00Z')
const events = { events: [{ id: 'metric_event', type: 'events', order: 0 }] }

describe('UsageMetricsQuery endpoint', () => {
  let server: TestServer
  before(async () => {
    server = await startServer()
  })
  after(() => server.close())

  const query = (group_key: unknown = 'acme', extra: Record<string, unknown> = {}) => ({
    query: { kind: 'UsageMetricsQuery', group_type_index: 0, group_key, ...extra },
  })

  it('answers synchronously with every key of the cached response, in order', async () => {
    const t = await createTenant(server.database)
    const id = await createMetric(server.url, t, { name: 'Events', display: 'sparkline', filters: events })
    const now = Date.now()
    await capture(server.url, t.project.api_token, [
      { event: 'metric_event', at: now - 2 * DAY },
      { event: 'metric_event', at: now - 3 * DAY },
      { event: 'metric_event', at: now - 9 * DAY },
      { event: 'other', at: now - 2 * DAY },
      { event: 'metric_event', at: now - 2 * DAY, groups: { company: 'globex' } },
    ])
    const res = await client(server.url, t.key).post(`/api/projects/${t.project.id}/query/`, {
      body: { ...query(), refresh: 'force_blocking', client_query_id: 'abc', tags: { productKey: 'x' } },
    })
    assert.equal(res.status, 200, res.text)
    assert.deepEqual(Object.keys(res.body), [
      'cache_key',
      'cache_target_age',
      'calculation_trigger',
      'error',
      'hogql',
      'is_cached',
      'last_refresh',
      'modifiers',
      'next_allowed_client_refresh',
      'query_metadata',
      'query_status',
      'resolved_date_range',
      'results',
      'timezone',
      'timings',
    ])
    const body = res.body
    assert.equal(body.query_status, null)
    assert.equal(body.is_cached, false)
    assert.equal(body.timezone, 'UTC')
    assert.equal(body.hogql, null)
    assert.match(body.last_refresh, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
    assert.match(body.cache_key, /^cache_[0-9a-f]+$/)
    assert.ok(body.timings.every((t: { k: string; t: number }) => typeof t.k === 'string' && t.t >= 0))
    assert.equal(body.results.length, 1)
    const [m] = body.results
    assert.deepEqual(Object.keys(m), [
      'change_from_previous_pct',
      'display',
      'format',
      'id',
      'interval',
      'name',
      'previous',
      'timeseries',
      'timeseries_labels',
      'value',
    ])
    assert.equal(m.id, id)
    assert.equal(m.value, 2)
    assert.equal(m.previous, 1)
    assert.equal(m.change_from_previous_pct, 100)
    assert.equal(m.timeseries.length, 8)
    assert.equal(m.timeseries_labels.length, 8)
    assert.equal(m.timeseries_labels[7], new Date(now).toISOString().slice(0, 10))

    // The same on /api/environments/, and for every refresh mode.
    for (const refresh of [
      true,
      false,
      'blocking',
      'async',
      'lazy_async',
      'force_async',
      'force_cache',
      'async_except_on_cache_miss',
    ]) {
      const again = await client(server.url, t.key).post(`/api/environments/${t.project.id}/query/`, {
        body: { ...query(), refresh },
      })
      assert.equal(again.status, 200, again.text)
      assert.equal(again.body.results[0].value, 2)
      assert.equal(again.body.query_status, null)
    }
  })

  it('takes null for every optional field of the request and of the query, as PostHog’s clients send', async () => {
    const t = await createTenant(server.database)
    await createMetric(server.url, t, { name: 'Events', filters: events })
    await capture(server.url, t.project.api_token, [{ event: 'metric_event', at: Date.now() - DAY }])
    const nulls = {
      refresh: null,
      async: null,
      client_query_id: null,
      name: null,
      filters_override: null,
      variables_override: null,
    }
    const queryNulls = { response: null, modifiers: null, tags: null, person_id: null }
    const res = await client(server.url, t.key).post(`/api/projects/${t.project.id}/query/`, {
      body: { ...query('acme', queryNulls), ...nulls },
    })
    assert.equal(res.status, 200, res.text)
    assert.equal(res.body.results[0].value, 1)
  })

  it('refuses bad targets with PostHog’s messages', async () => {
    const t = await createTenant(server.database)
    const api = client(server.url, t.key)
    const path = `/api/projects/${t.project.id}/query/`
    const invalid = (detail: string, attr: string | null = null) =>
      envelope('validation_error', 'invalid_input', detail, attr)
    const either = 'UsageMetricsQuery must have either group_key or person_id'
    const cases: [unknown, ReturnType<typeof invalid>][] = [
      [{ query: { kind: 'UsageMetricsQuery' } }, invalid(either)],
      [{ query: { kind: 'UsageMetricsQuery', group_key: '', group_type_index: 0 } }, invalid(either)],
      [{ query: { kind: 'UsageMetricsQuery', group_key: 'acme' } }, invalid(either)],
      [{ query: { kind: 'UsageMetricsQuery', group_type_index: 0 } }, invalid(either)],
      [
        { query: { kind: 'UsageMetricsQuery', group_key: 'acme', group_type_index: 0, person_id: 'p' } },
        invalid(`${either}, not both`),
      ],
      [
        { query: { kind: 'UsageMetricsQuery', group_key: 'acme', group_type_index: 5 } },
        invalid('group_type_index must be between 0 and 4.'),
      ],
      [
        { query: { kind: 'UsageMetricsQuery', person_id: '0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b' } },
        invalid(
          'UsageMetricsQuery by person_id is not supported: groupd has no persons. Query a group with group_type_index and group_key.',
        ),
      ],
      [
        { query: { kind: 'TrendsQuery' } },
        invalid('Query kind "TrendsQuery" is not supported: groupd runs UsageMetricsQuery and GroupsQuery.'),
      ],
      [{ refresh: true }, envelope('validation_error', 'required', 'This field is required.', 'query')],
      [
        { query: 'x' },
        envelope(
          'validation_error',
          'not_a_dict',
          'Expected a dictionary of items but got type "str".',
          'query',
        ),
      ],
    ]
    for (const [body, expected] of cases) {
      const res = await api.post(path, { body })
      assert.equal(res.status, 400, JSON.stringify(body))
      assert.deepEqual(res.body, expected, JSON.stringify(body))
    }
    // "0" is a valid key; a numeric string index reads as the number.
    const ok = await api.post(path, {
      body: { query: { kind: 'UsageMetricsQuery', group_key: '0', group_type_index: '0' } },
    })
    assert.equal(ok.status, 200, ok.text)
  })

  it('needs query:read or group:read', async () => {
    const t = await createTenant(server.database)
    const path = `/api/projects/${t.project.id}/query/`
    for (const scopes of [['query:read'], ['group:read'], ['group:write'], ['*']]) {
      const key = await mintKey(server.database, t.user.id, scopes)
      const res = await client(server.url, key).post(path, { body: query() })
      assert.equal(res.status, 200, `${scopes}: ${res.text}`)
    }
    for (const scopes of [['usage_metric:read'], ['project:read']]) {
      const key = await mintKey(server.database, t.user.id, scopes)
      const res = await client(server.url, key).post(path, { body: query() })
      assert.equal(res.status, 403)
      assert.deepEqual(
        res.body,
        envelope(
          'authentication_error',
          'permission_denied',
          "API key missing required scope 'query:read' or 'group:read'",
        ),
      )
    }
    const other = await createTenant(server.database)
    const res = await client(server.url, other.key).post(path, { body: query() })
    assert.equal(res.status, 403)
  })

  it('a group with no events gets zeros, not 404', async () => {
    const t = await createTenant(server.database)
    await createMetric(server.url, t, { name: 'Events', filters: events })
    const res = await client(server.url, t.key).post(`/api/projects/${t.project.id}/query/`, {
      body: query('nobody'),
    })
    assert.equal(res.status, 200)
    assert.equal(res.body.results[0].value, 0)
    assert.equal(res.body.results[0].previous, 0)
    assert.equal(res.body.results[0].change_from_previous_pct, null)
    assert.equal(res.body.results[0].timeseries, null)
  })
})

describe('UsageMetricsQuery runner (PostHog’s cases at a fixed now)', () => {
  let server: TestServer
  before(async () => {
    server = await startServer()
  })
  after(() => server.close())

  it('window edges: exactly I days old counts, older does not; the previous window excludes its upper bound', async () => {
    const t = await createTenant(server.database)
    await createMetric(server.url, t, { name: 'Events', interval: 7, filters: events })
    const e = (at: number) => ({ event: 'metric_event', at })
    await capture(server.url, t.project.api_token, [
      e(NOW), // now: current
      e(NOW - 7 * DAY), // exactly I days old: current (not previous)
      e(NOW - 7 * DAY - 1), // 1 ms older: previous
      e(NOW - 8 * DAY), // previous
      e(NOW - 14 * DAY), // exactly 2I: previous
      e(NOW - 14 * DAY - 1), // older than 2I: neither
      e(NOW + 1), // after now: neither
      e(NOW - 3 * DAY),
      e(NOW - 3 * DAY),
    ])
    const [m] = await valuesAt(server, t, NOW)
    assert.equal(m?.value, 4)
    assert.equal(m?.previous, 3)
    assert.equal(m?.change_from_previous_pct, ((4 - 3) / 3) * 100)
  })

  it('sparkline: I + 1 UTC day labels from date_from to now, zero-filled; previous ≤ 0 gives null change', async () => {
    const t = await createTenant(server.database)
    await createMetric(server.url, t, { name: 'Spark', interval: 7, display: 'sparkline', filters: events })
    await createMetric(server.url, t, { name: 'Thirty', interval: 30, display: 'sparkline', filters: events })
    await capture(server.url, t.project.api_token, [
      { event: 'metric_event', at: Date.parse('2025-10-02T12:11:00Z') },
      { event: 'metric_event', at: Date.parse('2025-10-05T00:00:00Z') },
      { event: 'metric_event', at: Date.parse('2025-10-05T23:59:59.999Z') },
      { event: 'metric_event', at: Date.parse('2025-10-09T12:10:59Z') },
    ])
    const [thirty, spark] = await valuesAt(server, t, NOW)
    assert.equal(spark?.name, 'Spark')
    assert.deepEqual(spark?.timeseries_labels, [
      '2025-10-02',
      '2025-10-03',
      '2025-10-04',
      '2025-10-05',
      '2025-10-06',
      '2025-10-07',
      '2025-10-08',
      '2025-10-09',
    ])
    assert.deepEqual(spark?.timeseries, [1, 0, 0, 2, 0, 0, 0, 1])
    assert.equal(spark?.value, 4)
    assert.equal(spark?.previous, 0)
    assert.equal(spark?.change_from_previous_pct, null)
    assert.equal(thirty?.timeseries?.length, 31)
    assert.equal(thirty?.timeseries_labels?.[0], '2025-09-09')
    // All days, not PostHog's hidden LIMIT 100: a 90-day metric with events on 181 days.
    await createMetric(server.url, t, { name: 'Ninety', interval: 90, display: 'sparkline', filters: events })
    const daily = Array.from({ length: 181 }, (_, i) => ({ event: 'metric_event', at: NOW - i * DAY }))
    await capture(server.url, t.project.api_token, daily)
    const ninety = (await valuesAt(server, t, NOW)).find((m) => m.name === 'Ninety')
    assert.equal(ninety?.timeseries?.length, 91)
    assert.ok(ninety?.timeseries?.every((v) => v >= 1))
    assert.equal(ninety?.value, 91 + 4)
    assert.equal(ninety?.previous, 90)
  })

  it('change_from_previous_pct: negative when falling, positive when rising', async () => {
    const t = await createTenant(server.database)
    await createMetric(server.url, t, { name: 'Events', interval: 7, filters: events })
    const e = (at: number) => ({ event: 'metric_event', at })
    await capture(server.url, t.project.api_token, [
      e(NOW - 1 * DAY),
      e(NOW - 8 * DAY),
      e(NOW - 9 * DAY),
      e(NOW - 10 * DAY),
      e(NOW - 11 * DAY),
    ])
    const [m] = await valuesAt(server, t, NOW)
    assert.equal(m?.value, 1)
    assert.equal(m?.previous, 4)
    assert.equal(m?.change_from_previous_pct, -75)
  })

  it('orders by name descending by code point, stable; evaluates metrics of every index; skips what PostHog skips', async () => {
    const t = await createTenant(server.database)
    await createMetric(server.url, t, { name: 'apple', filters: events })
    await createMetric(server.url, t, { name: 'Zebra', filters: events })
    await createMetric(server.url, t, { name: 'banana', filters: events }, 1)
    await createMetric(server.url, t, { name: '😀 emoji', filters: events })
    await createMetric(server.url, t, { name: '\uffff high', filters: events })
    await createMetric(server.url, t, { name: 'all events', filters: {} })
    await createMetric(server.url, t, { name: 'empty lists', filters: { events: [], properties: [] } })
    await createMetric(server.url, t, {
      name: 'any event',
      filters: { events: [{ id: null, type: 'events' }] },
    })
    const names = (await valuesAt(server, t, NOW)).map((m) => m.name)
    assert.deepEqual(names, ['😀 emoji', '\uffff high', 'banana', 'apple', 'Zebra'])
  })

  it('a sum metric adds the numeric values of its property (numbers and plain numeric strings only)', async () => {
    const t = await createTenant(server.database)
    await createMetric(server.url, t, {
      name: 'Revenue',
      math: 'sum',
      math_property: 'amount',
      filters: { events: [{ id: 'purchase' }] },
    })
    const p = (amount: unknown) => ({ event: 'purchase', at: NOW - DAY, properties: { amount } })
    await capture(server.url, t.project.api_token, [
      p(10),
      p(2.5),
      p('7'),
      p('-1.5'),
      p(' 12'),
      p('12abc'),
      p(true),
      p(null),
      p({ v: 1 }),
      p('1e400'),
      { event: 'purchase', at: NOW - DAY },
      { event: 'purchase', at: NOW - 8 * DAY, properties: { amount: 4 } },
    ])
    const [m] = await valuesAt(server, t, NOW)
    assert.equal(m?.value, 18)
    assert.equal(m?.previous, 4)
  })

  it('counts only the target group’s events of that index, in that project', async () => {
    const t = await createTenant(server.database)
    const other = await createTenant(server.database)
    await createMetric(server.url, t, { name: 'Events', filters: events })
    await capture(server.url, t.project.api_token, [
      { event: 'metric_event', at: NOW - DAY, groups: { company: 'acme' } },
      { event: 'metric_event', at: NOW - DAY, groups: { company: 'acme', team: 'red' } },
      { event: 'metric_event', at: NOW - DAY, groups: { company: 'globex' } },
      { event: 'metric_event', at: NOW - DAY, groups: { team: 'acme' } },
    ])
    await capture(server.url, other.project.api_token, [{ event: 'metric_event', at: NOW - DAY }])
    assert.equal((await valuesAt(server, t, NOW))[0]?.value, 2)
    assert.equal((await valuesAt(server, t, NOW, { index: 1, key: 'red' }))[0]?.value, 1)
    assert.equal((await valuesAt(server, t, NOW, { index: 1, key: 'acme' }))[0]?.value, 1)
  })

  it('a global property filter narrows the count (PostHog #49: $browser exact Chrome, 3 of 8)', async () => {
    const t = await createTenant(server.database)
    await createMetric(server.url, t, {
      name: 'Chrome',
      filters: {
        ...events,
        properties: [{ key: '$browser', value: 'Chrome', operator: 'exact', type: 'event' }],
      },
    })
    const e = (browser: string) => ({
      event: 'metric_event',
      at: NOW - DAY,
      properties: { $browser: browser },
    })
    await capture(server.url, t.project.api_token, [
      e('Chrome'),
      e('Chrome'),
      e('Chrome'),
      e('Firefox'),
      e('Safari'),
      e('chrome'),
      e('Edge'),
      e('Firefox'),
    ])
    assert.equal((await valuesAt(server, t, NOW))[0]?.value, 3)
  })

  it('no metrics: empty results', async () => {
    const t = await createTenant(server.database)
    assert.deepEqual(await valuesAt(server, t, NOW), [])
  })
})

describe('groupd metrics values', () => {
  let server: TestServer
  before(async () => {
    server = await startServer()
  })
  after(() => server.close())

  it('prints the endpoint’s results inside {results} with --json, a table without', async () => {
    const t = await createTenant(server.database)
    await createMetric(server.url, t, { name: 'Events', display: 'sparkline', filters: events })
    await createMetric(server.url, t, {
      name: 'Revenue',
      math: 'sum',
      math_property: 'amount',
      filters: events,
    })
    const now = Date.now()
    await capture(server.url, t.project.api_token, [
      { event: 'metric_event', at: now - DAY, properties: { amount: 30 } },
      { event: 'metric_event', at: now - 8 * DAY, properties: { amount: 10 } },
    ])
    const args = [
      'metrics',
      'values',
      '--project',
      String(t.project.id),
      '--group-type-index',
      '0',
      '--group-key',
      'acme',
    ]
    const run = await groupd(server.env, ...args, '--json')
    assert.equal(run.code, 0, run.stderr)
    const printed = JSON.parse(run.stdout)
    assert.deepEqual(Object.keys(printed), ['results'])
    const api = await client(server.url, t.key).post(`/api/projects/${t.project.id}/query/`, {
      body: { query: { kind: 'UsageMetricsQuery', group_type_index: 0, group_key: 'acme' } },
    })
    assert.deepEqual(printed.results, api.body.results)
    assert.deepEqual(
      printed.results.map((r: { name: string; value: number; previous: number }) => [
        r.name,
        r.value,
        r.previous,
      ]),
      [
        ['Revenue', 30, 10],
        ['Events', 1, 1],
      ],
    )
    const human = await groupd(server.env, ...args)
    assert.equal(human.code, 0, human.stderr)
    assert.match(human.stdout, /^name\s+value\s+previous\s+change\n/)
    assert.match(human.stdout, /Revenue\s+30\s+10\s+\+200\.0%/)
    for (const bad of [
      ['--group-type-index', '5', '--group-key', 'acme'],
      ['--group-type-index', '0'],
      ['--group-key', 'acme'],
    ]) {
      const refused = await groupd(server.env, 'metrics', 'values', '--project', String(t.project.id), ...bad)
      assert.equal(refused.code, 2, refused.stderr)
      assert.match(refused.stderr, /^groupd: .+\n$/)
    }
  })
})
