/** Personal-API-key throttling: PostHog's 429 body and Retry-After, one budget across processes. */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { migrate } from '../src/db/migrate.ts'
import { sendCapture } from './helpers/capture.ts'
import {
  client,
  createTenant,
  mintKey,
  openTestDatabase,
  startServer,
  type TestDatabase,
  type TestServer,
} from './helpers/harness.ts'
import { type ServerProcess, startServerProcess } from './helpers/processes.ts'

const THROTTLED = /^Request was throttled\. Expected available in (\d+) seconds?\.$/

describe('rate limiting', () => {
  let server: TestServer
  before(async () => {
    server = await startServer({ rateLimit: { enabled: true, burst: 480, sustained: 4800 } })
  })
  after(() => server.close())

  it('answers request 481 within a minute with 429, PostHog body and Retry-After; other keys are unaffected', async () => {
    const t = await createTenant(server.database)
    const api = client(server.url, t.key)
    const path = `/api/projects/${t.project.id}/groups_types/`
    for (let i = 0; i < 480; i += 40) {
      const batch = await Promise.all(Array.from({ length: 40 }, () => api.get(path)))
      for (const r of batch) assert.equal(r.status, 200)
    }
    const res = await api.get(path)
    assert.equal(res.status, 429)
    assert.deepEqual(Object.keys(res.body), ['type', 'code', 'detail', 'attr'])
    assert.deepEqual([res.body.type, res.body.code, res.body.attr], ['throttled_error', 'throttled', null])
    const wait = Number(THROTTLED.exec(res.body.detail)?.[1])
    assert.ok(wait >= 1 && wait <= 60, res.body.detail)
    assert.equal(res.headers.get('retry-after'), String(wait))
    const other = client(server.url, await mintKey(server.database, t.user.id, ['*']))
    assert.equal((await other.get(path)).status, 200)
  })

  it('does not spend the budget on refused requests and does not limit capture', async () => {
    const t = await createTenant(server.database)
    const outsider = await createTenant(server.database)
    const denied = client(server.url, outsider.key)
    for (let i = 0; i < 500; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, () => denied.get(`/api/projects/${t.project.id}/groups_types/`)),
      )
    }
    assert.equal((await denied.get(`/api/projects/${outsider.project.id}/groups_types/`)).status, 200)
    for (let i = 0; i < 500; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: 50 }, () =>
          sendCapture(server.url, '/e/', { token: t.project.api_token, event: 'x', distinct_id: 'u' }),
        ),
      )
      for (const r of batch) assert.equal(r.status, 200)
    }
  })
})

describe('rate limiting across processes', () => {
  let testDb: TestDatabase
  let servers: ServerProcess[]
  const env = { GROUPD_RATE_LIMIT: 'on', GROUPD_RATE_LIMIT_BURST: '30', GROUPD_RATE_LIMIT_SUSTAINED: '45' }
  before(async () => {
    testDb = await openTestDatabase()
    await migrate(testDb.database)
    servers = await Promise.all([
      startServerProcess({ ...testDb.env, ...env }),
      startServerProcess({ ...testDb.env, ...env }),
    ])
  })
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()))
    await testDb.cleanup()
  })

  it('two processes share one budget per key (burst and sustained)', async () => {
    const t = await createTenant(testDb.database)
    const path = `/api/projects/${t.project.id}/groups_types/`
    const statuses = await Promise.all(
      Array.from({ length: 40 }, (_, i) => client(servers[i % 2]!.url, t.key).get(path)),
    )
    const ok = statuses.filter((r) => r.status === 200).length
    // The documented tolerance: (processes − 1) × 1% of the limit (at least 1) beyond it.
    assert.ok(ok >= 30 && ok <= 31, `the burst budget within the documented tolerance, got ${ok}`)
    assert.equal(statuses.filter((r) => r.status === 429).length, 40 - ok)
    const sustained = await startServerProcess({
      ...testDb.env,
      GROUPD_RATE_LIMIT: 'on',
      GROUPD_RATE_LIMIT_BURST: '1000',
      GROUPD_RATE_LIMIT_SUSTAINED: '45',
    })
    try {
      const t2 = await createTenant(testDb.database)
      const p2 = `/api/projects/${t2.project.id}/groups_types/`
      const res = await Promise.all(Array.from({ length: 50 }, () => client(sustained.url, t2.key).get(p2)))
      assert.equal(res.filter((r) => r.status === 200).length, 45)
      const limited = res.find((r) => r.status === 429)!
      assert.ok(Number(limited.headers.get('retry-after')) > 60, 'the hourly window tells a longer wait')
    } finally {
      await sustained.stop()
    }
  })

  it('GROUPD_RATE_LIMIT=off disables it', async () => {
    const off = await startServerProcess({ ...testDb.env, ...env, GROUPD_RATE_LIMIT: 'off' })
    try {
      const t = await createTenant(testDb.database)
      const res = await Promise.all(
        Array.from({ length: 60 }, () =>
          client(off.url, t.key).get(`/api/projects/${t.project.id}/groups_types/`),
        ),
      )
      assert.ok(res.every((r) => r.status === 200))
    } finally {
      await off.stop()
    }
  })
})
