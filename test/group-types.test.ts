/** Group types API over HTTP: spec §13.1 and the decisions of issue 3. */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { register } from '../src/group-types/service.ts'
import { getGroupType } from '../src/group-types/store.ts'
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

const KEYS = [
  'group_type',
  'group_type_index',
  'name_singular',
  'name_plural',
  'detail_dashboard',
  'default_columns',
  'created_at',
]

describe('group types API', () => {
  let server: TestServer
  before(async () => {
    server = await startServer()
  })
  after(() => server.close())

  /** A project with organization(0), playlist(1), another(2), as PostHog's tests set up. */
  async function setup(names = ['organization', 'playlist', 'another']) {
    const tenant = await createTenant(server.database)
    for (const name of names)
      await register(server.database.db, tenant.project.id, name, '2026-03-04T05:06:07.000Z')
    const api = client(server.url, tenant.key)
    const base = `/api/projects/${tenant.project.id}/groups_types`
    return { tenant, api, base }
  }

  it('lists group types ordered by index with exactly the PostHog keys, in order (#2)', async () => {
    const { api, base } = await setup()
    const res = await api.get(`${base}/`)
    assert.equal(res.status, 200)
    assert.equal(res.body.length, 3)
    for (const row of res.body) assert.deepEqual(Object.keys(row), KEYS)
    assert.deepEqual(res.body[0], {
      group_type: 'organization',
      group_type_index: 0,
      name_singular: null,
      name_plural: null,
      detail_dashboard: null,
      default_columns: null,
      created_at: '2026-03-04T05:06:07Z',
    })
    assert.deepEqual(
      res.body.map((r: { group_type: string }) => r.group_type),
      ['organization', 'playlist', 'another'],
    )
    assert.equal((await api.get(base)).status, 200, 'trailing slash is optional')
  })

  it('prints created_at in DRF format with microseconds when the fraction is not zero', async () => {
    const tenant = await createTenant(server.database)
    await register(server.database.db, tenant.project.id, 'company', '2026-03-04T05:06:07.120Z')
    const res = await client(server.url, tenant.key).get(`/api/projects/${tenant.project.id}/groups_types/`)
    assert.equal(res.body[0].created_at, '2026-03-04T05:06:07.120000Z')
  })

  it('lists nothing as [] and shows a new type at once (no cache lag)', async () => {
    const { tenant, api, base } = await setup([])
    assert.deepEqual((await api.get(`${base}/`)).body, [])
    await register(server.database.db, tenant.project.id, 'company', '2026-01-01T00:00:00.000Z')
    assert.equal((await api.get(`${base}/`)).body.length, 1)
  })

  it('update_metadata applies names and ignores read-only fields (#1)', async () => {
    const { api, base } = await setup()
    const res = await api.patch(`${base}/update_metadata/`, {
      body: [
        { group_type_index: 0, name_singular: 'organization!' },
        { group_type_index: 1, group_type: 'rename attempt', name_plural: 'playlists' },
      ],
    })
    assert.equal(res.status, 200, res.text)
    assert.deepEqual(
      res.body.map((r: Record<string, unknown>) => [
        r.group_type,
        r.group_type_index,
        r.name_singular,
        r.name_plural,
        r.detail_dashboard,
        r.default_columns,
      ]),
      [
        ['organization', 0, 'organization!', null, null, null],
        ['playlist', 1, null, 'playlists', null, null],
        ['another', 2, null, null, null, null],
      ],
    )
    assert.deepEqual((await api.get(`${base}/`)).body, res.body)
  })

  it('update_metadata applies default_columns and detail_dashboard, and "" clears a name', async () => {
    const { api, base } = await setup()
    await api.patch(`${base}/update_metadata`, {
      body: [{ group_type_index: 2, name_singular: 'Org', name_plural: 'Orgs' }],
    })
    const res = await api.patch(`${base}/update_metadata`, {
      body: [
        {
          group_type_index: 2,
          name_singular: '',
          default_columns: ['name', '$group_0'],
          detail_dashboard: 7,
          created_at: 'x',
        },
      ],
    })
    assert.equal(res.status, 200, res.text)
    assert.deepEqual(res.body[2], {
      ...res.body[2],
      name_singular: null,
      name_plural: 'Orgs',
      default_columns: ['name', '$group_0'],
      detail_dashboard: 7,
    })
    const cleared = await api.patch(`${base}/update_metadata`, {
      body: [{ group_type_index: 2, default_columns: null, name_plural: null }],
    })
    assert.deepEqual([cleared.body[2].default_columns, cleared.body[2].name_plural], [null, null])
  })

  it('update_metadata with an empty array returns the list', async () => {
    const { api, base } = await setup()
    const res = await api.patch(`${base}/update_metadata/`, { body: [] })
    assert.deepEqual([res.status, res.body.length], [200, 3])
  })

  it('update_metadata is all or nothing: an unknown or missing index is 404 and applies nothing', async () => {
    const { tenant, api, base } = await setup()
    for (const bad of [{ group_type_index: 4, name_singular: 'x' }, { name_singular: 'no index' }]) {
      const res = await api.patch(`${base}/update_metadata/`, {
        body: [{ group_type_index: 0, name_singular: 'applied?' }, bad],
      })
      assert.equal(res.status, 404)
      assert.deepEqual(res.body, notFoundBody('Group type not found'))
      const row = await getGroupType(server.database.db, tenant.project.id, 0)
      assert.equal(row?.name_singular, null, 'the first row was rolled back')
    }
  })

  it('update_metadata validation errors are 400 with the bare field name (#90)', async () => {
    const { api, base } = await setup()
    const cases: [unknown, string, string | null, string][] = [
      [
        [{ group_type_index: 0, name_singular: 'x'.repeat(401) }],
        'max_length',
        'name_singular',
        'Ensure this field has no more than 400 characters.',
      ],
      [
        [{ group_type_index: 0 }, { group_type_index: 1, name_plural: { a: 1 } }],
        'invalid_input',
        'name_plural',
        'Not a valid string.',
      ],
      [[{ group_type_index: 'zero' }], 'invalid_input', 'group_type_index', 'A valid integer is required.'],
      [
        [{ group_type_index: 0, default_columns: 'name' }],
        'not_a_list',
        'default_columns',
        'Expected a list of items but got type "str".',
      ],
      [
        [{ group_type_index: 0, detail_dashboard: 'abc' }],
        'invalid_input',
        'detail_dashboard',
        'A valid integer is required.',
      ],
      [{ group_type_index: 0 }, 'not_a_list', null, 'Expected a list of items but got type "dict".'],
      [['row'], 'invalid_input', null, 'Invalid data. Expected a dictionary, but got str.'],
    ]
    for (const [body, code, attr, detail] of cases) {
      const res = await api.patch(`${base}/update_metadata/`, { body })
      assert.equal(res.status, 400, JSON.stringify(body))
      assert.deepEqual(res.body, envelope('validation_error', code, detail, attr))
    }
    assert.deepEqual(
      (await api.get(`${base}/`)).body.map((r: { name_singular: null }) => r.name_singular),
      [null, null, null],
    )
  })

  it('concurrent update_metadata batches never interleave', async () => {
    const { api, base } = await setup(['a', 'b', 'c', 'd', 'e'])
    const batch = (tag: string, order: number[]) =>
      api.patch(`${base}/update_metadata/`, {
        body: order.map((i) => ({ group_type_index: i, name_singular: `${tag}-s`, name_plural: `${tag}-p` })),
      })
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, k) => batch(`t${k}`, k % 2 ? [0, 1, 2, 3, 4] : [4, 3, 2, 1, 0])),
    )
    for (const r of results) assert.equal(r.status, 200, r.text)
    const final = (await api.get(`${base}/`)).body as { name_singular: string; name_plural: string }[]
    const tags = new Set(
      final.flatMap((r) => [r.name_singular.replace(/-s$/, ''), r.name_plural.replace(/-p$/, '')]),
    )
    assert.equal(tags.size, 1, `rows from different batches: ${JSON.stringify(final)}`)
  })

  it('set_default_columns stores exactly the list and returns the group type (#10, #11)', async () => {
    const { api, base } = await setup()
    const res = await api.put(`${base}/set_default_columns/`, {
      body: { group_type_index: 0, default_columns: ['$group_0', '$group_1'] },
    })
    assert.equal(res.status, 200, res.text)
    assert.deepEqual(Object.keys(res.body), KEYS)
    assert.deepEqual(
      [res.body.group_type, res.body.default_columns],
      ['organization', ['$group_0', '$group_1']],
    )
    const missing = await api.put(`${base}/set_default_columns/`, {
      body: { group_type_index: 4, default_columns: [] },
    })
    assert.deepEqual([missing.status, missing.body], [404, notFoundBody('Group type not found')])
    const bad = await api.put(`${base}/set_default_columns/`, { body: { group_type_index: 0 } })
    assert.deepEqual(
      [bad.status, bad.body],
      [400, envelope('validation_error', 'required', 'This field is required.', 'default_columns')],
    )
  })

  it('delete removes one mapping; unknown or non-integer index is 404, never 500 (#12, #13, #91)', async () => {
    const { api, base } = await setup(['organization'])
    const res = await api.delete(`${base}/0/`)
    assert.equal(res.status, 204)
    assert.equal(res.text, '')
    assert.deepEqual((await api.get(`${base}/`)).body, [])
    for (const index of ['0', '99', 'abc', '-1', '1.5']) {
      const missing = await api.delete(`${base}/${index}/`)
      assert.deepEqual([missing.status, missing.body], [404, notFoundBody('Group type not found')], index)
    }
  })

  it("other methods are 405 with PostHog's body (#87, #88)", async () => {
    const { api, base } = await setup()
    const cases: [string, string][] = [
      ['POST', `${base}/`],
      ['GET', `${base}/0/`],
      ['PUT', `${base}/0/`],
      ['PATCH', `${base}/0/`],
      ['GET', `${base}/update_metadata/`],
      ['POST', `${base}/update_metadata/`],
      ['GET', `${base}/set_default_columns/`],
    ]
    for (const [method, path] of cases) {
      const res = await (api as Record<string, typeof api.get>)[method.toLowerCase()]!(
        path,
        method === 'GET' ? {} : { body: {} },
      )
      assert.deepEqual(
        [res.status, res.body],
        [405, envelope('invalid_request', 'method_not_allowed', `Method "${method}" not allowed.`)],
        `${method} ${path}`,
      )
    }
  })

  it('enforces scopes: read lists, write changes; 401 without a key; 403 across organizations (#3)', async () => {
    const { tenant, base } = await setup()
    const readKey = await mintKey(server.database, tenant.user.id, ['group:read'])
    const writeKey = await mintKey(server.database, tenant.user.id, ['group:write'])
    const read = client(server.url, readKey)
    assert.equal((await read.get(`${base}/`)).status, 200)
    const denied = await read.delete(`${base}/0/`)
    assert.deepEqual(
      [denied.status, denied.body],
      [403, permissionDeniedBody("API key missing required scope 'group:write'")],
    )
    const deniedPatch = await read.patch(`${base}/update_metadata/`, { body: [] })
    assert.equal(deniedPatch.status, 403)
    assert.equal((await client(server.url, writeKey).get(`${base}/`)).status, 200, 'write implies read')
    assert.equal(
      (await client(server.url, writeKey).patch(`${base}/update_metadata/`, { body: [] })).status,
      200,
    )
    const anon = await client(server.url).get(`${base}/`)
    assert.equal(anon.status, 401)
    const outsider = await createTenant(server.database)
    const foreign = await client(server.url, outsider.key).get(`${base}/`)
    assert.deepEqual(
      [foreign.status, foreign.body],
      [403, permissionDeniedBody("You don't have access to the project.")],
    )
    const foreignDelete = await client(server.url, outsider.key).delete(`${base}/0/`)
    assert.equal(foreignDelete.status, 403)
    assert.equal((await client(server.url, tenant.key).get(`${base}/`)).body.length, 3, 'nothing was deleted')
  })

  it('resolves @current and rejects unknown projects (#63–#65)', async () => {
    const { tenant } = await setup()
    const api = client(server.url, tenant.key)
    assert.equal((await api.get('/api/projects/@current/groups_types/')).body.length, 3)
    assert.deepEqual(
      (await api.get('/api/projects/abc/groups_types/')).body,
      notFoundBody('Project not found.'),
    )
    assert.deepEqual(
      (await api.get('/api/projects/99999999/groups_types/')).body,
      notFoundBody('Project not found.'),
    )
  })
})
