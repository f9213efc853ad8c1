/**
 * GroupsQuery on the query endpoint, through HTTP on every SQL engine: the wire format, every
 * select expression and aggregate, orders (missing, numeric-string and mixed-type values), search
 * ranking, paging, the operator matrix over group properties, and the 400s. Expected answers are
 * computed here from the data sent, by rules written independently of the server's.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  client,
  createTenant,
  envelope,
  startServer,
  type Tenant,
  type TestServer,
} from './helpers/harness.ts'
import { CASES, type Filter, ODD_KEY, VALUES } from './helpers/operator-matrix.ts'

type Properties = Record<string, unknown>
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The groups of type 0, in creation order (each its own bulk request, so created_at differs). */
const GROUPS: [key: string, properties: Properties][] = [
  ['acme', { name: 'Acme', plan: 'pro', seats: 12, country: 'US', 'a b.c': 'odd' }],
  ['acme-labs', { name: 'Acme Labs', plan: 'free', seats: '900', country: 'DE' }],
  ['beacme', { name: 'Beacme', plan: 'pro', seats: 3 }],
  ['k-acme', { name: 'Zed', plan: 'pro', seats: 'many' }],
  ['pct', { name: '50%_off', plan: 'free', seats: -1 }],
  ['nameless', { plan: 'enterprise', seats: 2.5 }],
  ['nulls', { name: null, plan: null, seats: null }],
  ['typed', { name: 42, plan: true, seats: '1e3', tags: ['x', 1] }],
]

async function bulk(server: TestServer, t: Tenant, operations: unknown[]) {
  const res = await client(server.url, t.key).post(`/api/projects/${t.project.id}/groups/bulk/`, {
    body: { operations },
  })
  assert.equal(res.status, 200, res.text)
  return res.body.results as { status: string; code?: string; detail?: string }[]
}

function query(
  server: TestServer,
  t: Tenant,
  q: Record<string, unknown>,
  extra: Record<string, unknown> = {},
) {
  return client(server.url, t.key).post(`/api/projects/${t.project.id}/query/`, {
    body: { query: { kind: 'GroupsQuery', group_type_index: 0, ...q }, ...extra },
  })
}

async function results(server: TestServer, t: Tenant, q: Record<string, unknown>): Promise<unknown[][]> {
  const res = await query(server, t, q)
  assert.equal(res.status, 200, res.text)
  return res.body.results
}

/** The sort value this suite expects: missing last; numbers (and numeric strings) before text. */
function sortValue(value: unknown): [number, number | string] {
  if (value === undefined || value === null) return [2, 0]
  if (typeof value === 'number') return [0, value]
  if (typeof value === 'string' && /^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(value))
    return [0, Number(value)]
  return [1, typeof value === 'string' ? value : JSON.stringify(value)]
}

const cmp = (a: number | string, b: number | string) => (a < b ? -1 : a > b ? 1 : 0)

/** Keys of GROUPS sorted by a property, as the README states the rule. */
function sortedBy(property: string, desc: boolean): string[] {
  return [...GROUPS]
    .sort(([ka, pa], [kb, pb]) => {
      const [x, y] = [sortValue(pa[property]), sortValue(pb[property])]
      if (x[0] === 2 || y[0] === 2) return x[0] - y[0] || cmp(ka, kb) * (desc ? -1 : 1)
      const order = x[0] - y[0] || cmp(x[1], y[1]) || cmp(ka, kb)
      return desc ? -order : order
    })
    .map(([k]) => k)
}

describe('GroupsQuery', () => {
  let server: TestServer
  let t: Tenant
  before(async () => {
    server = await startServer()
    t = await createTenant(server.database)
    for (const [key, properties] of GROUPS) {
      const set = Object.fromEntries(Object.entries(properties).filter(([, v]) => v !== null))
      const unset = Object.keys(properties).filter((k) => properties[k] === null)
      // JSON null is stored as sent by $set; $unset would remove the key instead.
      await bulk(server, t, [
        {
          group_type: 'company',
          group_key: key,
          $set: { ...set, ...Object.fromEntries(unset.map((k) => [k, null])) },
        },
      ])
      await sleep(3)
    }
    // Another type and another project: never in these answers.
    await bulk(server, t, [{ group_type: 'team', group_key: 'acme', $set: { name: 'Acme' } }])
    const other = await createTenant(server.database)
    await bulk(server, other, [{ group_type: 'company', group_key: 'acme-other', $set: { name: 'Acme' } }])
  })
  after(() => server.close())

  it('answers with every key of PostHog’s CachedGroupsQueryResponse, in its order', async () => {
    const res = await query(server, t, {})
    assert.equal(res.status, 200, res.text)
    assert.deepEqual(Object.keys(res.body), [
      'cache_key',
      'cache_target_age',
      'calculation_trigger',
      'columns',
      'error',
      'hasMore',
      'hogql',
      'is_cached',
      'kind',
      'last_refresh',
      'limit',
      'modifiers',
      'next_allowed_client_refresh',
      'offset',
      'query_metadata',
      'query_status',
      'resolved_date_range',
      'results',
      'timezone',
      'timings',
      'types',
    ])
    const body = res.body
    assert.equal(body.kind, 'GroupsQuery')
    assert.deepEqual(body.columns, ['group_name'])
    assert.deepEqual(body.types, ['Tuple(String, String)'])
    assert.equal(body.hasMore, false)
    assert.equal(body.limit, 100)
    assert.equal(body.offset, 0)
    assert.equal(body.query_status, null)
    assert.equal(body.is_cached, false)
    assert.match(body.cache_key, /^cache_[0-9a-f]{40}$/)
    assert.match(body.hogql, /^SELECT .* FROM groups WHERE index = 0 .*LIMIT 101 OFFSET 0$/)
    // Newest first by default.
    assert.deepEqual(
      body.results.map((r: [{ key: string }]) => r[0].key),
      GROUPS.map(([k]) => k).reverse(),
    )
    const again = await client(server.url, t.key).post(`/api/environments/${t.project.id}/query/`, {
      body: { query: { kind: 'GroupsQuery', group_type_index: 0 } },
    })
    assert.deepEqual(again.body.results, body.results)
  })

  it('takes null for every optional field of the request and of the query', async () => {
    const nulls = { select: null, search: null, properties: null, orderBy: null, limit: null, offset: null }
    const res = await query(
      server,
      t,
      { ...nulls, response: null, modifiers: null, tags: null },
      {
        refresh: null,
        async: null,
        client_query_id: null,
        name: null,
        filters_override: null,
        variables_override: null,
      },
    )
    assert.equal(res.status, 200, res.text)
    assert.equal(res.body.results.length, GROUPS.length)
  })

  it('selects every plain expression with its JSON type, duplicates once', async () => {
    const res = await query(server, t, {
      select: [
        'group_name',
        'key',
        'properties.seats',
        'properties.`a b.c`',
        'properties.tags',
        'created_at',
        'updated_at',
        'key',
      ],
      orderBy: ['key ASC'],
    })
    assert.equal(res.status, 200, res.text)
    assert.deepEqual(res.body.columns, [
      'group_name',
      'key',
      'properties.seats',
      'properties.`a b.c`',
      'properties.tags',
      'created_at',
      'updated_at',
    ])
    assert.deepEqual(res.body.types, [
      'Tuple(String, String)',
      'String',
      'Dynamic',
      'Dynamic',
      'Dynamic',
      "DateTime64(6, 'UTC')",
      "DateTime64(6, 'UTC')",
    ])
    const byKey = new Map(res.body.results.map((r: unknown[]) => [r[1], r]))
    const expected = [...GROUPS].sort(([a], [b]) => cmp(a, b))
    assert.deepEqual(
      [...byKey.keys()],
      expected.map(([k]) => k),
    )
    for (const [key, p] of expected) {
      const row = byKey.get(key) as unknown[]
      const display = p.name === undefined || p.name === null ? key : String(p.name)
      assert.deepEqual(row.slice(0, 5), [
        { display_name: display, key },
        key,
        p.seats ?? null,
        p['a b.c'] ?? null,
        p.tags ?? null,
      ])
      assert.match(row[5] as string, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z$/)
      assert.match(row[6] as string, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z$/)
    }
  })

  it('sorts by a property: missing last both ways, numbers before text, ties by key', async () => {
    for (const desc of [false, true]) {
      const rows = await results(server, t, {
        select: ['key'],
        orderBy: [`properties.seats ${desc ? 'DESC' : 'ASC'}`],
      })
      assert.deepEqual(
        rows.map((r) => r[0]),
        sortedBy('seats', desc),
        `seats ${desc ? 'DESC' : 'ASC'}`,
      )
      const plans = await results(server, t, {
        select: ['key'],
        orderBy: [`properties.plan ${desc ? 'DESC' : 'ASC'}`],
      })
      assert.deepEqual(
        plans.map((r) => r[0]),
        sortedBy('plan', desc),
        `plan ${desc ? 'DESC' : 'ASC'}`,
      )
    }
    const keys = (await results(server, t, { select: ['key'], orderBy: ['key DESC'] })).map((r) => r[0])
    assert.deepEqual(
      keys,
      GROUPS.map(([k]) => k)
        .sort()
        .reverse(),
    )
    const oldest = (await results(server, t, { select: ['key'], orderBy: ['created_at'] })).map((r) => r[0])
    assert.deepEqual(
      oldest,
      GROUPS.map(([k]) => k),
    )
    // group_name: the display name, case-insensitively; a second term refines ties.
    const names = (await results(server, t, { select: ['key'], orderBy: ['group_name ASC'] })).map(
      (r) => r[0],
    )
    const display = (k: string, p: Properties) =>
      (p.name === undefined || p.name === null ? k : String(p.name)).toLowerCase()
    assert.deepEqual(
      names,
      [...GROUPS]
        .sort(([ka, pa], [kb, pb]) => cmp(display(ka, pa), display(kb, pb)) || cmp(ka, kb))
        .map(([k]) => k),
    )
    const two = (
      await results(server, t, { select: ['key'], orderBy: ['properties.plan ASC', 'properties.seats DESC'] })
    ).map((r) => r[0])
    assert.deepEqual(two.slice(0, 3), ['nameless', 'acme-labs', 'pct'])
  })

  it('pages with limit and offset, hasMore from one more row; no repeats, no gaps', async () => {
    const all = (await results(server, t, { select: ['key'], orderBy: ['properties.plan'] })).map((r) => r[0])
    const seen: unknown[] = []
    for (let offset = 0; ; offset += 3) {
      const res = await query(server, t, { select: ['key'], orderBy: ['properties.plan'], limit: 3, offset })
      assert.equal(res.body.limit, 3)
      assert.equal(res.body.offset, offset)
      seen.push(...res.body.results.map((r: unknown[]) => r[0]))
      assert.equal(res.body.hasMore, seen.length < all.length)
      if (!res.body.hasMore) break
    }
    assert.deepEqual(seen, all)
    // PostHog's clamps: a limit of 0 or less is 100, above 50,000 is 50,000, a negative offset 0.
    for (const [limit, expected] of [
      [0, 100],
      [-5, 100],
      [60_000, 50_000],
      ['7', 7],
    ]) {
      const res = await query(server, t, { limit })
      assert.equal(res.body.limit, expected, `limit ${limit}`)
    }
    assert.equal((await query(server, t, { offset: -3 })).body.offset, 0)
  })

  it('searches the display name or key, case-insensitively and literally, ranked exact, prefix, contains', async () => {
    const keys = async (q: Record<string, unknown>) =>
      (await results(server, t, { select: ['key'], ...q })).map((r) => r[0])
    // Acme (exact), Acme Labs (prefix), then by newest first: k-acme (key only), beacme (contains).
    assert.deepEqual(await keys({ search: 'ACME' }), ['acme', 'acme-labs', 'k-acme', 'beacme'])
    // With an orderBy the rank only breaks its ties (plan ASC is free, pro, pro, pro), then the
    // key in the order's direction.
    assert.deepEqual(await keys({ search: 'acme', orderBy: ['properties.plan ASC'] }), [
      'acme-labs',
      'acme',
      'beacme',
      'k-acme',
    ])
    assert.deepEqual(await keys({ search: '%_' }), ['pct'])
    assert.deepEqual(await keys({ search: '_' }), ['pct'])
    assert.deepEqual(await keys({ search: 'zz' }), [])
    assert.deepEqual(await keys({ search: '42' }), ['typed'])
    assert.deepEqual(await keys({ search: 'less' }), ['nameless'])
    // Filters and search together.
    assert.deepEqual(
      await keys({
        search: 'acme',
        properties: [{ key: 'plan', value: 'pro', type: 'group', group_type_index: 0 }],
      }),
      ['acme', 'k-acme', 'beacme'],
    )
  })

  it('aggregates: alone one row; beside plain columns one row per value, numbers and numeric strings summed', async () => {
    const numbers = GROUPS.map(([, p]) => sortValue(p.seats))
      .filter((v) => v[0] === 0)
      .map((v) => v[1] as number)
    const sum = numbers.reduce((a, b) => a + b, 0)
    const res = await query(server, t, {
      select: [
        'count()',
        'sum(properties.seats)',
        'avg(properties.seats)',
        'min(properties.seats)',
        'max(properties.seats)',
      ],
    })
    assert.equal(res.status, 200, res.text)
    assert.deepEqual(res.body.types, [
      'UInt64',
      'Float64',
      'Nullable(Float64)',
      'Nullable(Float64)',
      'Nullable(Float64)',
    ])
    const [row] = res.body.results
    assert.equal(row[0], GROUPS.length)
    assert.ok(Math.abs(row[1] - sum) < 1e-9)
    assert.ok(Math.abs(row[2] - sum / numbers.length) < 1e-9)
    assert.deepEqual([row[3], row[4]], [Math.min(...numbers), Math.max(...numbers)])
    assert.deepEqual(
      await results(server, t, { select: ['sum(properties.nothing)', 'max(properties.nothing)'] }),
      [[0, null]],
    )
    // The plan breakdown, by plan (values keep their JSON type; missing and null last).
    const counts = new Map<string, number>()
    for (const [, p] of GROUPS)
      counts.set(JSON.stringify(p.plan ?? null), (counts.get(JSON.stringify(p.plan ?? null)) ?? 0) + 1)
    const breakdown = await results(server, t, { select: ['properties.plan', 'count()'] })
    assert.deepEqual(breakdown, [
      ['enterprise', 1],
      ['free', 2],
      ['pro', 3],
      [true, 1],
      [null, 1],
    ])
    assert.equal(
      breakdown.reduce((n, r) => n + (r[1] as number), 0),
      GROUPS.length,
    )
    assert.deepEqual(
      (await results(server, t, { select: ['count()', 'properties.plan'], orderBy: ['count() DESC'] }))[0],
      [3, 'pro'],
    )
    assert.deepEqual(
      await results(server, t, {
        select: ['count()'],
        search: 'acme',
        properties: [{ key: 'plan', value: 'pro', type: 'group', group_type_index: 0 }],
      }),
      [[3]],
    )
    const paged = await query(server, t, { select: ['properties.plan', 'count()'], limit: 2, offset: 1 })
    assert.deepEqual(paged.body.results, [
      ['free', 2],
      ['pro', 3],
    ])
    assert.equal(paged.body.hasMore, true)
  })

  it('refuses what it cannot run with a 400 naming the field', async () => {
    const invalid = (detail: string | RegExp, attr: string | null) => ({ detail, attr })
    const cases: [Record<string, unknown>, ReturnType<typeof invalid>][] = [
      [{ group_type_index: undefined }, invalid('GroupsQuery needs a group_type_index.', 'group_type_index')],
      [{ group_type_index: null }, invalid('GroupsQuery needs a group_type_index.', 'group_type_index')],
      [{ group_type_index: 5 }, invalid('group_type_index must be between 0 and 4.', 'group_type_index')],
      [{ group_type_index: 'x' }, invalid('group_type_index must be an integer.', 'group_type_index')],
      [
        { select: ['properties.a.b'] },
        invalid(/^"properties.a.b" is not an expression GroupsQuery supports/, 'select'),
      ],
      [{ select: ['toString(key)'] }, invalid(/^"toString\(key\)" is not an expression/, 'select')],
      [{ select: ['sum(key)'] }, invalid(/^"sum\(key\)" is not an expression/, 'select')],
      [{ select: 'key' }, invalid('select must be a list.', 'select')],
      [{ select: [1] }, invalid('select must be a list of strings.', 'select')],
      [{ orderBy: ['nope DESC'] }, invalid(/^"nope" is not an expression/, 'orderBy')],
      [
        { orderBy: ['count() DESC'] },
        invalid(/an aggregate sorts only a query that selects aggregates/, 'orderBy'),
      ],
      [{ select: ['count()'], orderBy: ['key'] }, invalid(/sorts only by its select expressions/, 'orderBy')],
      [{ select: ['group_name', 'count()'] }, invalid(/cannot stand beside an aggregate/, 'select')],
      [{ limit: 1.5 }, invalid('limit must be an integer.', 'limit')],
      [{ offset: 'x' }, invalid('offset must be an integer.', 'offset')],
      [{ search: 5 }, invalid('search must be a string.', 'search')],
      [{ properties: { key: 'plan' } }, invalid('Expected a list of property filters.', 'properties')],
      [
        { properties: [{ key: 'plan', value: 'x', type: 'event' }] },
        invalid(/^properties\[0\]: property filters of type "event" are not supported/, 'properties'),
      ],
      [
        { properties: [{ key: 'plan', value: 'x' }] },
        invalid(/^properties\[0\]: property filters of type "event" are not supported/, 'properties'),
      ],
      [
        { properties: [{ key: 'plan', value: 'x', type: 'group', group_type_index: 1 }] },
        invalid(/^properties\[0\]: group_type_index 1 is not supported/, 'properties'),
      ],
      [
        { properties: [{ key: 'plan', value: 'x', type: 'hogql' }] },
        invalid(/^properties\[0\]: property filters of type "hogql"/, 'properties'),
      ],
      [
        {
          properties: [
            { key: 'plan', operator: 'semver_eq', value: '1', type: 'group', group_type_index: 0 },
          ],
        },
        invalid('properties[0]: operator "semver_eq" is not supported.', 'properties'),
      ],
    ]
    for (const [q, expected] of cases) {
      const res = await query(server, t, q)
      assert.equal(res.status, 400, `${JSON.stringify(q)}: ${res.text}`)
      assert.equal(res.body.type, 'validation_error')
      assert.equal(res.body.code, 'invalid_input')
      assert.equal(res.body.attr, expected.attr, JSON.stringify(q))
      if (typeof expected.detail === 'string') assert.equal(res.body.detail, expected.detail)
      else assert.match(res.body.detail, expected.detail)
    }
  })

  it('property_values: the 20 most common values with counts, filtered by a substring; property_definitions', async () => {
    const api = client(server.url, t.key)
    const base = `/api/projects/${t.project.id}/groups`
    const values = await api.get(`${base}/property_values/?group_type_index=0&key=plan`)
    assert.equal(values.status, 200, values.text)
    assert.deepEqual(values.body, {
      results: [
        { name: 'pro', count: 3 },
        { name: 'free', count: 2 },
        { name: 'enterprise', count: 1 },
        { name: 'true', count: 1 },
      ],
      refreshing: false,
    })
    const filtered = await api.get(`${base}/property_values/?group_type_index=0&key=plan&value=R`)
    assert.deepEqual(filtered.body.results, [
      { name: 'pro', count: 3 },
      { name: 'free', count: 2 },
      { name: 'enterprise', count: 1 },
      { name: 'true', count: 1 },
    ])
    const few = await api.get(`${base}/property_values/?group_type_index=0&key=plan&value=O`)
    assert.deepEqual(few.body.results, [{ name: 'pro', count: 3 }])
    assert.deepEqual(
      (await api.get(`${base}/property_values/?group_type_index=0&key=absent`)).body.results,
      [],
    )
    for (const [qs, attr, detail] of [
      ['key=plan', 'group_type_index', 'This query parameter is required.'],
      ['group_type_index=0', 'key', 'This query parameter is required.'],
      ['group_type_index=x&key=plan', 'group_type_index', 'A valid integer is required.'],
    ]) {
      const res = await api.get(`${base}/property_values/?${qs}`)
      assert.equal(res.status, 400)
      assert.deepEqual(
        res.body,
        envelope('validation_error', 'invalid_input', detail as string, attr as string),
      )
    }
    const definitions = await api.get(`${base}/property_definitions/`)
    assert.equal(definitions.status, 200, definitions.text)
    const keyCounts = new Map<string, number>()
    for (const [, p] of GROUPS) for (const k of Object.keys(p)) keyCounts.set(k, (keyCounts.get(k) ?? 0) + 1)
    const expected = [...keyCounts]
      .map(([name, count]) => ({ name, count }))
      .sort((a, b) => b.count - a.count || cmp(a.name, b.name))
    assert.deepEqual(definitions.body, { '0': expected, '1': [{ name: 'name', count: 1 }] })
  })
})

/** A filter of the events matrix as a filter on group properties of type 0. */
function asGroupFilter(raw: unknown): unknown {
  if (Array.isArray(raw)) return raw.map(asGroupFilter)
  const f = raw as Filter & { values?: unknown[] }
  if (f.type === 'AND' || f.type === 'OR') return { ...f, values: (f.values as unknown[]).map(asGroupFilter) }
  return { ...f, type: 'group', group_type_index: 0 }
}

const onEventProperties = (raw: unknown): boolean => {
  if (Array.isArray(raw)) return raw.every(onEventProperties)
  const f = raw as Filter & { values?: unknown[] }
  if (f.type === 'AND' || f.type === 'OR') return (f.values as unknown[]).every(onEventProperties)
  return f.type === undefined || f.type === 'event'
}

describe('the operator matrix over group properties (the groups table’s compiler)', () => {
  let server: TestServer
  before(async () => {
    server = await startServer()
  })
  after(() => server.close())

  it('counts the same groups as the events matrix counts events', async () => {
    const t = await createTenant(server.database)
    await bulk(
      server,
      t,
      VALUES.map((value, i) => ({
        group_type_index: 0,
        group_key: `g${i}`,
        $set: { ...(value === undefined ? {} : { v: value }), ...(i === 0 ? { [ODD_KEY]: 1 } : {}) },
      })),
    )
    const cases = CASES.filter(([, filters]) => onEventProperties(filters))
    assert.ok(cases.length >= 40, 'most of the matrix applies')
    for (const [name, filters, expected] of cases) {
      const properties = Array.isArray(filters) ? asGroupFilter(filters) : [asGroupFilter(filters)]
      const [[count]] = (await results(server, t, { select: ['count()'], properties })) as [[number]]
      assert.equal(count, expected, name)
      const keys = await results(server, t, { select: ['key'], properties, limit: 100 })
      assert.equal(keys.length, expected, `${name} (list)`)
    }
  })
})
