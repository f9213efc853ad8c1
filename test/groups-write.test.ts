/** Group create, update_property and delete_property (the UI's writes), on both engines. */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  client,
  createTenant,
  envelope,
  notFoundBody,
  startServer,
  type TestServer,
} from './helpers/harness.ts'

describe('group writes', () => {
  let server: TestServer
  before(async () => {
    server = await startServer()
  })
  after(() => server.close())

  it('creates a group (201), refuses a duplicate key (400), and finds it', async () => {
    const tenant = await createTenant(server.database)
    const api = client(server.url, tenant.key)
    const base = `/api/projects/${tenant.project.id}/groups`
    const body = { group_type_index: 1, group_key: 'acme', group_properties: { name: 'Acme', seats: 3 } }
    const created = await api.post(`${base}/`, { body })
    assert.equal(created.status, 201, created.text)
    assert.equal(created.body.group_key, 'acme')
    assert.deepEqual(created.body.group_properties, { name: 'Acme', seats: 3 })
    assert.match(created.body.created_at, /Z$/)
    const duplicate = await api.post(`${base}/`, { body: { ...body, group_properties: {} } })
    assert.equal(duplicate.status, 400)
    assert.deepEqual(
      duplicate.body,
      envelope('validation_error', 'invalid_input', 'A group with this key already exists', 'detail'),
    )
    const found = await api.get(`${base}/find/?group_type_index=1&group_key=acme`)
    assert.deepEqual(found.body.group_properties, { name: 'Acme', seats: 3 })
    for (const [bad, attr] of [
      [{ group_key: 'x' }, 'group_type_index'],
      [{ group_type_index: 5, group_key: 'x' }, 'group_type_index'],
      [{ group_type_index: 0, group_key: '' }, 'group_key'],
      [{ group_type_index: 0, group_key: 'x'.repeat(401) }, 'group_key'],
    ] as const) {
      const res = await api.post(`${base}/`, { body: bad })
      assert.equal(res.status, 400, JSON.stringify(bad))
      assert.equal(res.body.attr, attr)
    }
  })

  it('update_property sets one key; delete_property removes one; both answer with the group', async () => {
    const tenant = await createTenant(server.database)
    const api = client(server.url, tenant.key)
    const base = `/api/projects/${tenant.project.id}/groups`
    await api.post(`${base}/`, {
      body: { group_type_index: 0, group_key: 'k 1', group_properties: { a: 1, b: 2 } },
    })
    const q = 'group_type_index=0&group_key=k%201'
    const updated = await api.post(`${base}/update_property/?${q}`, {
      body: { key: 'plan', value: { tier: 'pro' } },
    })
    assert.equal(updated.status, 200, updated.text)
    assert.deepEqual(updated.body.group_properties, { a: 1, b: 2, plan: { tier: 'pro' } })
    const removed = await api.post(`${base}/delete_property/?${q}`, { body: { $unset: 'a' } })
    assert.equal(removed.status, 200)
    assert.deepEqual(removed.body.group_properties, { b: 2, plan: { tier: 'pro' } })
    const found = await api.get(`${base}/find/?${q}`)
    assert.deepEqual(found.body.group_properties, { b: 2, plan: { tier: 'pro' } })

    const missing = await api.post(`${base}/update_property/?group_type_index=0&group_key=nope`, {
      body: { key: 'a', value: 1 },
    })
    assert.equal(missing.status, 404)
    assert.deepEqual(missing.body, notFoundBody())
    const noKey = await api.post(`${base}/delete_property/?group_type_index=0`, { body: { $unset: 'a' } })
    assert.equal(noKey.status, 400)
    assert.equal(noKey.body.attr, 'group_key')
    const noBody = await api.post(`${base}/update_property/?${q}`, { body: {} })
    assert.equal(noBody.status, 400)
    assert.equal(noBody.body.attr, 'key')
  })

  it('bounds properties: 32 levels deep and 256 KiB of JSON (400, not a 500)', async () => {
    const tenant = await createTenant(server.database)
    const api = client(server.url, tenant.key)
    const base = `/api/projects/${tenant.project.id}/groups`
    let deep: unknown = 'x'
    for (let i = 0; i < 40; i++) deep = { a: deep }
    const tooDeep = await api.post(`${base}/`, {
      body: { group_type_index: 0, group_key: 'd', group_properties: deep },
    })
    assert.equal(tooDeep.status, 400)
    assert.deepEqual([tooDeep.body.code, tooDeep.body.attr], ['max_depth', 'group_properties'])
    await api.post(`${base}/`, { body: { group_type_index: 0, group_key: 'big' } })
    const tooBig = await api.post(`${base}/update_property/?group_type_index=0&group_key=big`, {
      body: { key: 'blob', value: 'x'.repeat(300 * 1024) },
    })
    assert.equal(tooBig.status, 400)
    assert.deepEqual([tooBig.body.code, tooBig.body.attr], ['max_length', 'value'])
    const found = await api.get(`${base}/find/?group_type_index=0&group_key=big`)
    assert.deepEqual(found.body.group_properties, {}, 'the refused update changed nothing')
  })

  it('concurrent update_property calls on one group all land', async () => {
    const tenant = await createTenant(server.database)
    const api = client(server.url, tenant.key)
    const base = `/api/projects/${tenant.project.id}/groups`
    await api.post(`${base}/`, { body: { group_type_index: 0, group_key: 'busy' } })
    const q = 'group_type_index=0&group_key=busy'
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        api.post(`${base}/update_property/?${q}`, { body: { key: `p${i}`, value: i } }),
      ),
    )
    for (const r of results) assert.equal(r.status, 200)
    const found = await api.get(`${base}/find/?${q}`)
    assert.equal(Object.keys(found.body.group_properties).length, 10)
  })

  it("another project's group is not found", async () => {
    const a = await createTenant(server.database)
    const b = await createTenant(server.database)
    await client(server.url, a.key).post(`/api/projects/${a.project.id}/groups/`, {
      body: { group_type_index: 0, group_key: 'mine' },
    })
    const res = await client(server.url, b.key).post(
      `/api/projects/${b.project.id}/groups/update_property/?group_type_index=0&group_key=mine`,
      { body: { key: 'x', value: 1 } },
    )
    assert.equal(res.status, 404)
  })
})
