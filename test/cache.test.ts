/**
 * Read caches in one process: bounded, TTL backstop, invalidated by the writing function at once
 * (the next request sees the write, no waiting), and never serving one tenant's entry to another.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { ReadCache } from '../src/db/cache.ts'
import { projectTopic } from '../src/db/changes.ts'
import { updateGroupType } from '../src/group-types/store.ts'
import { AUTH_CACHE, authCacheSizes } from '../src/tenancy/cache.ts'
import { revokePersonalApiKey, setKeyScopes } from '../src/tenancy/keys.ts'
import { client, createTenant, startServer, type TestServer } from './helpers/harness.ts'

describe('read caches', () => {
  let server: TestServer
  before(async () => {
    server = await startServer()
    // PostgreSQL: caches serve once the LISTEN connection is up.
    for (let i = 0; !server.database.changes.usable(); i++) {
      assert.ok(i < 200, 'change feed did not come up')
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  })
  after(() => server.close())

  it('hold at most maxEntries, least recently used out first', async () => {
    const cache = new ReadCache<number>(server.database.changes, { maxEntries: 20, ttlMs: 60_000 })
    let loads = 0
    const load = (n: number) => async () => {
      loads++
      return n
    }
    for (let i = 0; i < 500; i++) assert.equal(await cache.get(`k${i}`, projectTopic(i), load(i)), i)
    assert.equal(cache.size, 20)
    loads = 0
    assert.equal(await cache.get('k499', projectTopic(499), load(-1)), 499, 'recent entry served from memory')
    assert.equal(await cache.get('k0', projectTopic(0), load(0)), 0)
    assert.equal(loads, 1, 'evicted entry loaded again')
  })

  it('reload after the TTL, and never remember a miss', async () => {
    const cache = new ReadCache<string | undefined>(server.database.changes, { maxEntries: 10, ttlMs: 30 })
    let value: string | undefined = 'a'
    const load = async () => value
    assert.equal(await cache.get('k', 'auth', load), 'a')
    value = 'b'
    assert.equal(await cache.get('k', 'auth', load), 'a')
    await new Promise((resolve) => setTimeout(resolve, 40))
    assert.equal(await cache.get('k', 'auth', load), 'b')
    value = undefined
    assert.equal(await cache.get('missing', 'auth', load), undefined)
    value = 'c'
    assert.equal(await cache.get('missing', 'auth', load), 'c')
  })

  it('many keys and projects stay within the auth cache bound', async () => {
    const tenants = await Promise.all(Array.from({ length: 30 }, () => createTenant(server.database)))
    for (const t of tenants) {
      assert.equal((await client(server.url, t.key).get(`/api/projects/${t.project.id}/`)).status, 200)
    }
    const capture = (token: string) =>
      fetch(`${server.url}/capture/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ api_key: token, event: 'e', distinct_id: 'u' }),
      })
    for (const t of tenants) assert.equal((await capture(t.project.api_token)).status, 200)
    const sizes = authCacheSizes(server.database)
    assert.ok(sizes.keys >= 30 && sizes.keys <= AUTH_CACHE.maxEntries, JSON.stringify(sizes))
    assert.ok(sizes.projects >= 30 && sizes.projects <= AUTH_CACHE.maxEntries, JSON.stringify(sizes))
    assert.ok(sizes.tokens >= 30 && sizes.tokens <= AUTH_CACHE.maxEntries, JSON.stringify(sizes))
    for (let i = 0; i < 20; i++) assert.equal((await capture(`phc_unknown${i}`)).status, 401)
    assert.equal(authCacheSizes(server.database).tokens, sizes.tokens, 'unknown tokens are not remembered')
  })

  it('a write in this process is served by the very next request', async () => {
    const t = await createTenant(server.database)
    const api = client(server.url, t.key)
    const list = `/api/projects/${t.project.id}/groups_types/`
    const capture = await fetch(`${server.url}/batch/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        api_key: t.project.api_token,
        batch: [{ event: 'e', distinct_id: 'u', properties: { $groups: { company: 'c' } } }],
      }),
    })
    assert.equal(capture.status, 200)
    assert.equal((await api.get(list)).body[0]?.name_plural, null)
    await updateGroupType(server.database.db, t.project.id, 0, { name_plural: 'Firms' })
    assert.equal((await api.get(list)).body[0]?.name_plural, 'Firms')

    const keys = await server.database.db
      .selectFrom('personal_api_keys')
      .select('id')
      .where('user_id', '=', t.user.id)
      .execute()
    const keyId = keys[0]?.id as string
    await setKeyScopes(server.database.db, keyId, { scopes: ['project:read'] })
    assert.equal((await api.get(list)).status, 403)
    await revokePersonalApiKey(server.database.db, keyId)
    assert.equal((await api.get(list)).status, 401)
  })

  it('never serves one tenant the cached project of another', async () => {
    const a = await createTenant(server.database)
    const b = await createTenant(server.database)
    assert.equal((await client(server.url, a.key).get(`/api/projects/${a.project.id}/`)).status, 200)
    const crossed = await client(server.url, b.key).get(`/api/projects/${a.project.id}/`)
    assert.equal(crossed.status, 403, crossed.text)
    assert.equal(
      (await client(server.url, b.key).get(`/api/projects/${b.project.id}/`)).body.id,
      b.project.id,
    )
  })
})
