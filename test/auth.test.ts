import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { listPersonalApiKeys, revokePersonalApiKey } from '../src/tenancy/keys.ts'
import { createOrganization } from '../src/tenancy/organizations.ts'
import { createProject } from '../src/tenancy/projects.ts'
import { addMembership, createUser, setUserActive } from '../src/tenancy/users.ts'
import {
  createTenant,
  envelope,
  mintKey,
  notFoundBody,
  permissionDeniedBody,
  request,
  startServer,
  type Tenant,
  type TestServer,
} from './helpers/harness.ts'

describe('authentication and authorization', () => {
  let server: TestServer
  let tenant: Tenant
  let other: Tenant
  const keys: Record<string, string> = {}

  before(async () => {
    server = await startServer()
    const { database } = server
    tenant = await createTenant(database)
    other = await createTenant(database)
    const uid = tenant.user.id
    const secondProject = await createProject(database.db, tenant.org.id, 'second')
    keys.star = tenant.key
    keys.read = await mintKey(database, uid, ['project:read'])
    keys.write = await mintKey(database, uid, ['project:write'])
    keys.groupOnly = await mintKey(database, uid, ['group:read', 'group:write'])
    keys.scopedOther = await mintKey(database, uid, ['*'], { teams: [secondProject.id] })
    keys.scopedSame = await mintKey(database, uid, ['*'], { teams: [tenant.project.id] })
    keys.orgOther = await mintKey(database, uid, ['*'], { organizations: [other.org.id] })
    keys.orgSame = await mintKey(database, uid, ['*'], { organizations: [tenant.org.id] })
    const inactive = await createUser(database.db, 'inactive@example.com')
    await addMembership(database.db, tenant.org.id, inactive.id, 'member')
    keys.inactive = await mintKey(database, inactive.id, ['*'])
    await setUserActive(database.db, inactive.id, false)
    keys.revoked = await mintKey(database, uid, ['*'])
    const revokedId = (await listPersonalApiKeys(database.db, uid)).at(-1)?.id as string
    assert.ok(await revokePersonalApiKey(database.db, revokedId))
  })
  after(() => server.close())

  const notAuthenticated = envelope(
    'authentication_error',
    'not_authenticated',
    'Authentication credentials were not provided.',
  )
  const invalidIn = (source: string) =>
    envelope(
      'authentication_error',
      'authentication_failed',
      `Personal API key found in request ${source} is invalid.`,
    )

  type Case = {
    name: string
    method?: string
    path: (t: Tenant, o: Tenant) => string
    key?: keyof typeof keys | string | null
    headers?: Record<string, string>
    body?: unknown
    status: number
    expect?: (t: Tenant, o: Tenant) => unknown
  }
  const projectPath = (t: Tenant) => `/api/projects/${t.project.id}/`
  const cases: Case[] = [
    { name: 'no key', path: projectPath, key: null, status: 401, expect: () => notAuthenticated },
    {
      name: 'unknown key in header',
      path: projectPath,
      key: 'phx_nope',
      status: 401,
      expect: () => invalidIn('Authorization header'),
    },
    {
      name: 'OAuth token is not a personal key',
      path: projectPath,
      key: 'pha_abc',
      status: 401,
      expect: () => notAuthenticated,
    },
    {
      name: 'Basic auth is not a key',
      path: projectPath,
      key: null,
      headers: { authorization: 'Basic abc' },
      status: 401,
    },
    {
      name: 'key in query string',
      path: (t) => `${projectPath(t)}?personal_api_key=${keys.star}`,
      key: null,
      status: 200,
    },
    {
      name: 'bad key in query string',
      path: (t) => `${projectPath(t)}?personal_api_key=phx_bad`,
      key: null,
      status: 401,
      expect: () => invalidIn('query string'),
    },
    {
      name: 'key in body',
      method: 'POST',
      path: projectPath,
      key: null,
      body: { personal_api_key: '@star' },
      status: 405,
    },
    {
      name: 'bad key in body',
      method: 'POST',
      path: projectPath,
      key: null,
      body: { personal_api_key: 'phx_bad' },
      status: 401,
      expect: () => invalidIn('body'),
    },
    {
      name: 'header wins over query',
      path: (t) => `${projectPath(t)}?personal_api_key=phx_bad`,
      key: 'star',
      status: 200,
    },
    {
      name: 'only the first key found is tried',
      path: (t) => `${projectPath(t)}?personal_api_key=${keys.star}`,
      key: 'phx_bad',
      status: 401,
    },
    {
      name: 'inactive user',
      path: projectPath,
      key: 'inactive',
      status: 401,
      expect: () => invalidIn('Authorization header'),
    },
    { name: 'revoked key', path: projectPath, key: 'revoked', status: 401 },
    { name: 'read scope reads', path: projectPath, key: 'read', status: 200 },
    { name: 'write implies read', path: projectPath, key: 'write', status: 200 },
    { name: '* allows all', path: projectPath, key: 'star', status: 200 },
    {
      name: 'missing scope',
      path: projectPath,
      key: 'groupOnly',
      status: 403,
      expect: () => permissionDeniedBody("API key missing required scope 'project:read'"),
    },
    {
      name: 'scoped_teams excludes project',
      path: projectPath,
      key: 'scopedOther',
      status: 403,
      expect: (t) =>
        permissionDeniedBody(`API key does not have access to the requested project: ID ${t.project.id}.`),
    },
    { name: 'scoped_teams includes project', path: projectPath, key: 'scopedSame', status: 200 },
    {
      name: 'scoped_organizations excludes org',
      path: projectPath,
      key: 'orgOther',
      status: 403,
      expect: (t) =>
        permissionDeniedBody(`API key does not have access to the requested organization: ID ${t.org.id}.`),
    },
    { name: 'scoped_organizations includes org', path: projectPath, key: 'orgSame', status: 200 },
    {
      name: "another organization's project",
      path: (_t, o) => projectPath(o),
      key: 'star',
      status: 403,
      expect: () => permissionDeniedBody("You don't have access to the project."),
    },
    {
      name: 'unknown project',
      path: () => '/api/projects/99999999/',
      key: 'star',
      status: 404,
      expect: () => notFoundBody('Project not found.'),
    },
    {
      name: 'non-integer project',
      path: () => '/api/projects/abc/',
      key: 'star',
      status: 404,
      expect: () => notFoundBody('Project not found.'),
    },
    {
      name: '@current',
      path: () => '/api/projects/@current/',
      key: 'star',
      status: 200,
      expect: (t) => ({ id: t.project.id }),
    },
    { name: 'no key on projects list', path: () => '/api/projects/', key: null, status: 401 },
  ]

  for (const c of cases) {
    it(c.name, async () => {
      const keyName = c.key ?? null
      const key = keyName === null ? null : (keys[keyName] ?? keyName)
      const body = c.body && JSON.parse(JSON.stringify(c.body).replace('"@star"', JSON.stringify(keys.star)))
      const res = await request(server.url, c.method ?? 'GET', c.path(tenant, other), {
        key,
        body,
        headers: c.headers,
      })
      assert.equal(res.status, c.status, res.text)
      if (c.status === 401) assert.equal(res.headers.get('www-authenticate'), 'Bearer')
      const expected = c.expect?.(tenant, other)
      if (expected && c.status >= 400) assert.deepEqual(res.body, expected)
      else if (expected) assert.deepEqual({ ...res.body, ...(expected as object) }, res.body)
    })
  }

  it('@current falls back to the first project when none is stored', async () => {
    const fresh = await createTenant(server.database)
    const res = await request(server.url, 'GET', '/api/projects/@current/', { key: fresh.key })
    assert.equal(res.status, 200)
    assert.equal(res.body.id, fresh.project.id)
  })

  it('@current with no project at all is 404', async () => {
    const org = await createOrganization(server.database.db, 'empty')
    const user = await createUser(server.database.db, 'lonely@example.com')
    await addMembership(server.database.db, org.id, user.id, 'owner')
    const key = await mintKey(server.database, user.id, ['*'])
    const res = await request(server.url, 'GET', '/api/projects/@current/', { key })
    assert.deepEqual([res.status, res.body], [404, notFoundBody('Project not found.')])
  })

  it('records last_used_at on first use', async () => {
    const key = await mintKey(server.database, tenant.user.id, ['project:read'])
    const res = await request(server.url, 'GET', projectPath(tenant), { key })
    assert.equal(res.status, 200)
    // best effort and asynchronous: poll briefly
    for (let i = 0; i < 50; i++) {
      const rows = await listPersonalApiKeys(server.database.db, tenant.user.id)
      if (rows.at(-1)?.last_used_at) return
      await new Promise((r) => setTimeout(r, 20))
    }
    assert.fail('last_used_at was not set')
  })

  it('stores no plaintext key, only its sha256', async () => {
    const rows = await server.database.db.selectFrom('personal_api_keys').selectAll().execute()
    const dump = JSON.stringify(rows)
    for (const key of Object.values(keys))
      assert.ok(!dump.includes(key), 'plaintext key found in the database')
    for (const row of rows) assert.match(row.secure_value, /^sha256\$[0-9a-f]{64}$/)
    assert.ok(rows.every((r) => /^phx_\.\.\.[0-9A-Za-z]{4}$/.test(r.mask_value)))
  })
})
