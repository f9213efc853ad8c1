/**
 * Browser sessions (issue 12): sign-in, sign-out, @me, CSRF, key-over-cookie precedence,
 * revocation on deactivation and password change, sliding expiry, and the per-email lockout shared
 * by every process through the database.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createSession, SESSION_TTL_MS, userForSession } from '../src/sessions/store.ts'
import {
  createTenant,
  envelope,
  mintKey,
  request,
  startServer,
  type Tenant,
  type TestServer,
} from './helpers/harness.ts'
import { groupd, groupdWithStdin, type ServerProcess, startServerProcess } from './helpers/processes.ts'
import { asSession, givePassword, login, type Session, signIn, TEST_PASSWORD } from './helpers/session.ts'

const invalidCredentials = envelope('validation_error', 'invalid_credentials', 'Invalid email or password.')
const notAuthenticated = envelope(
  'authentication_error',
  'not_authenticated',
  'Authentication credentials were not provided.',
)

describe('sessions', () => {
  let server: TestServer
  let bootstrapped: any

  before(async () => {
    server = await startServer()
    // bootstrap needs an empty database: run it before any tenant exists.
    const run = await groupd(server.env, 'bootstrap', '--json')
    assert.equal(run.code, 0, run.stderr)
    bootstrapped = JSON.parse(run.stdout)
  })
  after(() => server.close())

  async function signedInTenant(): Promise<{ tenant: Tenant; session: Session }> {
    const tenant = await createTenant(server.database)
    await givePassword(server.database, tenant.user.id)
    return { tenant, session: await signIn(server.url, tenant.user.email) }
  }

  it('bootstrap prints a sign-in password for admin@localhost, once', async () => {
    assert.equal(bootstrapped.admin_email, 'admin@localhost')
    assert.match(bootstrapped.admin_password, /^[\w-]{20}$/)
    assert.equal((await login(server.url, 'admin@localhost', bootstrapped.admin_password)).status, 200)
    const again = JSON.parse((await groupd(server.env, 'bootstrap', '--json')).stdout)
    assert.equal(again.admin_password, null)
  })

  it('login sets an HttpOnly, SameSite=Lax session cookie and a readable CSRF cookie', async () => {
    const tenant = await createTenant(server.database)
    await givePassword(server.database, tenant.user.id)
    const res = await login(server.url, tenant.user.email.toUpperCase())
    assert.equal(res.status, 200)
    assert.deepEqual(res.body, { success: true })
    const [session, csrf] = res.headers.getSetCookie()
    assert.match(session as string, /^sessionid=[\w-]{43}; Path=\/; Max-Age=1209600; SameSite=Lax; HttpOnly$/)
    assert.match(csrf as string, /^csrftoken=[\w-]{43}; Path=\/; Max-Age=1209600; SameSite=Lax$/)
  })

  it('wrong password and unknown email get the same 400; so does a user without a password', async () => {
    const tenant = await createTenant(server.database)
    await givePassword(server.database, tenant.user.id)
    for (const [email, password] of [
      [tenant.user.email, 'wrong password'],
      ['nobody@example.com', TEST_PASSWORD],
      [(await createTenant(server.database)).user.email, TEST_PASSWORD],
    ]) {
      const res = await login(server.url, email as string, password)
      assert.equal(res.status, 400)
      assert.deepEqual(res.body, invalidCredentials)
      assert.deepEqual(res.headers.getSetCookie(), [])
    }
    const missing = await request(server.url, 'POST', '/api/login', { body: { email: tenant.user.email } })
    assert.equal(missing.status, 400)
    assert.equal(missing.body.attr, 'password')
  })

  it('Secure cookies when the request came over https (trust proxy)', async () => {
    const proxied = await startServer({ trustProxy: true })
    try {
      const tenant = await createTenant(proxied.database)
      await givePassword(proxied.database, tenant.user.id)
      const res = await request(proxied.url, 'POST', '/api/login', {
        body: { email: tenant.user.email, password: TEST_PASSWORD },
        headers: { 'x-forwarded-proto': 'https' },
      })
      assert.equal(res.status, 200)
      for (const cookie of res.headers.getSetCookie()) assert.match(cookie, /; Secure$/)
    } finally {
      await proxied.close()
    }
  })

  it('GET /api/users/@me/ returns the signed-in user, or 401', async () => {
    const { tenant, session } = await signedInTenant()
    const me = await asSession(server.url, session, 'GET', '/api/users/@me/')
    assert.equal(me.status, 200)
    assert.deepEqual(me.body, {
      uuid: tenant.user.uuid,
      email: tenant.user.email,
      first_name: '',
      organization: { id: tenant.org.id, name: tenant.org.name },
      team: { id: tenant.project.id, uuid: tenant.project.uuid, name: tenant.project.name },
    })
    const anonymous = await request(server.url, 'GET', '/api/users/@me/')
    assert.equal(anonymous.status, 401)
    assert.deepEqual(anonymous.body, notAuthenticated)
    const forged = await request(server.url, 'GET', '/api/users/@me/', {
      headers: { cookie: 'sessionid=nope' },
    })
    assert.equal(forged.status, 401)
  })

  it("a session reaches its projects' routes with no scope check, and no other project", async () => {
    const { tenant, session } = await signedInTenant()
    const other = await createTenant(server.database)
    const base = `/api/projects/${tenant.project.id}`
    assert.equal((await asSession(server.url, session, 'GET', `${base}/groups_types/`)).status, 200)
    assert.equal(
      (await asSession(server.url, session, 'GET', '/api/projects/@current/')).body.id,
      tenant.project.id,
    )
    const created = await asSession(
      server.url,
      session,
      'POST',
      `${base}/groups_types/group_usage_metrics/`,
      {
        body: { name: 'Events', filters: {} },
      },
    )
    // No group type 0 exists yet: still past authentication (404 from the route, not 401/403).
    assert.notEqual(created.status, 401)
    assert.notEqual(created.status, 403)
    const foreign = await asSession(
      server.url,
      session,
      'GET',
      `/api/projects/${other.project.id}/groups_types/`,
    )
    assert.equal(foreign.status, 403)
    const missing = await asSession(server.url, session, 'GET', '/api/projects/999999/groups_types/')
    assert.equal(missing.status, 404)
  })

  it('cookie-authenticated writes need the CSRF header matching the cookie (403 otherwise)', async () => {
    const { tenant, session } = await signedInTenant()
    const path = `/api/projects/${tenant.project.id}/groups/`
    const body = { group_type_index: 0, group_key: 'csrf-test', group_properties: {} }
    const missing = await asSession(server.url, session, 'POST', path, { body, csrf: false })
    assert.equal(missing.status, 403)
    assert.deepEqual(
      missing.body,
      envelope('authentication_error', 'permission_denied', 'CSRF Failed: CSRF token missing.'),
    )
    const wrong = await asSession(server.url, session, 'POST', path, {
      body,
      headers: { 'x-csrftoken': 'x'.repeat(43) },
    })
    assert.equal(wrong.status, 403)
    assert.equal(wrong.body.detail, 'CSRF Failed: CSRF token incorrect.')
    const ok = await asSession(server.url, session, 'POST', path, { body })
    assert.equal(ok.status, 201, ok.text)
  })

  it('a request with a key never uses the cookie: the key decides', async () => {
    const { tenant, session } = await signedInTenant()
    const readOnly = await mintKey(server.database, tenant.user.id, ['group:read'])
    const path = `/api/projects/${tenant.project.id}/groups/`
    const body = { group_type_index: 0, group_key: 'key-wins', group_properties: {} }
    const scoped = await asSession(server.url, session, 'POST', path, { body, key: readOnly })
    assert.equal(scoped.status, 403)
    assert.equal(scoped.body.detail, "API key missing required scope 'group:write'")
    const invalid = await asSession(server.url, session, 'GET', '/api/users/@me/', { key: 'phx_invalid' })
    assert.equal(invalid.status, 401)
    assert.equal(invalid.body.code, 'authentication_failed')
    // A key-only request needs no CSRF token.
    const keyWrite = await request(server.url, 'POST', path, { body, key: tenant.key })
    assert.equal(keyWrite.status, 201)
  })

  it('logout ends the session server-side', async () => {
    const { session } = await signedInTenant()
    const noCsrf = await asSession(server.url, session, 'POST', '/api/logout', { csrf: false })
    assert.equal(noCsrf.status, 403)
    const out = await asSession(server.url, session, 'POST', '/api/logout')
    assert.equal(out.status, 200)
    assert.deepEqual(out.body, { success: true })
    for (const cookie of out.headers.getSetCookie()) assert.match(cookie, /Max-Age=0/)
    assert.equal((await asSession(server.url, session, 'GET', '/api/users/@me/')).status, 401)
  })

  it('users deactivate and users set-password end the sessions', async () => {
    const a = await signedInTenant()
    const deactivated = await groupd(server.env, 'users', 'deactivate', '--email', a.tenant.user.email)
    assert.equal(deactivated.code, 0, deactivated.stderr)
    const res = await asSession(server.url, a.session, 'GET', '/api/users/@me/')
    assert.equal(res.status, 401)
    assert.equal((await login(server.url, a.tenant.user.email)).status, 400)

    const b = await signedInTenant()
    const short = await groupdWithStdin(
      server.env,
      'short\n',
      'users',
      'set-password',
      '--email',
      b.tenant.user.email,
    )
    assert.equal(short.code, 2)
    assert.match(short.stderr, /at least 8 characters/)
    assert.equal((await asSession(server.url, b.session, 'GET', '/api/users/@me/')).status, 200)
    const changed = await groupdWithStdin(
      server.env,
      'a new password\n',
      'users',
      'set-password',
      '--email',
      b.tenant.user.email,
    )
    assert.equal(changed.code, 0, changed.stderr)
    assert.equal((await asSession(server.url, b.session, 'GET', '/api/users/@me/')).status, 401)
    assert.equal((await login(server.url, b.tenant.user.email, 'a new password')).status, 200)
  })

  it('users create --password-stdin makes a user who can sign in', async () => {
    const tenant = await createTenant(server.database)
    const email = `new-${tenant.user.id}@example.com`
    const run = await groupdWithStdin(
      server.env,
      'twelve chars\n',
      'users',
      'create',
      '--email',
      email,
      '--org',
      tenant.org.id,
      '--password-stdin',
    )
    assert.equal(run.code, 0, run.stderr)
    assert.equal((await login(server.url, email, 'twelve chars')).status, 200)
  })

  it('expiry slides: a session used within 14 days lives on, an idle one expires', async () => {
    const { tenant } = await signedInTenant()
    const start = new Date()
    const id = await createSession(server.database.db, tenant.user.id, start)
    const at = (days: number) => new Date(start.getTime() + days * 86_400_000)
    assert.ok(await userForSession(server.database.db, id, at(10)))
    assert.ok(await userForSession(server.database.db, id, at(20)), 'used on day 10: valid until day 24')
    assert.equal(
      await userForSession(server.database.db, id, new Date(at(20).getTime() + SESSION_TTL_MS + 1)),
      undefined,
    )
  })
})

describe('login lockout across processes', () => {
  let server: TestServer
  let processes: ServerProcess[]

  before(async () => {
    server = await startServer()
    processes = await Promise.all([startServerProcess(server.env), startServerProcess(server.env)])
  })
  after(async () => {
    await Promise.all(processes.map((p) => p.stop()))
    await server.close()
  })

  it('5 failures for one email within 15 minutes, spread over two processes, lock it out (429)', async () => {
    const tenant = await createTenant(server.database)
    await givePassword(server.database, tenant.user.id)
    const bystander = await createTenant(server.database)
    await givePassword(server.database, bystander.user.id)
    for (let i = 0; i < 5; i++) {
      const res = await login((processes[i % 2] as ServerProcess).url, tenant.user.email, `wrong ${i}`)
      assert.equal(res.status, 400)
    }
    for (const p of processes) {
      const locked = await login(p.url, tenant.user.email)
      assert.equal(locked.status, 429)
      assert.equal(locked.body.type, 'throttled_error')
      assert.match(locked.body.detail, /^Request was throttled\. Expected available in \d+ seconds\.$/)
    }
    assert.equal((await login(processes[0]!.url, bystander.user.email)).status, 200)
  })
})
