/**
 * The real `bin/groupd` (compiled dist/, built by `npm test`) against the test database, with an
 * in-process server on the same database to check that what the CLI writes works over HTTP.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { buildApp } from '../src/app.ts'
import type { Database } from '../src/db/database.ts'
import { migrate } from '../src/db/migrate.ts'
import { migrations } from '../src/db/migrations/index.ts'
import { deactivateUser } from '../src/sessions/accounts.ts'
import { listPersonalApiKeys } from '../src/tenancy/keys.ts'
import { createOrganization } from '../src/tenancy/organizations.ts'
import { createProject } from '../src/tenancy/projects.ts'
import { addMembership } from '../src/tenancy/users.ts'
import {
  createTenant,
  ENGINE,
  envelope,
  mintKey,
  openTestDatabase,
  permissionDeniedBody,
  request,
  type Tenant,
  type TestDatabase,
  unique,
} from './helpers/harness.ts'
import { groupd, type Run } from './helpers/processes.ts'

/** Asserts success and exactly one line of JSON on stdout; returns it parsed. */
function json(run: Run): any {
  assert.equal(run.code, 0, `exit ${run.code}: ${run.stderr}`)
  assert.ok(run.stdout.endsWith('\n'), JSON.stringify(run.stdout))
  const lines = run.stdout.slice(0, -1).split('\n')
  assert.equal(lines.length, 1, `stdout has ${lines.length} lines: ${run.stdout}`)
  const value = JSON.parse(lines[0] as string)
  assert.equal(typeof value, 'object')
  assert.ok(value !== null && !Array.isArray(value))
  return value
}

/** Asserts a usage error: exit 2, nothing on stdout, a one-line reason on stderr. */
function usageError(run: Run, reason: RegExp): void {
  assert.equal(run.code, 2, `exit ${run.code}: ${run.stdout} ${run.stderr}`)
  assert.equal(run.stdout, '')
  assert.ok(run.stderr.endsWith('\n'), JSON.stringify(run.stderr))
  const lines = run.stderr.slice(0, -1).split('\n')
  assert.equal(lines.length, 1, `stderr has ${lines.length} lines: ${run.stderr}`)
  assert.match(lines[0] as string, /^groupd: \S/)
  assert.match(lines[0] as string, reason)
}

const TABLES = ['organizations', 'users', 'memberships', 'projects', 'personal_api_keys'] as const

async function rowCounts(database: Database): Promise<Record<string, number>> {
  const counts: Record<string, number> = {}
  for (const table of TABLES) {
    const row = await database.db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow()
    counts[table] = Number(row.n)
  }
  return counts
}

/** The real app on an existing database (the CLI's), listening on a loopback port. */
async function serveOn(database: Database): Promise<{ url: string; close(): Promise<void> }> {
  const app = await buildApp({ database })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (!address || typeof address === 'string') throw new Error('no address')
  return { url: `http://127.0.0.1:${address.port}`, close: () => app.close() }
}

const invalidKey = envelope(
  'authentication_error',
  'authentication_failed',
  'Personal API key found in request Authorization header is invalid.',
)

describe('groupd CLI', () => {
  let testDb: TestDatabase
  let env: Record<string, string>
  let server: { url: string; close(): Promise<void> }
  const get = (path: string, key: string) => request(server.url, 'GET', path, { key })

  before(async () => {
    testDb = await openTestDatabase()
    env = testDb.env
    await migrate(testDb.database)
    server = await serveOn(testDb.database)
  })
  after(async () => {
    await server.close()
    await testDb.cleanup()
  })

  /** The id of a user's key, found by its mask (ids of keys minted in one millisecond do not sort). */
  async function keyId(userId: number, plaintext: string): Promise<string> {
    const keys = await listPersonalApiKeys(testDb.database.db, userId)
    const found = keys.filter((k) => k.mask_value === `phx_...${plaintext.slice(-4)}`)
    assert.equal(found.length, 1)
    return found[0]?.id as string
  }

  it('group-types add --json prints {registered, dropped}: a name given twice once, the sixth dropped', async () => {
    const t = await createTenant(testDb.database)
    const p = String(t.project.id)
    const names = ['a', 'b', 'a', 'c', 'd', 'e', 'f']
    const added = json(
      await groupd(
        env,
        'group-types',
        'add',
        '--project',
        p,
        ...names.flatMap((n) => ['--name', n]),
        '--json',
      ),
    )
    assert.deepEqual(added, {
      registered: ['a', 'b', 'c', 'd', 'e'].map((group_type, group_type_index) => ({
        group_type,
        group_type_index,
      })),
      dropped: ['f'],
    })
    const listed = await groupd(env, 'group-types', 'list', '--project', p, '--json')
    assert.deepEqual(
      JSON.parse(listed.stdout).map((g: { group_type: string }) => g.group_type),
      ['a', 'b', 'c', 'd', 'e'],
    )
  })

  it('--json may come before the command', async () => {
    const name = unique('Early json')
    assert.equal(json(await groupd(env, '--json', 'orgs', 'create', '--name', name)).name, name)
  })

  it('orgs create --json prints {id, name}', async () => {
    const name = unique('Acme Inc')
    const org = json(await groupd(env, 'orgs', 'create', '--name', name, '--json'))
    assert.deepEqual(Object.keys(org), ['id', 'name'])
    assert.equal(org.name, name)
    assert.match(org.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
    const stored = await testDb.database.db
      .selectFrom('organizations')
      .selectAll()
      .where('id', '=', org.id)
      .execute()
    assert.deepEqual(
      stored.map((o) => o.name),
      [name],
    )
  })

  it('users create --json prints {id, email} and records the membership level', async () => {
    const org = await createOrganization(testDb.database.db, unique('org'))
    const email = `${unique('Mixed.Case')}@Example.com`
    const user = json(await groupd(env, 'users', 'create', '--email', email, '--org', org.id, '--json'))
    assert.deepEqual(Object.keys(user), ['id', 'email'])
    assert.equal(typeof user.id, 'number')
    assert.equal(user.email, email.toLowerCase())
    const admin = `${unique('admin')}@example.com`
    const adminUser = json(
      await groupd(env, 'users', 'create', '--email', admin, '--org', org.id, '--level', 'admin', '--json'),
    )
    const levels = await testDb.database.db
      .selectFrom('memberships')
      .select(['user_id', 'level'])
      .where('organization_id', '=', org.id)
      .orderBy('user_id')
      .execute()
    assert.deepEqual(levels, [
      { user_id: user.id, level: 'member' },
      { user_id: adminUser.id, level: 'admin' },
    ])
  })

  it("projects create --json prints {id, uuid, api_token, name}; the organization's members see it", async () => {
    const tenant = await createTenant(testDb.database)
    const name = unique('project')
    const project = json(
      await groupd(env, 'projects', 'create', '--org', tenant.org.id, '--name', name, '--json'),
    )
    assert.deepEqual(Object.keys(project), ['id', 'uuid', 'api_token', 'name'])
    assert.equal(typeof project.id, 'number')
    assert.equal(project.name, name)
    assert.match(project.api_token, /^phc_[0-9A-Za-z]{43,}$/)
    const res = await get(`/api/projects/${project.id}/`, tenant.key)
    assert.equal(res.status, 200, res.text)
    assert.deepEqual(
      [res.body.id, res.body.uuid, res.body.organization, res.body.name, res.body.api_token],
      [project.id, project.uuid, tenant.org.id, name, project.api_token],
    )
  })

  it('keys create --json prints {id, personal_api_key, mask_value, scopes}; the key works over HTTP', async () => {
    const tenant = await createTenant(testDb.database)
    const key = json(
      await groupd(
        env,
        'keys',
        'create',
        '--email',
        tenant.user.email,
        '--scopes',
        'project:read,group:write',
        '--json',
      ),
    )
    assert.deepEqual(Object.keys(key), ['id', 'personal_api_key', 'mask_value', 'scopes'])
    assert.match(key.personal_api_key, /^phx_[0-9A-Za-z]{43,}$/)
    assert.equal(key.mask_value, `phx_...${key.personal_api_key.slice(-4)}`)
    assert.deepEqual(key.scopes, ['project:read', 'group:write'])
    assert.equal(await keyId(tenant.user.id, key.personal_api_key), key.id)
    const res = await get(`/api/projects/${tenant.project.id}/`, key.personal_api_key)
    assert.equal(res.status, 200, res.text)
    assert.equal(res.body.id, tenant.project.id)
  })

  it('keys create --projects restricts the key to those projects', async () => {
    const tenant = await createTenant(testDb.database)
    const other = await createProject(testDb.database.db, tenant.org.id, unique('other'))
    const key = json(
      await groupd(
        env,
        'keys',
        'create',
        '--email',
        tenant.user.email,
        '--scopes',
        '*',
        '--projects',
        String(tenant.project.id),
        '--json',
      ),
    )
    assert.equal((await get(`/api/projects/${tenant.project.id}/`, key.personal_api_key)).status, 200)
    const denied = await get(`/api/projects/${other.id}/`, key.personal_api_key)
    assert.deepEqual(
      [denied.status, denied.body],
      [403, permissionDeniedBody(`API key does not have access to the requested project: ID ${other.id}.`)],
    )
    const listed = await get('/api/projects/', key.personal_api_key)
    assert.deepEqual(
      listed.body.results.map((r: { id: number }) => r.id),
      [tenant.project.id],
    )
  })

  it('keys create --orgs restricts the key to those organizations; --label is stored', async () => {
    const a = await createTenant(testDb.database)
    const b = await createTenant(testDb.database)
    await addMembership(testDb.database.db, b.org.id, a.user.id, 'member')
    const label = 'ci deploy key'
    const key = json(
      await groupd(
        env,
        'keys',
        'create',
        '--email',
        a.user.email,
        '--scopes',
        'project:read',
        '--orgs',
        b.org.id,
        '--label',
        label,
        '--json',
      ),
    )
    assert.equal((await get(`/api/projects/${b.project.id}/`, key.personal_api_key)).status, 200)
    const denied = await get(`/api/projects/${a.project.id}/`, key.personal_api_key)
    assert.deepEqual(
      [denied.status, denied.body],
      [
        403,
        permissionDeniedBody(`API key does not have access to the requested organization: ID ${a.org.id}.`),
      ],
    )
    const listed = json(await groupd(env, 'keys', 'list', '--email', a.user.email, '--json'))
    const row = listed.keys.find((k: { id: string }) => k.id === key.id)
    assert.equal(row.label, label)
    assert.deepEqual(row.scopes, ['project:read'])
    assert.deepEqual(row.scoped_organizations, [b.org.id])
    assert.equal(row.scoped_teams, null)
  })

  it('keys list never shows a key or its hash, in JSON or in text', async () => {
    const tenant = await createTenant(testDb.database)
    const first = json(
      await groupd(env, 'keys', 'create', '--email', tenant.user.email, '--scopes', 'group:read', '--json'),
    )
    const listed = json(await groupd(env, 'keys', 'list', '--email', tenant.user.email, '--json'))
    assert.deepEqual(Object.keys(listed), ['keys'])
    const fixtureKeyId = (await listPersonalApiKeys(testDb.database.db, tenant.user.id))[0]?.id
    assert.deepEqual(
      listed.keys.map((k: Record<string, unknown>) => [k.id, k.mask_value, k.scopes]),
      [
        [fixtureKeyId, `phx_...${tenant.key.slice(-4)}`, ['*']],
        [first.id, first.mask_value, ['group:read']],
      ],
    )
    const human = await groupd(env, 'keys', 'list', '--email', tenant.user.email)
    assert.equal(human.code, 0, human.stderr)
    assert.equal(human.stdout.trimEnd().split('\n').length, 2, human.stdout)
    assert.ok(human.stdout.includes(first.id) && human.stdout.includes(first.mask_value), human.stdout)
    for (const output of [JSON.stringify(listed), human.stdout, human.stderr]) {
      for (const key of [first.personal_api_key, tenant.key])
        assert.ok(!output.includes(key), 'plaintext key listed')
      assert.ok(!output.includes('sha256$'), 'key hash listed')
    }
  })

  it("keys revoke: the key then gets 401, the user's other keys still work", async () => {
    const tenant = await createTenant(testDb.database)
    const revoked = await mintKey(testDb.database, tenant.user.id, ['*'])
    const id = await keyId(tenant.user.id, revoked)
    const path = `/api/projects/${tenant.project.id}/`
    assert.equal((await get(path, revoked)).status, 200)
    assert.deepEqual(json(await groupd(env, 'keys', 'revoke', id, '--json')), { id, revoked: true })
    const res = await get(path, revoked)
    assert.deepEqual([res.status, res.body], [401, invalidKey])
    assert.equal((await get(path, tenant.key)).status, 200)
    assert.equal((await listPersonalApiKeys(testDb.database.db, tenant.user.id)).length, 1)
  })

  it("users deactivate --json prints {id, email, is_active}; the user's keys then get 401", async () => {
    const tenant = await createTenant(testDb.database)
    const path = `/api/projects/${tenant.project.id}/`
    assert.equal((await get(path, tenant.key)).status, 200)
    const result = json(await groupd(env, 'users', 'deactivate', '--email', tenant.user.email, '--json'))
    assert.deepEqual(result, { id: tenant.user.id, email: tenant.user.email, is_active: false })
    const res = await get(path, tenant.key)
    assert.deepEqual([res.status, res.body], [401, invalidKey])
    assert.equal(res.headers.get('www-authenticate'), 'Bearer')
  })

  it('human output (no --json) is readable text, not JSON', async () => {
    const name = unique('Readable')
    const org = await groupd(env, 'orgs', 'create', '--name', name)
    assert.equal(org.code, 0, org.stderr)
    const match = /^Created organization "(.+)" with id ([0-9a-f-]{36})\n$/.exec(org.stdout)
    assert.ok(match, org.stdout)
    assert.equal(match[1], name)
    const orgId = match[2] as string
    const email = `${unique('human')}@example.com`
    const user = await groupd(env, 'users', 'create', '--email', email, '--org', orgId)
    assert.equal(user.code, 0, user.stderr)
    assert.match(
      user.stdout,
      new RegExp(`^User ${email} \\(id \\d+\\) is now member of organization ${orgId}\\n$`),
    )
    const key = await groupd(env, 'keys', 'create', '--email', email, '--scopes', 'group:read')
    assert.equal(key.code, 0, key.stderr)
    assert.match(key.stdout, /^Personal API key: phx_[0-9A-Za-z]{43,}/m)
    const migrated = await groupd(env, 'migrate')
    assert.deepEqual([migrated.code, migrated.stdout], [0, 'Database is up to date\n'])
    for (const out of [org.stdout, user.stdout, key.stdout, migrated.stdout]) {
      assert.throws(() => JSON.parse(out))
    }
  })

  it('migrate --json applies nothing on an up-to-date database', async () => {
    const result = json(await groupd(env, 'migrate', '--json'))
    assert.deepEqual(result, { applied: [], engine: ENGINE })
  })
})

// Its own database, so that "writes nothing" can compare whole tables while the cases run at once.
describe('bad arguments exit 2 with a one-line reason and write nothing', { concurrency: true }, () => {
  let testDb: TestDatabase
  let env: Record<string, string>
  let tenant: Tenant
  let counts: Record<string, number>
  let inactive: string

  before(async () => {
    testDb = await openTestDatabase()
    env = testDb.env
    await migrate(testDb.database)
    tenant = await createTenant(testDb.database)
    const other = await createTenant(testDb.database)
    await deactivateUser(testDb.database, other.user.id)
    inactive = other.user.email
    counts = await rowCounts(testDb.database)
  })
  after(() => testDb.cleanup())

  /** `keys create` for the tenant's user, then `rest`. */
  const keysCreate = (...rest: string[]) => ['keys', 'create', '--email', tenant.user.email, ...rest]
  const missingOrg = '0b0e6c9a-1111-4222-8333-944455556666'
  const cases: { name: string; args: () => string[]; env?: Record<string, string>; reason: RegExp }[] = [
    { name: 'unknown command', args: () => ['frobnicate'], reason: /unknown command "frobnicate"/ },
    {
      name: 'unknown subcommand',
      args: () => ['orgs', 'delete', '--json'],
      reason: /unknown command "orgs delete"/,
    },
    {
      name: 'unknown flag',
      args: () => ['orgs', 'create', '--name', 'x', '--colour', 'red'],
      reason: /--colour/,
    },
    { name: 'missing required flag', args: () => ['orgs', 'create', '--json'], reason: /--name is required/ },
    {
      name: 'users create with a nonexistent organization',
      args: () => ['users', 'create', '--email', 'a@b', '--org', missingOrg, '--json'],
      reason: new RegExp(`organization ${missingOrg} not found`),
    },
    {
      name: 'users create with an unknown level',
      args: () => ['users', 'create', '--email', 'c@d', '--org', tenant.org.id, '--level', 'superuser'],
      reason: /--level must be one of member, admin, owner/,
    },
    {
      name: 'users create with an invalid email',
      args: () => ['users', 'create', '--email', 'nope', '--org', tenant.org.id],
      reason: /invalid email "nope"/,
    },
    {
      name: 'users create for an existing member',
      args: () => ['users', 'create', '--email', tenant.user.email, '--org', tenant.org.id],
      reason: /already a member/,
    },
    {
      name: 'users deactivate of an unknown user',
      args: () => ['users', 'deactivate', '--email', 'ghost@example.com'],
      reason: /no user with email ghost@example.com/,
    },
    {
      name: 'projects create with a nonexistent organization',
      args: () => ['projects', 'create', '--org', missingOrg, '--name', 'p'],
      reason: new RegExp(`organization ${missingOrg} not found`),
    },
    {
      name: 'keys create with an unknown scope',
      args: () => keysCreate('--scopes', 'group:read,group:delete', '--json'),
      reason: /invalid scope "group:delete"/,
    },
    {
      name: 'keys create with a nonexistent project',
      args: () => keysCreate('--scopes', '*', '--projects', `${tenant.project.id},999999`),
      reason: /project 999999 not found/,
    },
    {
      name: 'keys create with a label over 40 characters',
      args: () => keysCreate('--scopes', '*', '--label', 'x'.repeat(41)),
      reason: /--label must be at most 40 characters/,
    },
    {
      name: 'keys revoke of an unknown id',
      args: () => ['keys', 'revoke', 'nope'],
      reason: /no key with id nope/,
    },
    {
      name: 'a bad configuration value',
      args: () => ['migrate', '--json'],
      env: { PORT: 'eighty' },
      reason: /PORT must be an integer from 0 to 65535, got "eighty"/,
    },
    {
      name: 'a bad log level, naming the variable',
      args: () => ['migrate', '--json'],
      env: { GROUPD_LOG_LEVEL: 'bogus' },
      reason: /GROUPD_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "bogus"/,
    },
    {
      name: 'a bad on/off value, in the values the README documents',
      args: () => ['migrate'],
      env: { GROUPD_RATE_LIMIT: 'disabled' },
      reason: /GROUPD_RATE_LIMIT must be on or off/,
    },
    {
      name: 'GROUPD_DATA_DIR naming a file',
      args: () => ['migrate', '--json'],
      env: { DATABASE_URL: '', GROUPD_DATA_DIR: fileURLToPath(import.meta.url) },
      reason: /GROUPD_DATA_DIR ".*cli\.test\.ts" cannot hold the database: EEXIST\./,
    },
    { name: 'migrate with a flag', args: () => ['migrate', '--bogus'], reason: /--bogus/ },
    {
      name: 'an unknown command after --json',
      args: () => ['--json', 'metrics'],
      reason: /unknown command "metrics";/,
    },
    {
      name: 'migrate with an argument',
      args: () => ['migrate', 'extra'],
      reason: /unexpected argument "extra"/,
    },
    { name: 'serve with an argument', args: () => ['serve', 'extra'], reason: /unexpected argument "extra"/ },
    {
      name: 'a flag given twice',
      args: () => ['orgs', 'create', '--name', 'x', '--name', 'y', '--json'],
      reason: /--name is given more than once/,
    },
    {
      name: 'keys revoke with a second argument',
      args: () => ['keys', 'revoke', 'a', 'b'],
      reason: /unexpected argument "b"/,
    },
    {
      name: 'keys create with scopes that name nothing',
      args: () => keysCreate('--scopes', ' , '),
      reason: /--scopes must list at least one value/,
    },
    {
      name: 'keys create with an empty project list (it would mint an unrestricted key)',
      args: () => keysCreate('--scopes', '*', '--projects', ''),
      reason: /--projects must list at least one value/,
    },
    {
      name: 'keys create for a deactivated user',
      args: () => ['keys', 'create', '--email', inactive, '--scopes', '*'],
      reason: /is deactivated/,
    },
    {
      name: 'a project id beyond any project (PostgreSQL would fail the query)',
      args: () => ['group-types', 'list', '--project', '2147483648', '--json'],
      reason: /project 2147483648 not found/,
    },
    {
      name: 'a project id beyond any project, in --projects',
      args: () => keysCreate('--scopes', '*', '--projects', '99999999999999'),
      reason: /project 99999999999999 not found/,
    },
  ]

  for (const c of cases) {
    it(c.name, async () => {
      usageError(await groupd({ ...env, ...c.env }, ...c.args()), c.reason)
      assert.deepEqual(await rowCounts(testDb.database), counts)
    })
  }
})

describe('groupd bootstrap and migrate on a fresh database', () => {
  let testDb: TestDatabase

  before(async () => {
    testDb = await openTestDatabase()
  })
  after(() => testDb.cleanup())

  it('migrate --json applies every migration once, then nothing', async () => {
    const names = migrations.map((m) => m.name)
    assert.deepEqual(json(await groupd(testDb.env, 'migrate', '--json')), { applied: names, engine: ENGINE })
    assert.deepEqual(json(await groupd(testDb.env, 'migrate', '--json')), { applied: [], engine: ENGINE })
    const rows = await testDb.database.db
      .selectFrom('groupd_migrations')
      .select('name')
      .orderBy('name')
      .execute()
    assert.deepEqual(
      rows.map((r) => r.name),
      [...names].sort(),
    )
  })

  it('bootstrap creates the default tenant and mints a key; a second run mints another', async () => {
    const first = json(await groupd(testDb.env, 'bootstrap', '--json'))
    assert.deepEqual(Object.keys(first), [
      'organization_id',
      'project_id',
      'project_api_token',
      'personal_api_key',
      'admin_email',
      'admin_password',
    ])
    assert.equal(first.admin_email, 'admin@localhost')
    assert.match(first.admin_password, /^[\w-]{20}$/)
    assert.match(first.organization_id, /^[0-9a-f-]{36}$/)
    assert.equal(typeof first.project_id, 'number')
    assert.match(first.project_api_token, /^phc_[0-9A-Za-z]{43,}$/)
    assert.match(first.personal_api_key, /^phx_[0-9A-Za-z]{43,}$/)

    const second = json(await groupd(testDb.env, 'bootstrap', '--json'))
    assert.deepEqual(
      { ...second, personal_api_key: null },
      { ...first, personal_api_key: null, admin_password: null },
      'the second bootstrap reuses the tenant and keeps the password',
    )
    assert.notEqual(second.personal_api_key, first.personal_api_key)

    const db = testDb.database.db
    assert.deepEqual(
      (await db.selectFrom('organizations').select('name').execute()).map((o) => o.name),
      ['Default'],
    )
    assert.deepEqual(
      (await db.selectFrom('users').select('email').execute()).map((u) => u.email),
      ['admin@localhost'],
    )
    assert.deepEqual(
      (await db.selectFrom('memberships').select('level').execute()).map((m) => m.level),
      ['owner'],
    )
    assert.equal((await db.selectFrom('personal_api_keys').select('id').execute()).length, 2)

    const server = await serveOn(testDb.database)
    try {
      for (const key of [first.personal_api_key, second.personal_api_key]) {
        const res = await request(server.url, 'GET', '/api/projects/', { key })
        assert.equal(res.status, 200, res.text)
        assert.equal(res.body.count, 1)
        assert.deepEqual(
          [
            res.body.results[0].id,
            res.body.results[0].name,
            res.body.results[0].api_token,
            res.body.results[0].organization,
          ],
          [first.project_id, 'Default project', first.project_api_token, first.organization_id],
        )
        const current = await request(server.url, 'GET', '/api/projects/@current/', { key })
        assert.equal(current.body.id, first.project_id)
      }
    } finally {
      await server.close()
    }
  })

  it('bootstrap without --json prints the key once, in text', async () => {
    const run = await groupd(testDb.env, 'bootstrap')
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /^Using existing user admin@localhost\.$/m)
    const keys = run.stdout.match(/phx_[0-9A-Za-z]{43,}/g) ?? []
    assert.ok(keys.length >= 1, run.stdout)
    assert.match(run.stdout, /^Personal API key: +phx_[0-9A-Za-z]{43,} +\(shown once; store it now\)$/m)
    assert.throws(() => JSON.parse(run.stdout))
  })
})

describe('groupd bootstrap refuses a database that is not empty', () => {
  let testDb: TestDatabase

  before(async () => {
    testDb = await openTestDatabase()
  })
  after(() => testDb.cleanup())

  it('exits 2 and writes nothing when organizations exist but admin@localhost does not', async () => {
    await migrate(testDb.database)
    await createOrganization(testDb.database.db, 'Existing')
    const before = await rowCounts(testDb.database)
    usageError(await groupd(testDb.env, 'bootstrap', '--json'), /groupd users create/)
    assert.deepEqual(await rowCounts(testDb.database), before)
  })
})

describe('groupd --help', () => {
  it('prints the usage on stdout and exits 0 wherever --help or -h stands', async () => {
    for (const args of [['--help'], ['keys', 'create', '--help'], ['serve', '-h'], ['migrate', '--help']]) {
      const run = await groupd({}, ...args)
      assert.equal(run.code, 0, `${args.join(' ')}: ${run.stderr}`)
      assert.match(run.stdout, /^usage: groupd <command>/, args.join(' '))
    }
  })
})
