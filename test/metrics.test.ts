/** Group usage metrics API over HTTP: spec §13.2 and §13.5, and the decisions of issue 4. */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { MAX_METRICS_PER_GROUP_TYPE } from '../src/group-usage-metrics/service.ts'
import {
  client,
  createTenant,
  envelope,
  mintKey,
  notFoundBody,
  permissionDeniedBody,
  startServer,
  type TestServer,
} from './helpers/harness.ts'

const KEYS = ['id', 'name', 'format', 'interval', 'display', 'filters', 'math', 'math_property']
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const invalid = (attr: string | null, detail: string, code = 'invalid_input') =>
  envelope('validation_error', code, detail, attr)

describe('group usage metrics API', () => {
  let server: TestServer
  before(async () => {
    server = await startServer()
  })
  after(() => server.close())

  async function setup(index = 0) {
    const tenant = await createTenant(server.database)
    const api = client(server.url, tenant.key)
    const base = `/api/projects/${tenant.project.id}/groups_types/${index}/metrics`
    const create = async (body: Record<string, unknown>) => {
      const res = await api.post(`${base}/`, { body })
      assert.equal(res.status, 201, res.text)
      return res.body
    }
    return { tenant, api, base, create }
  }

  it('creates with defaults and a server-generated UUIDv7 (#24)', async () => {
    const { create } = await setup()
    const body = await create({ name: 'Events', filters: { foo: 'bar' } })
    assert.deepEqual(Object.keys(body), KEYS)
    assert.match(body.id, UUID)
    assert.deepEqual(
      { ...body, id: 'x' },
      {
        id: 'x',
        name: 'Events',
        format: 'numeric',
        interval: 7,
        display: 'number',
        filters: { foo: 'bar' },
        math: 'count',
        math_property: null,
      },
    )
  })

  it('lists, retrieves, replaces, patches and deletes (#23, #25–#28)', async () => {
    const { api, base, create } = await setup()
    const m = await create({ name: 'Events', filters: { foo: 'bar' } })
    const list = await api.get(`${base}/`)
    assert.deepEqual(list.body, { count: 1, next: null, previous: null, results: [m] })
    assert.deepEqual((await api.get(`${base}/${m.id}/`)).body, m)
    const put = await api.put(`${base}/${m.id}/`, {
      body: {
        name: 'Updated Events',
        format: 'currency',
        interval: 30,
        display: 'sparkline',
        filters: { updated: 'value' },
      },
    })
    assert.equal(put.status, 200, put.text)
    assert.deepEqual(put.body, {
      ...m,
      name: 'Updated Events',
      format: 'currency',
      interval: 30,
      display: 'sparkline',
      filters: { updated: 'value' },
    })
    const patch = await api.patch(`${base}/${m.id}/`, { body: { name: 'Partially Updated Events' } })
    assert.deepEqual(patch.body, { ...put.body, name: 'Partially Updated Events' })
    assert.deepEqual((await api.get(`${base}/${m.id}`)).body, patch.body)
    const del = await api.delete(`${base}/${m.id}/`)
    assert.deepEqual([del.status, del.text], [204, ''])
    assert.deepEqual((await api.get(`${base}/${m.id}/`)).body, notFoundBody())
  })

  it('PUT resets omitted format/interval/display/math to defaults and keeps math_property (#83)', async () => {
    const { api, base, create } = await setup()
    const m = await create({
      name: 'Revenue',
      format: 'currency',
      interval: 30,
      display: 'sparkline',
      math: 'sum',
      math_property: 'amount',
      filters: {},
    })
    const put = await api.put(`${base}/${m.id}/`, { body: { name: 'Revenue', filters: {}, math: 'sum' } })
    assert.equal(put.status, 200, put.text)
    assert.deepEqual(
      [put.body.format, put.body.interval, put.body.display, put.body.math, put.body.math_property],
      ['numeric', 7, 'number', 'sum', 'amount'],
    )
    const reset = await api.put(`${base}/${m.id}/`, { body: { name: 'Revenue', filters: {} } })
    assert.deepEqual(
      [reset.status, reset.body],
      [400, invalid('math_property', "math_property must be empty when math is 'count'.")],
    )
  })

  it('PATCH validates the merged view (#82)', async () => {
    const { api, base, create } = await setup()
    const m = await create({ name: 'Events', filters: {} })
    const res = await api.patch(`${base}/${m.id}/`, { body: { math: 'sum' } })
    assert.deepEqual(
      [res.status, res.body],
      [400, invalid('math_property', "math_property is required when math is 'sum'.")],
    )
    const ok = await api.patch(`${base}/${m.id}/`, { body: { math: 'sum', math_property: 'amount' } })
    assert.deepEqual([ok.body.math, ok.body.math_property], ['sum', 'amount'])
    const back = await api.patch(`${base}/${m.id}/`, { body: { math: 'count' } })
    assert.equal(back.status, 400, 'a stored math_property conflicts with count')
  })

  it('404s: unknown, malformed, other index, other project, bad index (#29, #30, #86)', async () => {
    const { tenant, api, base, create } = await setup()
    const m = await create({ name: 'Events', filters: {} })
    const zero = '00000000-0000-0000-0000-000000000000'
    assert.deepEqual((await api.delete(`${base}/${zero}/`)).body, notFoundBody())
    const put = await api.put(`${base}/${zero}/`, { body: { name: 'Updated Events' } })
    assert.deepEqual([put.status, put.body], [404, notFoundBody()], 'existence is checked before the body')
    assert.deepEqual((await api.get(`${base}/not-a-uuid/`)).body, notFoundBody())
    const otherIndex = `/api/projects/${tenant.project.id}/groups_types/1/metrics`
    assert.equal((await api.get(`${otherIndex}/${m.id}/`)).status, 404)
    assert.equal((await api.delete(`${otherIndex}/${m.id}/`)).status, 404)
    for (const index of ['5', '9', '-1', 'abc', '01']) {
      const res = await api.get(`/api/projects/${tenant.project.id}/groups_types/${index}/metrics/`)
      assert.deepEqual([res.status, res.body], [404, notFoundBody()], index)
      const post = await api.post(`/api/projects/${tenant.project.id}/groups_types/${index}/metrics/`, {
        body: {},
      })
      assert.equal(post.status, 404, index)
    }
    const stranger = await createTenant(server.database)
    const mine = client(server.url, stranger.key)
    const theirs = `/api/projects/${stranger.project.id}/groups_types/0/metrics`
    assert.equal((await mine.get(`${theirs}/${m.id}/`)).status, 404, "another project's id is not found")
  })

  it("takes the id in any form Django's UUIDField does: no hyphens, braces, urn:uuid:, any case", async () => {
    const { api, base, create } = await setup()
    const m = await create({ name: 'Events', filters: {} })
    const hex = m.id.replaceAll('-', '')
    for (const id of [
      hex,
      hex.toUpperCase(),
      `{${m.id}}`,
      `urn:uuid:${m.id}`,
      `${hex.slice(0, 3)}-${hex.slice(3)}`,
    ]) {
      const res = await api.get(`${base}/${encodeURIComponent(id)}/`)
      assert.deepEqual([res.status, res.body.id], [200, m.id], id)
    }
    for (const id of [hex.slice(1), `${hex}0`, `x${hex}`, `{${hex}`.replace('{', '{{a')]) {
      assert.equal((await api.get(`${base}/${encodeURIComponent(id)}/`)).status, 404, id)
    }
  })

  it('allows a group type index with no mapping and the same name under another index (#74, #75)', async () => {
    const { tenant, api, create } = await setup()
    await create({ name: 'Events', filters: {} })
    for (const index of [1, 4]) {
      const res = await api.post(`/api/projects/${tenant.project.id}/groups_types/${index}/metrics/`, {
        body: { name: 'Events', filters: {} },
      })
      assert.equal(res.status, 201)
    }
  })

  it('rejects a duplicate name with 400, also on rename, and under concurrency exactly one 201 (#73)', async () => {
    const { api, base, create } = await setup()
    await create({ name: 'Events', filters: {} })
    const dup = await api.post(`${base}/`, { body: { name: 'Events', filters: {} } })
    const unique = envelope(
      'validation_error',
      'unique',
      'A metric with this name already exists for this group type.',
      'name',
    )
    assert.deepEqual([dup.status, dup.body], [400, unique])
    const other = await create({ name: 'Other', filters: {} })
    const rename = await api.patch(`${base}/${other.id}/`, { body: { name: 'Events' } })
    assert.deepEqual([rename.status, rename.body], [400, unique])
    const results = await Promise.all(
      Array.from({ length: 10 }, () => api.post(`${base}/`, { body: { name: 'Race', filters: {} } })),
    )
    assert.deepEqual(results.map((r) => r.status).sort(), [201, 400, 400, 400, 400, 400, 400, 400, 400, 400])
  })

  it("validates fields with DRF's messages and codes (#76–#81)", async () => {
    const { api, base } = await setup()
    const cases: [unknown, unknown][] = [
      [{ name: 'x' }, invalid('filters', 'This field is required.', 'required')],
      [
        { name: 'x', filters: [] },
        invalid('filters', 'Expected a dictionary of items but got type "list".', 'not_a_dict'),
      ],
      [{ name: 'x', filters: null }, invalid('filters', 'This field may not be null.', 'null')],
      [{ name: '', filters: {} }, invalid('name', 'This field may not be blank.', 'blank')],
      [{ name: '   ', filters: {} }, invalid('name', 'This field may not be blank.', 'blank')],
      [{ filters: {} }, invalid('name', 'This field is required.', 'required')],
      [
        { name: 'x'.repeat(256), filters: {} },
        invalid('name', 'Ensure this field has no more than 255 characters.', 'max_length'),
      ],
      [
        { name: 'x', filters: {}, format: 'percent' },
        invalid('format', '"percent" is not a valid choice.', 'invalid_choice'),
      ],
      [
        { name: 'x', filters: {}, display: 'chart' },
        invalid('display', '"chart" is not a valid choice.', 'invalid_choice'),
      ],
      [
        { name: 'x', filters: {}, math: 'avg' },
        invalid('math', '"avg" is not a valid choice.', 'invalid_choice'),
      ],
      [{ name: 'x', filters: {}, interval: 'week' }, invalid('interval', 'A valid integer is required.')],
      [{ name: 'x', filters: {}, interval: 1.5 }, invalid('interval', 'A valid integer is required.')],
      [
        { name: 'x', filters: {}, interval: 0 },
        invalid('interval', 'Ensure this value is greater than or equal to 1.', 'min_value'),
      ],
      [
        { name: 'x', filters: {}, interval: 3651 },
        invalid('interval', 'Ensure this value is less than or equal to 3650.', 'max_value'),
      ],
      [
        { name: 'x', filters: {}, interval: 2 ** 40 },
        invalid('interval', 'Ensure this value is less than or equal to 3650.', 'max_value'),
      ],
      [
        { name: 'x', filters: {}, math: 'sum' },
        invalid('math_property', "math_property is required when math is 'sum'."),
      ],
      [
        { name: 'x', filters: {}, math: 'sum', math_property: '' },
        invalid('math_property', "math_property is required when math is 'sum'."),
      ],
      [
        { name: 'x', filters: {}, math: 'count', math_property: 'amount' },
        invalid('math_property', "math_property must be empty when math is 'count'."),
      ],
      [
        { name: 'x', filters: { source: 'something_else' } },
        invalid('filters', "Unknown source: 'something_else'"),
      ],
      [{ name: 'x', filters: { source: 5 } }, invalid('filters', 'Unknown source: 5')],
      [
        { name: 'x', filters: { source: 'data_warehouse', table_name: 'stripe_charges' } },
        invalid('filters', 'Data warehouse metrics require table_name, timestamp_field, key_field.'),
      ],
      [
        {
          name: 'x',
          math: 'sum',
          filters: {
            source: 'data_warehouse',
            table_name: 't',
            timestamp_field: 'created',
            key_field: 'customer_id',
          },
        },
        invalid('math_property', "math_property (column to sum) is required when math is 'sum'."),
      ],
      [
        {
          name: 'x',
          filters: {
            source: 'data_warehouse',
            table_name: 'stripe_charges',
            timestamp_field: 'created',
            key_field: 'customer_id',
          },
        },
        invalid('filters', "Data warehouse table 'stripe_charges' does not exist."),
      ],
      [[1, 2], invalid(null, 'Invalid data. Expected a dictionary, but got list.')],
    ]
    for (const [body, expected] of cases) {
      const res = await api.post(`${base}/`, { body })
      assert.equal(res.status, 400, JSON.stringify(body))
      assert.deepEqual(res.body, expected, JSON.stringify(body))
    }
    assert.equal((await api.get(`${base}/`)).body.count, 0, 'nothing was written')
  })

  it('coerces like DRF: integer strings, trimmed names, unknown and read-only keys ignored', async () => {
    const { create } = await setup()
    const m = await create({
      id: 'mine',
      name: '  Spaced  ',
      interval: '30',
      filters: {},
      team: 5,
      bytecode: [1],
    })
    assert.notEqual(m.id, 'mine')
    assert.deepEqual([m.name, m.interval], ['Spaced', 30])
  })

  it('bounds filters size and depth, and metrics per group type', async () => {
    const { api, base } = await setup()
    let deep: Record<string, unknown> = {}
    for (let i = 0; i < 40; i++) deep = { a: deep }
    const tooDeep = await api.post(`${base}/`, { body: { name: 'deep', filters: deep } })
    assert.deepEqual([tooDeep.status, tooDeep.body.attr, tooDeep.body.code], [400, 'filters', 'max_depth'])
    const big = await api.post(`${base}/`, { body: { name: 'big', filters: { blob: 'x'.repeat(70_000) } } })
    assert.deepEqual([big.status, big.body.attr, big.body.code], [400, 'filters', 'max_length'])
    const huge = await api.post(`${base}/`, {
      body: { name: 'huge', filters: { blob: 'x'.repeat(1_100_000) } },
    })
    assert.equal(huge.status, 413)
    for (let i = 0; i < MAX_METRICS_PER_GROUP_TYPE; i++) {
      await server.database.db
        .insertInto('group_usage_metrics')
        .values({
          id: `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`,
          project_id: Number(base.split('/')[3]),
          group_type_index: 0,
          name: `bulk ${i}`,
          format: 'numeric',
          interval: 7,
          display: 'number',
          filters: '{}',
          math: 'count',
          math_property: null,
          created_at: new Date().toISOString(),
          updated_at: new Date().toISOString(),
        })
        .execute()
    }
    const over = await api.post(`${base}/`, { body: { name: 'one too many', filters: {} } })
    assert.deepEqual(
      [over.status, over.body.detail],
      [400, `A group type can have at most ${MAX_METRICS_PER_GROUP_TYPE} metrics.`],
    )
  })

  it('paginates with DRF limit/offset links (#84, #85)', async () => {
    const { api, base, create } = await setup()
    const ids = []
    for (const name of ['a', 'b', 'c']) ids.push((await create({ name, filters: {} })).id)
    const res = await api.get(`${base}/?limit=1&offset=1`)
    const url = `${server.url}${base}/`
    assert.deepEqual(res.body, {
      count: 3,
      next: `${url}?limit=1&offset=2`,
      previous: `${url}?limit=1`,
      results: [res.body.results[0]],
    })
    assert.equal(res.body.results[0].id, ids[1])
    const sorted = await api.get(`${base}/?offset=2&zeta=z+1&limit=1&alpha=%C3%A9`)
    assert.equal(sorted.body.previous, `${url}?alpha=%C3%A9&limit=1&offset=1&zeta=z+1`)
    assert.equal(sorted.body.next, null)
    for (const q of ['limit=0', 'limit=-5', 'limit=abc', '']) {
      const all = await api.get(`${base}/?${q}`)
      assert.deepEqual([all.body.count, all.body.results.length, all.body.next], [3, 3, null], q)
    }
    const past = await api.get(`${base}/?offset=10`)
    assert.deepEqual([past.body.count, past.body.results], [3, []])
    assert.equal((await api.get(`${base}/?offset=-3&limit=2`)).body.results[0].id, ids[0])
    assert.equal((await api.get(`${base}/?limit=5000`)).body.results.length, 3, 'capped limit still works')
  })

  it('builds links from X-Forwarded-* only when trust-proxy is on', async () => {
    const { api, base, create } = await setup()
    for (const name of ['a', 'b']) await create({ name, filters: {} })
    const headers = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'groups.example.com' }
    const plain = await api.get(`${base}/?limit=1`, { headers })
    assert.ok(plain.body.next.startsWith(server.url), plain.body.next)
    const proxied = await startServer({ trustProxy: true })
    try {
      const t = await createTenant(proxied.database)
      const papi = client(proxied.url, t.key)
      const pbase = `/api/projects/${t.project.id}/groups_types/0/metrics`
      for (const name of ['a', 'b']) await papi.post(`${pbase}/`, { body: { name, filters: {} } })
      const res = await papi.get(`${pbase}/?limit=1`, { headers })
      assert.equal(res.body.next, `https://groups.example.com${pbase}/?limit=1&offset=1`)
    } finally {
      await proxied.close()
    }
  })

  it('accepts usage_metric or group scopes and names both when missing (#71)', async () => {
    const { tenant, base, create } = await setup()
    const m = await create({ name: 'Events', filters: {} })
    const uid = tenant.user.id
    const as = async (scopes: string[]) => client(server.url, await mintKey(server.database, uid, scopes))
    for (const scopes of [['usage_metric:read'], ['group:read'], ['usage_metric:write'], ['group:write']]) {
      assert.equal((await (await as(scopes)).get(`${base}/${m.id}/`)).status, 200, scopes.join())
    }
    for (const scopes of [['usage_metric:write'], ['group:write']]) {
      const res = await (await as(scopes)).patch(`${base}/${m.id}/`, { body: { interval: 14 } })
      assert.equal(res.status, 200, scopes.join())
    }
    const readOnly = await as(['group:read', 'usage_metric:read'])
    const denied = await readOnly.post(`${base}/`, { body: { name: 'x', filters: {} } })
    assert.deepEqual(
      [denied.status, denied.body],
      [403, permissionDeniedBody("API key missing required scope 'usage_metric:write' or 'group:write'")],
    )
    const none = await (await as(['project:read'])).get(`${base}/`)
    assert.deepEqual(
      none.body,
      permissionDeniedBody("API key missing required scope 'usage_metric:read' or 'group:read'"),
    )
  })

  it('answers 401 without a key and 403 for another organization before any lookup or validation (#31–#36, #72)', async () => {
    const { base, create } = await setup()
    const m = await create({ name: 'Events', filters: {} })
    const anon = await client(server.url).get(`${base}/`)
    assert.equal(anon.status, 401)
    const bad = await client(server.url, 'phx_invalid').get(`${base}/`)
    assert.deepEqual(
      [bad.status, bad.body.detail, bad.headers.get('www-authenticate')],
      [401, 'Personal API key found in request Authorization header is invalid.', 'Bearer'],
    )
    const outsider = client(server.url, (await createTenant(server.database)).key)
    const forbidden = permissionDeniedBody("You don't have access to the project.")
    for (const res of [
      await outsider.get(`${base}/`),
      await outsider.get(`${base}/${m.id}/`),
      await outsider.post(`${base}/`, { body: { name: 'Unauthorized Events' } }),
      await outsider.put(`${base}/${m.id}/`, { body: { name: 'x', filters: {} } }),
      await outsider.delete(`${base}/${m.id}/`),
    ]) {
      assert.deepEqual([res.status, res.body], [403, forbidden])
    }
    assert.equal((await client(server.url, (await setup()).tenant.key).get(`${base}/`)).status, 403)
  })

  it('survives deletion of the group type; a reused index inherits the metrics (#92)', async () => {
    const { tenant, api, base, create } = await setup()
    const { register } = await import('../src/group-types/service.ts')
    await register(server.database.db, tenant.project.id, 'company', new Date().toISOString())
    const m = await create({ name: 'Events', filters: {} })
    assert.equal((await api.delete(`/api/projects/${tenant.project.id}/groups_types/0/`)).status, 204)
    await register(server.database.db, tenant.project.id, 'workspace', new Date().toISOString())
    assert.deepEqual(
      (await api.get(`${base}/`)).body.results.map((r: { id: string }) => r.id),
      [m.id],
    )
  })

  it('concurrent PUT/PATCH of one metric end in one submitted state', async () => {
    const { api, base, create } = await setup()
    const m = await create({ name: 'Race', filters: {} })
    const states = Array.from({ length: 10 }, (_, i) => ({
      name: `state ${i}`,
      format: i % 2 ? 'currency' : 'numeric',
      interval: i + 1,
      display: i % 2 ? 'sparkline' : 'number',
      filters: { i },
    }))
    const results = await Promise.all(
      states.map((s, i) => (i % 2 ? api.put : api.patch)(`${base}/${m.id}/`, { body: s })),
    )
    for (const r of results) assert.equal(r.status, 200, r.text)
    const final = (await api.get(`${base}/${m.id}/`)).body
    const match = states.find((s) => s.name === final.name)
    assert.ok(match)
    assert.deepEqual(
      [final.format, final.interval, final.display, final.filters],
      [match.format, match.interval, match.display, match.filters],
    )
  })
})
