/** Group type registration: PostHog's ingestion tests (spec §13.4 #55–#62) plus race safety. */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { after, before, describe, it } from 'node:test'
import { Database } from '../src/db/database.ts'
import { migrate } from '../src/db/migrate.ts'
import { MAX_GROUP_TYPES_PER_PROJECT, register } from '../src/group-types/service.ts'
import { deleteGroupType, listGroupTypes } from '../src/group-types/store.ts'
import { createTenant, ENGINE, openTestDatabase, type TestDatabase } from './helpers/harness.ts'

const T = '2026-01-01T00:00:00.000Z'

describe('group type registration', () => {
  let testDb: TestDatabase
  let database: Database
  before(async () => {
    testDb = await openTestDatabase()
    database = testDb.database
    await migrate(database)
  })
  after(() => testDb.cleanup())

  const project = async () => (await createTenant(database)).project.id
  const names = async (projectId: number) =>
    (await listGroupTypes(database.db, projectId)).map((g) => [g.group_type_index, g.group_type])

  it('gives new names the lowest free index and the sixth none (#55, #60)', async () => {
    const p = await project()
    for (const [i, name] of ['g0', 'g1', 'g2', 'g3', 'g4'].entries()) {
      assert.deepEqual(await register(database.db, p, name, T), {
        group_type: name,
        group_type_index: i,
        created: true,
      })
    }
    assert.deepEqual(await register(database.db, p, 'g5', T), {
      group_type: 'g5',
      group_type_index: null,
      reason: 'limit_reached',
    })
    assert.deepEqual(await register(database.db, p, 'g6', T), {
      group_type: 'g6',
      group_type_index: null,
      reason: 'limit_reached',
    })
    assert.equal((await names(p)).length, MAX_GROUP_TYPES_PER_PROJECT)
  })

  it('returns the existing index of a known name without writing (#56, #57)', async () => {
    const p = await project()
    await register(database.db, p, 'company', T)
    await register(database.db, p, 'team', T)
    assert.deepEqual(await register(database.db, p, 'team', '2030-01-01T00:00:00.000Z'), {
      group_type: 'team',
      group_type_index: 1,
      created: false,
    })
    const team = (await listGroupTypes(database.db, p))[1]
    assert.equal(team?.created_at, T, 'created_at is not rewritten')
  })

  it('stores the given created_at (the triggering event time)', async () => {
    const p = await project()
    await register(database.db, p, 'company', '2020-05-06T07:08:09.123Z')
    assert.equal((await listGroupTypes(database.db, p))[0]?.created_at, '2020-05-06T07:08:09.123Z')
  })

  it('is case-sensitive and bounds names to 1..400 characters', async () => {
    const p = await project()
    assert.equal((await register(database.db, p, 'Company', T)).group_type_index, 0)
    assert.equal((await register(database.db, p, 'company', T)).group_type_index, 1)
    assert.deepEqual(await register(database.db, p, '', T), {
      group_type: '',
      group_type_index: null,
      reason: 'invalid_name',
    })
    const long = 'x'.repeat(401)
    assert.equal((await register(database.db, p, long, T)).group_type_index, null)
    assert.equal((await register(database.db, p, 'y'.repeat(400), T)).group_type_index, 2)
  })

  it('reuses freed indexes, lowest first (#61)', async () => {
    const p = await project()
    for (const name of ['A', 'B', 'C', 'D', 'E']) await register(database.db, p, name, T)
    assert.ok(await deleteGroupType(database.db, p, 4))
    assert.equal((await register(database.db, p, 'F', T)).group_type_index, 4)
    assert.ok(await deleteGroupType(database.db, p, 2))
    assert.equal((await register(database.db, p, 'G', T)).group_type_index, 2)
    assert.deepEqual(await names(p), [
      [0, 'A'],
      [1, 'B'],
      [2, 'G'],
      [3, 'D'],
      [4, 'F'],
    ])
  })

  it('hands out indexes in arrival order; which sixth type is dropped depends on it (#62)', async () => {
    const p1 = await project()
    const p2 = await project()
    for (const name of ['a', 'b', 'c', 'd', 'e', 'f']) await register(database.db, p1, name, T)
    for (const name of ['f', 'e', 'd', 'c', 'b', 'a']) await register(database.db, p2, name, T)
    assert.deepEqual(
      (await names(p1)).map((r) => r[1]),
      ['a', 'b', 'c', 'd', 'e'],
    )
    assert.deepEqual(
      (await names(p2)).map((r) => r[1]),
      ['f', 'e', 'd', 'c', 'b'],
    )
  })

  it('keeps projects apart', async () => {
    const p1 = await project()
    const p2 = await project()
    await register(database.db, p1, 'x', T)
    assert.equal((await register(database.db, p2, 'y', T)).group_type_index, 0)
    assert.deepEqual(await names(p2), [[0, 'y']])
  })

  it('converges under concurrent registration: one row per name, unique indexes, at most 5 (#59)', async () => {
    for (let round = 0; round < 5; round++) {
      const p = await project()
      const pool = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta']
      const calls = Array.from({ length: 60 }, (_, i) =>
        register(database.db, p, pool[(i * 3 + round) % pool.length] as string, T),
      )
      const results = await Promise.all(calls)
      const rows = await listGroupTypes(database.db, p)
      assert.equal(rows.length, 5)
      assert.equal(new Set(rows.map((r) => r.group_type)).size, 5)
      assert.deepEqual(
        rows.map((r) => r.group_type_index),
        [0, 1, 2, 3, 4],
      )
      const byName = new Map(rows.map((r) => [r.group_type, r.group_type_index]))
      for (const r of results) {
        if (r.group_type_index !== null) assert.equal(byName.get(r.group_type), r.group_type_index)
        else assert.ok(!byName.has(r.group_type))
      }
    }
  })

  it('converges across separate connections and processes', async () => {
    const p = await project()
    // A second handle on the same database (its own pool or SQLite connection), plus child processes.
    const second =
      ENGINE === 'postgres'
        ? Database.postgres(testDb.env.DATABASE_URL as string)
        : Database.sqlite(testDb.env.GROUPD_DATA_DIR as string)
    const pool = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8']
    const children = [0, 1, 2].map(
      (c) =>
        new Promise<number>((resolve, reject) => {
          const args = ['group-types', 'add', '--project', String(p), '--json']
          for (let i = 0; i < pool.length; i++) args.push('--name', pool[(i + c * 3) % pool.length] as string)
          const child = spawn('bin/groupd', args, {
            env: { ...process.env, ...testDb.env },
            stdio: ['ignore', 'pipe', 'pipe'],
          })
          let stderr = ''
          child.stderr.on('data', (d) => (stderr += d))
          child.on('error', reject)
          child.on('exit', (code) =>
            code === 0 ? resolve(code) : reject(new Error(`exit ${code}: ${stderr}`)),
          )
        }),
    )
    const inProcess = [database, second].flatMap((db) => pool.map((name) => register(db.db, p, name, T)))
    await Promise.all([...children, ...inProcess])
    await second.close()
    const rows = await listGroupTypes(database.db, p)
    assert.equal(rows.length, 5)
    assert.equal(new Set(rows.map((r) => r.group_type)).size, 5)
    assert.deepEqual(
      rows.map((r) => r.group_type_index),
      [0, 1, 2, 3, 4],
    )
  })
})
