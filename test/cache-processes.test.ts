/**
 * Read caches stay exact across processes: process A serves from its caches while process B, the
 * CLI or this test process write; A reflects every change within a second, including security
 * changes (revoked key, deactivated user, narrowed scopes, new membership). On PostgreSQL the same
 * holds while A's LISTEN connection is killed under it.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import { migrate } from '../src/db/migrate.ts'
import { createPersonalApiKey, setKeyScopes } from '../src/tenancy/keys.ts'
import { addMembership, createUser } from '../src/tenancy/users.ts'
import { sendCapture } from './helpers/capture.ts'
import {
  client,
  createTenant,
  ENGINE,
  openTestDatabase,
  type Response,
  type TestDatabase,
  unique,
} from './helpers/harness.ts'
import { groupd, type ServerProcess, startServerProcess } from './helpers/processes.ts'

/** The promise: a change acknowledged elsewhere is served by A within this long. */
const WITHIN_MS = 1000

/** Polls `probe` until `ok` holds; fails with the last response after WITHIN_MS. */
async function eventually(probe: () => Promise<Response>, ok: (res: Response) => boolean, what: string) {
  const deadline = Date.now() + WITHIN_MS
  for (;;) {
    const res = await probe()
    if (ok(res)) return
    if (Date.now() > deadline) assert.fail(`${what}: still ${res.status} ${res.text} after ${WITHIN_MS} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

const names = (res: Response) => (res.body as { group_type: string }[]).map((g) => g.group_type).join(',')

describe('caches across processes', () => {
  let testDb: TestDatabase
  let a: ServerProcess
  let b: ServerProcess

  before(async () => {
    testDb = await openTestDatabase()
    await migrate(testDb.database)
    ;[a, b] = await Promise.all([startServerProcess(testDb.env), startServerProcess(testDb.env)])
  })
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()])
    await testDb.cleanup()
  })

  async function groupTypesScenario() {
    const t = await createTenant(testDb.database)
    const list = `/api/projects/${t.project.id}/groups_types/`
    const onA = client(a.url, t.key)
    const onB = client(b.url, t.key)
    assert.equal(names(await onA.get(list)), '')
    assert.equal(names(await onA.get(list)), '', 'served again (from the cache)')

    const added = await groupd(
      testDb.env,
      'group-types',
      'add',
      '--project',
      String(t.project.id),
      '--name',
      'company',
    )
    assert.equal(added.code, 0, added.stderr)
    await eventually(
      () => onA.get(list),
      (r) => names(r) === 'company',
      'CLI registration',
    )

    const batch = {
      api_key: t.project.api_token,
      batch: [{ event: 'e', distinct_id: 'u', properties: { $groups: { team: 't1' } } }],
    }
    assert.equal((await sendCapture(b.url, '/batch/', batch)).status, 200)
    await eventually(
      () => onA.get(list),
      (r) => names(r) === 'company,team',
      'capture registration on B',
    )

    const renamed = await onB.patch(`${list}update_metadata/`, {
      body: [{ group_type_index: 0, name_plural: 'Firms' }],
    })
    assert.equal(renamed.status, 200, renamed.text)
    await eventually(
      () => onA.get(list),
      (r) => r.body[0]?.name_plural === 'Firms',
      'rename on B',
    )

    assert.equal((await onB.delete(`${list}1/`)).status, 204)
    await eventually(
      () => onA.get(list),
      (r) => names(r) === 'company',
      'delete on B',
    )
    return t
  }

  it('group types: registration by the CLI and by capture, rename and delete on B reach A', async () => {
    await groupTypesScenario()
  })

  it('metrics: create, update and delete on B reach A (retrieve and page)', async () => {
    const t = await createTenant(testDb.database)
    const metrics = `/api/projects/${t.project.id}/groups_types/0/metrics/`
    const onA = client(a.url, t.key)
    const onB = client(b.url, t.key)
    assert.equal((await onA.get(metrics)).body.count, 0)
    const created = await onB.post(metrics, { body: { name: 'Revenue', filters: {} } })
    assert.equal(created.status, 201, created.text)
    await eventually(
      () => onA.get(metrics),
      (r) => r.body.count === 1,
      'create on B (page)',
    )
    const one = `${metrics}${created.body.id}/`
    assert.equal((await onA.get(one)).body.name, 'Revenue')
    assert.equal((await onB.patch(one, { body: { name: 'ARR' } })).status, 200)
    await eventually(
      () => onA.get(one),
      (r) => r.body.name === 'ARR',
      'update on B (retrieve)',
    )
    await eventually(
      () => onA.get(metrics),
      (r) => r.body.results[0]?.name === 'ARR',
      'update on B (page)',
    )
    assert.equal((await onB.delete(one)).status, 204)
    await eventually(
      () => onA.get(one),
      (r) => r.status === 404,
      'delete on B (retrieve)',
    )
    await eventually(
      () => onA.get(metrics),
      (r) => r.body.count === 0,
      'delete on B (page)',
    )
  })

  it('security: narrowed scopes, revoked key, deactivated user and new membership take effect on A', async () => {
    const t = await createTenant(testDb.database)
    const path = `/api/projects/${t.project.id}/groups_types/`
    const { key, plaintext } = await createPersonalApiKey(testDb.database.db, {
      userId: t.user.id,
      label: 'cached',
      scopes: ['group:read'],
    })
    const onA = client(a.url, plaintext)
    assert.equal((await onA.get(path)).status, 200)
    await setKeyScopes(testDb.database.db, key.id, { scopes: ['project:read'] })
    await eventually(
      () => onA.get(path),
      (r) => r.status === 403,
      'narrowed scopes',
    )

    const revoked = await groupd(testDb.env, 'keys', 'revoke', key.id)
    assert.equal(revoked.code, 0, revoked.stderr)
    await eventually(
      () => onA.get(path),
      (r) => r.status === 401,
      'keys revoke',
    )

    const onAWithKey = client(a.url, t.key)
    assert.equal((await onAWithKey.get(path)).status, 200)
    const deactivated = await groupd(testDb.env, 'users', 'deactivate', '--email', t.user.email)
    assert.equal(deactivated.code, 0, deactivated.stderr)
    await eventually(
      () => onAWithKey.get(path),
      (r) => r.status === 401,
      'users deactivate',
    )

    const outsider = await createUser(testDb.database.db, `${unique('outsider')}@example.com`)
    const outsiderKey = await createPersonalApiKey(testDb.database.db, {
      userId: outsider.id,
      label: 'outsider',
      scopes: ['*'],
    })
    const onAOutsider = client(a.url, outsiderKey.plaintext)
    const project = `/api/projects/${t.project.id}/`
    assert.equal((await onAOutsider.get(project)).status, 403)
    await addMembership(testDb.database.db, t.org.id, outsider.id, 'member')
    await eventually(
      () => onAOutsider.get(project),
      (r) => r.status === 200,
      'new membership',
    )
  })

  it('on PostgreSQL, A stays exact while its LISTEN connection is killed', {
    skip: ENGINE !== 'postgres',
  }, async () => {
    const db = testDb.database.db
    const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db)
    const appName = `groupd-changes ${rows[0]?.schema}`
    const listeners = async () =>
      Number(
        (
          await sql<{
            n: number
          }>`select count(*) as n from pg_stat_activity where application_name = ${appName}`.execute(db)
        ).rows[0]?.n,
      )
    assert.equal(await listeners(), 2, 'A and B listen')
    for (let round = 0; round < 3; round++) {
      const killed =
        await sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${appName}`.execute(
          db,
        )
      assert.equal(killed.rows.length, 2)
      await groupTypesScenario()
    }
    const deadline = Date.now() + 5000
    while ((await listeners()) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    assert.equal(await listeners(), 2, 'both reconnect')
    await groupTypesScenario()
  })
})
