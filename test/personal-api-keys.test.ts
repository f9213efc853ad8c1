/** The signed-in user's personal API keys: session only, value shown once, revoke own keys only. */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createTenant, envelope, request, startServer, type TestServer } from './helpers/harness.ts'
import { asSession, givePassword, signIn } from './helpers/session.ts'

describe('personal API keys endpoints', () => {
  let server: TestServer
  before(async () => {
    server = await startServer()
  })
  after(() => server.close())

  async function signedIn() {
    const tenant = await createTenant(server.database)
    await givePassword(server.database, tenant.user.id)
    return { tenant, session: await signIn(server.url, tenant.user.email) }
  }

  it('creates a key whose value works once shown, lists it masked, and revokes it', async () => {
    const { tenant, session } = await signedIn()
    const created = await asSession(server.url, session, 'POST', '/api/personal_api_keys/', {
      body: { label: 'CI', scopes: ['group:read'], scoped_teams: [tenant.project.id] },
    })
    assert.equal(created.status, 201, created.text)
    assert.match(created.body.value, /^phx_[0-9A-Za-z]{43}$/)
    assert.equal(created.body.mask_value, `phx_...${created.body.value.slice(-4)}`)
    assert.deepEqual(created.body.scoped_teams, [tenant.project.id])
    const value = created.body.value

    const used = await request(server.url, 'GET', `/api/projects/${tenant.project.id}/groups_types/`, {
      key: value,
    })
    assert.equal(used.status, 200)

    const list = await asSession(server.url, session, 'GET', '/api/personal_api_keys/')
    assert.equal(list.status, 200)
    assert.deepEqual(
      list.body.map((k: any) => k.label),
      ['CI', 'test'],
    )
    assert.ok(!list.text.includes(value), 'the list never carries the value')
    for (const k of list.body) assert.equal(k.value, undefined)

    const revoked = await asSession(
      server.url,
      session,
      'DELETE',
      `/api/personal_api_keys/${created.body.id}/`,
    )
    assert.equal(revoked.status, 204)
    const after = await request(server.url, 'GET', `/api/projects/${tenant.project.id}/groups_types/`, {
      key: value,
    })
    assert.equal(after.status, 401)
  })

  it('a personal API key cannot list, create or revoke keys', async () => {
    const { tenant } = await signedIn()
    const denied = envelope(
      'authentication_error',
      'permission_denied',
      'This action does not support Personal API Key access.',
    )
    for (const [method, path] of [
      ['GET', '/api/personal_api_keys/'],
      ['POST', '/api/personal_api_keys/'],
      ['DELETE', '/api/personal_api_keys/x/'],
    ] as const) {
      const res = await request(server.url, method, path, {
        key: tenant.key,
        body: method === 'POST' ? { label: 'x', scopes: ['*'] } : undefined,
      })
      assert.equal(res.status, 403, `${method} ${path}`)
      assert.deepEqual(res.body, denied)
    }
    assert.equal((await request(server.url, 'GET', '/api/personal_api_keys/')).status, 401)
  })

  it('validates label, scopes and scoped projects; another user’s key is not found', async () => {
    const { session } = await signedIn()
    const other = await createTenant(server.database)
    const cases: [unknown, string, string][] = [
      [{ scopes: ['*'] }, 'label', 'This field is required.'],
      [{ label: 'x', scopes: [] }, 'scopes', 'You must provide at least one scope.'],
      [{ label: 'x', scopes: ['groups:read'] }, 'scopes', 'Invalid scope: groups:read'],
      [
        { label: 'x', scopes: ['*'], scoped_teams: [other.project.id] },
        'scoped_teams',
        'You must be a member of all teams that you are scoping the key to.',
      ],
    ]
    for (const [body, attr, detail] of cases) {
      const res = await asSession(server.url, session, 'POST', '/api/personal_api_keys/', { body })
      assert.equal(res.status, 400, JSON.stringify(body))
      assert.equal(res.body.attr, attr)
      assert.equal(res.body.detail, detail)
    }
    const otherKeys = await server.database.db
      .selectFrom('personal_api_keys')
      .select('id')
      .where('user_id', '=', other.user.id)
      .execute()
    const res = await asSession(server.url, session, 'DELETE', `/api/personal_api_keys/${otherKeys[0]?.id}/`)
    assert.equal(res.status, 404)
  })
})
