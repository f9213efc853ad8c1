/**
 * No query stalls the others, and none runs forever: on the embedded engine long reads run in
 * the read pool's threads, so a request that arrives during one is answered first; past
 * GROUPD_QUERY_TIMEOUT_MS a query is answered 504 in PostHog's envelope (the pool's deadline on
 * SQLite, statement_timeout on PostgreSQL) and the next query runs as usual.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import {
  client,
  createTenant,
  ENGINE,
  envelope,
  startServer,
  type Tenant,
  type TestServer,
} from './helpers/harness.ts'

/** Enough groups that sorting all of them by a property takes far longer than the timeout below. */
const GROUPS = 300_000

async function seed(server: TestServer, t: Tenant): Promise<void> {
  const db = server.database.db
  if (ENGINE === 'postgres') {
    // Not this database's 100 ms statement timeout: the loading is no query under test.
    await server.database.transaction(async (tx) => {
      await sql`SET LOCAL statement_timeout = 0`.execute(tx)
      await sql`
      INSERT INTO groups (project_id, group_type_index, group_key, group_properties, created_at, updated_at, display_fold, key_fold)
      SELECT ${t.project.id}, 0, 'g' || i, jsonb_build_object('n', i, 'name', 'Group ' || i), now(), now(), 'group ' || i, 'g' || i
      FROM generate_series(1, ${GROUPS}) i`.execute(tx)
      await sql`ANALYZE groups`.execute(tx)
    })
    return
  }
  await sql`
    WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ${GROUPS})
    INSERT INTO groups (project_id, group_type_index, group_key, group_properties, created_at, updated_at, display_fold, key_fold)
    SELECT ${t.project.id}, 0, 'g' || i, json_object('n', i, 'name', 'Group ' || i), '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 'group ' || i, 'g' || i
    FROM s`.execute(db)
}

const slowQuery = {
  kind: 'GroupsQuery',
  group_type_index: 0,
  select: ['key'],
  orderBy: ['properties.n DESC'],
  limit: 1,
}

describe('query timeout and the read pool', () => {
  let server: TestServer
  let t: Tenant
  before(async () => {
    server = await startServer({ queryTimeoutMs: 100 })
    t = await createTenant(server.database)
    await seed(server, t)
  })
  after(() => server.close())

  it('answers a query past its deadline with 504 in PostHog’s envelope, then runs the next', async () => {
    const api = client(server.url, t.key)
    const path = `/api/projects/${t.project.id}/query/`
    const slow = await api.post(path, { body: { query: slowQuery } })
    assert.equal(slow.status, 504, slow.text)
    assert.deepEqual(
      slow.body,
      envelope(
        'server_error',
        'timeout',
        'The query took too long and was stopped. Narrow it (a search, filters, a smaller page) and try again.',
      ),
    )
    const fast = await api.post(path, {
      body: { query: { kind: 'GroupsQuery', group_type_index: 0, limit: 1 } },
    })
    assert.equal(fast.status, 200, fast.text)
    assert.equal(fast.body.results.length, 1)
  })
})

describe('a long read does not hold other requests', () => {
  let server: TestServer
  let t: Tenant
  before(async () => {
    server = await startServer()
    t = await createTenant(server.database)
    await seed(server, t)
  })
  after(() => server.close())

  it('a find and a first page asked during a full sort are answered before it', async () => {
    const api = client(server.url, t.key)
    const done: string[] = []
    const track = <T>(name: string, p: Promise<T>) =>
      p.then((r) => {
        done.push(name)
        return r
      })
    const slow = track(
      'sort',
      api.post(`/api/projects/${t.project.id}/query/`, { body: { query: slowQuery } }),
    )
    await new Promise((r) => setTimeout(r, 20))
    const find = track(
      'find',
      api.get(`/api/projects/${t.project.id}/groups/find/?group_type_index=0&group_key=g7`),
    )
    const page = track('page', api.get(`/api/projects/${t.project.id}/groups/?group_type_index=0`))
    const [s, f, p] = await Promise.all([slow, find, page])
    assert.equal(s.status, 200, s.text)
    assert.deepEqual(s.body.results, [[`g${GROUPS}`]])
    assert.equal(f.status, 200)
    assert.equal(p.status, 200)
    assert.equal(done.at(-1), 'sort', `answered in the order ${done.join(', ')}`)
  })
})
