/**
 * GET /api/projects/ and GET /api/projects/:project_id/ (issue 2, point 7): visibility by
 * membership and key restrictions, the serialized shape, and DRF limit/offset pagination links.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DEFAULT_TEST_ACCOUNT_FILTERS } from '../src/db/migrations/006-metric-values.ts'
import type { Project } from '../src/db/schema.ts'
import { createOrganization } from '../src/tenancy/organizations.ts'
import { createProject } from '../src/tenancy/projects.ts'
import { addMembership, createUser } from '../src/tenancy/users.ts'
import {
  createTenant,
  mintKey,
  permissionDeniedBody,
  request,
  startServer,
  type Tenant,
  type TestServer,
  unique,
} from './helpers/harness.ts'

const PROJECT_KEYS = ['id', 'uuid', 'organization', 'name', 'api_token', 'created_at', 'test_account_filters']
const DRF_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z$/

/** The wire form of a stored project. */
function wire(project: Project) {
  return {
    id: project.id,
    uuid: project.uuid,
    organization: project.organization_id,
    name: project.name,
    api_token: project.api_token,
    test_account_filters: DEFAULT_TEST_ACCOUNT_FILTERS,
  }
}

function withoutCreatedAt(result: Record<string, unknown>) {
  const { created_at: _, ...rest } = result
  return rest
}

describe('projects API', () => {
  let server: TestServer
  /** A user in two organizations: orgA with projects a1, a2; orgB with b1. */
  let tenant: Tenant
  let a2: Project
  let b1: Project
  let orgB: string
  /** Someone else's organization, never visible to tenant. */
  let stranger: Tenant

  before(async () => {
    server = await startServer()
    const db = server.database.db
    stranger = await createTenant(server.database)
    tenant = await createTenant(server.database)
    a2 = await createProject(db, tenant.org.id, unique('a2'))
    const otherOrg = await createOrganization(db, unique('orgB'))
    orgB = otherOrg.id
    await addMembership(db, orgB, tenant.user.id, 'member')
    b1 = await createProject(db, orgB, unique('b1'))
    await createProject(db, stranger.org.id, unique('stranger-2'))
  })
  after(() => server.close())

  const list = (key: string, query = '') => request(server.url, 'GET', `/api/projects/${query}`, { key })

  it("lists exactly the caller's organizations' projects, ordered by id, in PostHog's shape", async () => {
    const res = await list(tenant.key)
    assert.equal(res.status, 200, res.text)
    assert.deepEqual(Object.keys(res.body), ['count', 'next', 'previous', 'results'])
    assert.equal(res.body.count, 3)
    assert.equal(res.body.next, null)
    assert.equal(res.body.previous, null)
    assert.deepEqual(res.body.results.map(withoutCreatedAt), [tenant.project, a2, b1].map(wire))
    for (const result of res.body.results) {
      assert.deepEqual(Object.keys(result), PROJECT_KEYS)
      assert.match(result.created_at, DRF_DATETIME)
      assert.match(result.api_token, /^phc_[0-9A-Za-z]{43,}$/)
    }
    const stored = [tenant.project, a2, b1]
    for (const [i, result] of res.body.results.entries()) {
      assert.equal(Date.parse(result.created_at), Date.parse(stored[i]?.created_at as string))
    }
  })

  it('the detail route returns the same object as the list', async () => {
    const listed = await list(tenant.key)
    for (const result of listed.body.results) {
      const res = await request(server.url, 'GET', `/api/projects/${result.id}/`, { key: tenant.key })
      assert.equal(res.status, 200, res.text)
      assert.deepEqual(res.body, result)
    }
  })

  it('another user sees only their own organization', async () => {
    const res = await list(stranger.key)
    assert.equal(res.status, 200, res.text)
    assert.equal(res.body.count, 2)
    assert.ok(res.body.results.every((r: { organization: string }) => r.organization === stranger.org.id))
    const ids = new Set(res.body.results.map((r: { id: number }) => r.id))
    for (const p of [tenant.project, a2, b1]) assert.ok(!ids.has(p.id))
  })

  it('a user with no organization sees an empty page', async () => {
    const user = await createUser(server.database.db, `${unique('nobody')}@example.com`)
    const key = await mintKey(server.database, user.id, ['project:read'])
    const res = await list(key)
    assert.deepEqual([res.status, res.body], [200, { count: 0, next: null, previous: null, results: [] }])
  })

  it("a key's scoped_teams restrict the list to those projects", async () => {
    const key = await mintKey(server.database, tenant.user.id, ['project:read'], { teams: [a2.id, b1.id] })
    const res = await list(key)
    assert.equal(res.status, 200, res.text)
    assert.equal(res.body.count, 2)
    assert.deepEqual(res.body.results.map(withoutCreatedAt), [a2, b1].map(wire))
  })

  it("scoped_teams naming another organization's project reveal nothing", async () => {
    const key = await mintKey(server.database, tenant.user.id, ['*'], { teams: [stranger.project.id] })
    const res = await list(key)
    assert.deepEqual([res.status, res.body], [200, { count: 0, next: null, previous: null, results: [] }])
  })

  it("a key's scoped_organizations restrict the list to those organizations", async () => {
    const key = await mintKey(server.database, tenant.user.id, ['project:read'], { organizations: [orgB] })
    const res = await list(key)
    assert.equal(res.status, 200, res.text)
    assert.equal(res.body.count, 1)
    assert.deepEqual(res.body.results.map(withoutCreatedAt), [wire(b1)])
    const detail = await request(server.url, 'GET', `/api/projects/${a2.id}/`, { key })
    assert.deepEqual(
      [detail.status, detail.body],
      [
        403,
        permissionDeniedBody(
          `API key does not have access to the requested organization: ID ${tenant.org.id}.`,
        ),
      ],
    )
  })

  it('scoped_teams and scoped_organizations together intersect', async () => {
    const key = await mintKey(server.database, tenant.user.id, ['*'], {
      teams: [tenant.project.id, b1.id],
      organizations: [tenant.org.id],
    })
    const res = await list(key)
    assert.equal(res.status, 200, res.text)
    assert.deepEqual(res.body.results.map(withoutCreatedAt), [wire(tenant.project)])
  })

  it('needs the project:read scope', async () => {
    const key = await mintKey(server.database, tenant.user.id, ['group:read'])
    const res = await list(key)
    assert.deepEqual(
      [res.status, res.body],
      [403, permissionDeniedBody("API key missing required scope 'project:read'")],
    )
    const write = await mintKey(server.database, tenant.user.id, ['project:write'])
    assert.equal((await list(write)).status, 200)
  })

  describe('pagination', () => {
    const base = () => `${server.url}/api/projects/`

    it('?limit=1&offset=1 links both ways; previous drops offset', async () => {
      const res = await list(tenant.key, '?limit=1&offset=1')
      assert.equal(res.status, 200, res.text)
      assert.equal(res.body.count, 3)
      assert.equal(res.body.next, `${base()}?limit=1&offset=2`)
      assert.equal(res.body.previous, `${base()}?limit=1`)
      assert.deepEqual(res.body.results.map(withoutCreatedAt), [wire(a2)])
    })

    it('first page: next, no previous', async () => {
      const res = await list(tenant.key, '?limit=2')
      assert.equal(res.body.count, 3)
      assert.equal(res.body.next, `${base()}?limit=2&offset=2`)
      assert.equal(res.body.previous, null)
      assert.deepEqual(res.body.results.map(withoutCreatedAt), [tenant.project, a2].map(wire))
    })

    it('last page: previous keeps offset when offset - limit > 0, no next', async () => {
      const res = await list(tenant.key, '?limit=1&offset=2')
      assert.equal(res.body.next, null)
      assert.equal(res.body.previous, `${base()}?limit=1&offset=1`)
      assert.deepEqual(res.body.results.map(withoutCreatedAt), [wire(b1)])
    })

    it('offset equal to limit: previous drops offset', async () => {
      const res = await list(tenant.key, '?limit=2&offset=2')
      assert.equal(res.body.next, null)
      assert.equal(res.body.previous, `${base()}?limit=2`)
    })

    it('offset past the end: empty results, the right count, previous still links back', async () => {
      const res = await list(tenant.key, '?limit=1&offset=10')
      assert.equal(res.status, 200, res.text)
      assert.deepEqual({ ...res.body, previous: null }, { count: 3, next: null, previous: null, results: [] })
      assert.equal(res.body.previous, `${base()}?limit=1&offset=9`)
    })

    it('other query parameters are kept and keys are sorted and re-encoded', async () => {
      const res = await list(tenant.key, '?zeta=1&offset=1&limit=1&alpha=a%20b%2Fc')
      assert.equal(res.body.next, `${base()}?alpha=a+b%2Fc&limit=1&offset=2&zeta=1`)
      assert.equal(res.body.previous, `${base()}?alpha=a+b%2Fc&limit=1&zeta=1`)
    })

    it('the links keep a missing trailing slash', async () => {
      const res = await request(server.url, 'GET', '/api/projects?limit=1', { key: tenant.key })
      assert.equal(res.status, 200, res.text)
      assert.equal(res.body.next, `${server.url}/api/projects?limit=1&offset=1`)
    })

    for (const limit of ['0', '-1', 'abc', '1.5', '']) {
      it(`limit=${limit} falls back to the default page size`, async () => {
        const res = await list(tenant.key, `?limit=${limit}`)
        assert.equal(res.status, 200, res.text)
        assert.equal(res.body.count, 3)
        assert.equal(res.body.results.length, 3)
        assert.equal(res.body.next, null)
        assert.equal(res.body.previous, null)
      })
    }

    it('an invalid or negative offset is 0', async () => {
      for (const offset of ['-1', 'abc']) {
        const res = await list(tenant.key, `?limit=1&offset=${offset}`)
        assert.equal(res.status, 200, res.text)
        assert.deepEqual(res.body.results.map(withoutCreatedAt), [wire(tenant.project)])
        assert.equal(res.body.previous, null)
        assert.equal(res.body.next, `${base()}?limit=1&offset=1`)
      }
    })

    it('an invalid limit in the link is replaced by the default', async () => {
      const res = await list(tenant.key, '?limit=0&offset=1')
      assert.equal(res.body.count, 3)
      assert.equal(res.body.results.length, 2)
      assert.equal(res.body.next, null)
      assert.equal(res.body.previous, `${base()}?limit=100`)
    })

    it('the count and links respect the key restrictions', async () => {
      const key = await mintKey(server.database, tenant.user.id, ['*'], { organizations: [tenant.org.id] })
      const res = await list(key, '?limit=1')
      assert.equal(res.body.count, 2)
      assert.equal(res.body.next, `${base()}?limit=1&offset=1`)
      const last = await list(key, '?limit=1&offset=1')
      assert.equal(last.body.next, null)
      assert.deepEqual(last.body.results.map(withoutCreatedAt), [wire(a2)])
    })

    it('X-Forwarded-Proto and X-Forwarded-Host are ignored by default', async () => {
      const res = await request(server.url, 'GET', '/api/projects/?limit=1', {
        key: tenant.key,
        headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.com' },
      })
      assert.equal(res.body.next, `${base()}?limit=1&offset=1`)
    })
  })
})

describe('projects API behind a trusted proxy', () => {
  let server: TestServer
  let tenant: Tenant

  before(async () => {
    server = await startServer({ trustProxy: true })
    tenant = await createTenant(server.database)
    await createProject(server.database.db, tenant.org.id, unique('second'))
  })
  after(() => server.close())

  it('X-Forwarded-Proto and X-Forwarded-Host build the links', async () => {
    const res = await request(server.url, 'GET', '/api/projects/?limit=1', {
      key: tenant.key,
      headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.com' },
    })
    assert.equal(res.status, 200, res.text)
    assert.equal(res.body.next, 'https://api.example.com/api/projects/?limit=1&offset=1')
    const back = await request(server.url, 'GET', '/api/projects/?limit=1&offset=1', {
      key: tenant.key,
      headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.com' },
    })
    assert.equal(back.body.previous, 'https://api.example.com/api/projects/?limit=1')
  })

  it('without forwarded headers the request host is used', async () => {
    const res = await request(server.url, 'GET', '/api/projects/?limit=1', { key: tenant.key })
    assert.equal(res.body.next, `${server.url}/api/projects/?limit=1&offset=1`)
  })
})
