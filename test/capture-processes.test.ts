/** Two groupd processes on one database ingesting overlapping new group types at once. */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { migrate } from '../src/db/migrate.ts'
import { listGroupTypes } from '../src/group-types/store.ts'
import { sendCapture } from './helpers/capture.ts'
import { createTenant, openTestDatabase, type TestDatabase } from './helpers/harness.ts'
import { type ServerProcess, startServerProcess } from './helpers/processes.ts'

describe('capture across processes', () => {
  let testDb: TestDatabase
  let servers: ServerProcess[]
  before(async () => {
    testDb = await openTestDatabase()
    await migrate(testDb.database)
    servers = await Promise.all([startServerProcess(testDb.env), startServerProcess(testDb.env)])
  })
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()))
    await testDb.cleanup()
  })

  it('registers each type once, at most 5, and loses no event', async () => {
    const t = await createTenant(testDb.database)
    const pool = ['org', 'team', 'workspace', 'account', 'region', 'cluster', 'tenant', 'site']
    const requests = Array.from({ length: 40 }, (_, r) =>
      sendCapture(servers[r % 2]!.url, '/batch/', {
        api_key: t.project.api_token,
        batch: Array.from({ length: 25 }, (_, i) => ({
          event: 'x',
          distinct_id: `d${r}`,
          properties: {
            $groups: { [pool[(r + i) % pool.length]!]: `k${i}`, [pool[(r * 5 + i * 3) % pool.length]!]: 'z' },
          },
        })),
      }),
    )
    const results = await Promise.all(requests)
    for (const r of results) assert.deepEqual([r.status, r.body], [200, { status: 1 }])
    const types = await listGroupTypes(testDb.database.db, t.project.id)
    assert.equal(types.length, 5)
    assert.equal(new Set(types.map((g) => g.group_type)).size, 5)
    assert.deepEqual(
      types.map((g) => g.group_type_index),
      [0, 1, 2, 3, 4],
    )
    const count = await testDb.database.db
      .selectFrom('events')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('project_id', '=', t.project.id)
      .executeTakeFirstOrThrow()
    assert.equal(Number(count.n), 40 * 25)
    for (const s of servers) assert.doesNotMatch(s.stderr(), /SQLITE_BUSY|deadlock|"level":50/)
  })
})
