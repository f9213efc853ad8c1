/**
 * groupd as processes: migrations run once however many processes start at once, SIGTERM drains
 * in-flight requests, and (embedded engine) several processes share one data directory safely.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it, type TestContext } from 'node:test'
import { Database } from '../src/db/database.ts'
import { migrate } from '../src/db/migrate.ts'
import { migrations } from '../src/db/migrations/index.ts'
import { listPersonalApiKeys } from '../src/tenancy/keys.ts'
import {
  createTenant,
  ENGINE,
  envelope,
  mintKey,
  openTestDatabase,
  request,
  type TestDatabase,
  unique,
} from './helpers/harness.ts'
import { groupd, type Run, type ServerProcess, startServerProcess } from './helpers/processes.ts'

const MIGRATION_NAMES = migrations.map((m) => m.name)

function parseJson(run: Run): any {
  assert.equal(run.code, 0, `exit ${run.code}: ${run.stderr}`)
  const lines = run.stdout.trimEnd().split('\n')
  assert.equal(lines.length, 1, run.stdout)
  return JSON.parse(lines[0] as string)
}

/** Every child server a test started, so a failing test does not leave one running. */
const servers: ServerProcess[] = []
async function spawnServer(env: Record<string, string>): Promise<ServerProcess> {
  const server = await startServerProcess(env)
  servers.push(server)
  return server
}
after(() => {
  for (const server of servers) if (server.child.exitCode === null) server.child.kill('SIGKILL')
})

/** Server log lines that mean a write lost a lock race or a request failed. */
const TROUBLE = /SQLITE_BUSY|database is locked|request failed|update failed|"level":(50|60)/

describe('migrations', () => {
  it('migrate() applies every migration, then nothing', async () => {
    const testDb = await openTestDatabase()
    try {
      assert.deepEqual(await migrate(testDb.database), MIGRATION_NAMES)
      assert.deepEqual(await migrate(testDb.database), [])
      const rows = await testDb.database.db.selectFrom('groupd_migrations').select('name').execute()
      assert.deepEqual(rows.map((r) => r.name).sort(), [...MIGRATION_NAMES].sort())
    } finally {
      await testDb.cleanup()
    }
  })

  it('two `groupd migrate` processes started at once on a fresh database apply each migration once', async () => {
    // SQLite: a data directory that does not exist yet, so both processes also race to create it.
    const sqliteDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'groupd-race-')), 'data')
    const testDb = ENGINE === 'postgres' ? await openTestDatabase() : undefined
    const env = testDb?.env ?? { GROUPD_DATA_DIR: sqliteDir }
    try {
      const runs = await Promise.all([groupd(env, 'migrate', '--json'), groupd(env, 'migrate', '--json')])
      const results = runs.map(parseJson)
      for (const result of results) assert.equal(result.engine, ENGINE)
      const applied = results.map((r) => r.applied as string[])
      assert.deepEqual(
        applied.map((a) => a.length).sort(),
        [0, MIGRATION_NAMES.length],
        `applied: ${JSON.stringify(applied)}`,
      )
      assert.deepEqual(applied.flat(), MIGRATION_NAMES)
      const database = testDb?.database ?? Database.sqlite(sqliteDir)
      try {
        const rows = await database.db.selectFrom('groupd_migrations').select('name').execute()
        assert.deepEqual(rows.map((r) => r.name).sort(), [...MIGRATION_NAMES].sort())
        // The schema is usable.
        assert.deepEqual(await migrate(database), [])
        await createTenant(database)
      } finally {
        if (!testDb) await database.close()
      }
    } finally {
      await testDb?.cleanup()
      fs.rmSync(path.dirname(sqliteDir), { recursive: true, force: true })
    }
  })
})

/** Resolves once a new TCP connection to the port is refused (the listener is closed). */
async function untilRefused(port: number): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(false)
      })
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'))
    })
    if (refused) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error(`port ${port} still accepts connections`)
}

describe('graceful shutdown', () => {
  let testDb: TestDatabase

  before(async () => {
    testDb = await openTestDatabase()
    await migrate(testDb.database)
  })
  after(() => testDb.cleanup())

  /**
   * A POST whose body arrives in two halves. The server answers "100 Continue" once it has parsed
   * the headers: from `headersParsed` on the request is in flight, until `finish()` sends the rest.
   */
  function slowPost(url: string, headers: Record<string, string>, body: Buffer) {
    const half = Math.floor(body.length / 2)
    let headersParsed: () => void = () => {}
    let finish: () => void = () => {}
    const parsed = new Promise<void>((resolve) => {
      headersParsed = resolve
    })
    const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request(
        url,
        {
          method: 'POST',
          agent: false,
          headers: { ...headers, 'content-length': String(body.length), expect: '100-continue' },
        },
        (res) => {
          let text = ''
          res.setEncoding('utf8')
          res.on('data', (chunk: string) => {
            text += chunk
          })
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
          res.on('error', reject)
        },
      )
      req.on('error', reject)
      req.on('continue', () => {
        req.write(body.subarray(0, half), () => headersParsed())
      })
      finish = () => req.end(body.subarray(half))
    })
    return { parsed, finish: () => finish(), response }
  }

  /** Sends SIGTERM while `post` is in flight, checks that new connections are refused, then lets it finish. */
  async function terminateDuring(
    server: Awaited<ReturnType<typeof spawnServer>>,
    post: ReturnType<typeof slowPost>,
  ) {
    await post.parsed
    assert.ok(server.child.kill('SIGTERM'))
    await untilRefused(server.port)
    assert.equal(server.child.exitCode, null, 'exited with a request in flight')
    post.finish()
    const res = await post.response
    assert.equal(await server.exited, 0, server.stderr())
    await assert.rejects(fetch(`${server.url}/_health`))
    assert.doesNotMatch(server.stderr(), TROUBLE)
    return res
  }

  it('SIGTERM stops accepting, finishes the in-flight request, and exits 0', async () => {
    const tenant = await createTenant(testDb.database)
    const server = await spawnServer(testDb.env)
    const post = slowPost(
      `${server.url}/api/projects/${tenant.project.id}/`,
      { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json' },
      Buffer.from(JSON.stringify({ name: 'x'.repeat(10_000) })),
    )
    const res = await terminateDuring(server, post)
    assert.equal(res.status, 405, res.text)
    assert.deepEqual(
      JSON.parse(res.text),
      envelope('invalid_request', 'method_not_allowed', 'Method "POST" not allowed.'),
    )
  })

  it('SIGTERM lets an in-flight capture batch finish and stores all of it', async () => {
    const tenant = await createTenant(testDb.database)
    const server = await spawnServer(testDb.env)
    const batch = Array.from({ length: 2_000 }, (_, i) => ({
      event: 'drained',
      distinct_id: `u${i}`,
      properties: { $groups: { company: `c${i % 10}` } },
    }))
    const post = slowPost(
      `${server.url}/batch/`,
      { 'content-type': 'application/json' },
      Buffer.from(JSON.stringify({ api_key: tenant.project.api_token, batch })),
    )
    const res = await terminateDuring(server, post)
    assert.deepEqual([res.status, JSON.parse(res.text)], [200, { status: 1 }])
    const stored = await testDb.database.db
      .selectFrom('events')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('project_id', '=', tenant.project.id)
      .executeTakeFirstOrThrow()
    assert.equal(Number(stored.n), batch.length)
  })

  it('SIGTERM on an idle server exits 0 at once and closes the database cleanly', async () => {
    const tenant = await createTenant(testDb.database)
    const server = await spawnServer(testDb.env)
    const res = await request(server.url, 'GET', `/api/projects/${tenant.project.id}/`, { key: tenant.key })
    assert.equal(res.status, 200, res.text)
    assert.equal(await server.stop(), 0, server.stderr())
    await assert.rejects(fetch(`${server.url}/_health`))
    // The data is intact for the next process.
    const next = await spawnServer(testDb.env)
    const again = await request(next.url, 'GET', `/api/projects/${tenant.project.id}/`, { key: tenant.key })
    assert.deepEqual(again.body, res.body)
    assert.equal(await next.stop(), 0, next.stderr())
  })
})

describe('several processes on one embedded database', { skip: ENGINE !== 'sqlite' }, () => {
  let testDb: TestDatabase

  before(async () => {
    testDb = await openTestDatabase()
    await migrate(testDb.database)
  })
  after(() => testDb.cleanup())

  /**
   * GETs the URLs over and over until stopped (at the latest when the test ends); returns every
   * status seen, 0 for a failed connection.
   */
  function hammer(t: TestContext, urls: string[], key: string): { stop(): Promise<number[]> } {
    let running = true
    const statuses: number[] = []
    const loop = (async () => {
      while (running) {
        const results = await Promise.all(
          urls.map((url) =>
            request(url, 'GET', '/api/projects/', { key }).then(
              (r) => r.status,
              () => 0,
            ),
          ),
        )
        statuses.push(...results)
      }
    })()
    const stop = async () => {
      running = false
      await loop
      return statuses
    }
    t.after(stop)
    return { stop }
  }

  async function lastUsedSet(userId: number, count: number): Promise<void> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const keys = await listPersonalApiKeys(testDb.database.db, userId)
      if (keys.length === count && keys.every((k) => k.last_used_at !== null)) return
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const keys = await listPersonalApiKeys(testDb.database.db, userId)
    assert.fail(`last_used_at missing: ${JSON.stringify(keys.map((k) => [k.id, k.last_used_at]))}`)
  }

  it('the CLI writes while a server process serves; every write is visible to the server', async (t) => {
    const tenant = await createTenant(testDb.database)
    const server = await spawnServer(testDb.env)
    const readers = hammer(t, [server.url, server.url], tenant.key)
    // Meanwhile the server writes too: the first use of each of these keys sets its last_used_at.
    const fresh = await Promise.all(
      Array.from({ length: 30 }, () => mintKey(testDb.database, tenant.user.id, ['project:read'])),
    )
    const firstUses = (async () => {
      const statuses: number[] = []
      for (let i = 0; i < fresh.length; i += 3) {
        const batch = fresh
          .slice(i, i + 3)
          .map((key) => request(server.url, 'GET', '/api/projects/', { key }))
        statuses.push(...(await Promise.all(batch)).map((r) => r.status))
      }
      return statuses
    })()

    const org = parseJson(await groupd(testDb.env, 'orgs', 'create', '--name', unique('cli-org'), '--json'))
    const email = `${unique('cli-user')}@example.com`
    const user = parseJson(
      await groupd(
        testDb.env,
        'users',
        'create',
        '--email',
        email,
        '--org',
        org.id,
        '--level',
        'owner',
        '--json',
      ),
    )
    const project = parseJson(
      await groupd(testDb.env, 'projects', 'create', '--org', org.id, '--name', unique('p'), '--json'),
    )
    const keys: string[] = []
    for (let i = 0; i < 3; i++) {
      const key = parseJson(
        await groupd(testDb.env, 'keys', 'create', '--email', email, '--scopes', '*', '--json'),
      )
      keys.push(key.personal_api_key)
      // Visible to the server at once (and its first use is a write by the server).
      const res = await request(server.url, 'GET', '/api/projects/', { key: key.personal_api_key })
      assert.equal(res.status, 200, res.text)
      assert.deepEqual(
        res.body.results.map((r: { id: number }) => r.id),
        [project.id],
      )
    }

    assert.deepEqual(
      (await firstUses).filter((s) => s !== 200),
      [],
    )
    const statuses = await readers.stop()
    assert.ok(statuses.length > 0)
    assert.deepEqual(
      statuses.filter((s) => s !== 200),
      [],
    )
    await lastUsedSet(user.id, keys.length)
    await lastUsedSet(tenant.user.id, 1 + fresh.length)
    assert.equal(await server.stop(), 0, server.stderr())
    assert.doesNotMatch(server.stderr(), TROUBLE)
  })

  it('two server processes on one data directory both serve, with the CLI writing in between', async (t) => {
    const tenant = await createTenant(testDb.database)
    const [a, b] = await Promise.all([spawnServer(testDb.env), spawnServer(testDb.env)])
    if (!a || !b) throw new Error('servers did not start')
    const readers = hammer(t, [a.url, b.url], tenant.key)

    // Each round: the CLI mints a key while both servers write the last_used_at of a fresh key
    // (its first use); then the CLI's key is used on both servers.
    const fresh = await Promise.all(
      Array.from({ length: 3 }, () => mintKey(testDb.database, tenant.user.id, ['project:read'])),
    )
    const minted: string[] = []
    for (const freshKey of fresh) {
      const firstUses = [a, b].map((s) =>
        request(s.url, 'GET', `/api/projects/${tenant.project.id}/`, { key: freshKey }),
      )
      const created = await groupd(
        testDb.env,
        'keys',
        'create',
        '--email',
        tenant.user.email,
        '--scopes',
        'project:read',
        '--json',
      )
      for (const res of await Promise.all(firstUses)) assert.equal(res.status, 200, res.text)
      const key = parseJson(created).personal_api_key as string
      minted.push(key)
      for (const server of [a, b]) {
        const res = await request(server.url, 'GET', `/api/projects/${tenant.project.id}/`, { key })
        assert.equal(res.status, 200, `${server.url}: ${res.text}`)
      }
    }

    // A burst: first uses of many keys on both servers (two processes writing last_used_at) while
    // four CLI processes mint keys at the same moment.
    const burst = await Promise.all(
      Array.from({ length: 40 }, () => mintKey(testDb.database, tenant.user.id, ['project:read'])),
    )
    const [results, cliRuns] = await Promise.all([
      Promise.all(
        burst.flatMap((key) =>
          [a, b].map((s) => request(s.url, 'GET', `/api/projects/${tenant.project.id}/`, { key })),
        ),
      ),
      Promise.all(
        Array.from({ length: 3 }, () =>
          groupd(
            testDb.env,
            'keys',
            'create',
            '--email',
            tenant.user.email,
            '--scopes',
            'project:read',
            '--json',
          ),
        ),
      ),
    ])
    assert.deepEqual(
      results.map((r) => r.status).filter((s) => s !== 200),
      [],
    )
    for (const run of cliRuns) {
      const key = parseJson(run).personal_api_key as string
      minted.push(key)
      for (const server of [a, b]) {
        const res = await request(server.url, 'GET', `/api/projects/${tenant.project.id}/`, { key })
        assert.equal(res.status, 200, `${server.url}: ${res.text}`)
      }
    }

    const statuses = await readers.stop()
    assert.ok(statuses.length > 0)
    assert.deepEqual(
      statuses.filter((s) => s !== 200),
      [],
    )
    await lastUsedSet(tenant.user.id, 1 + fresh.length + minted.length + burst.length)
    const [codeA, codeB] = await Promise.all([a.stop(), b.stop()])
    assert.equal(codeA, 0, a.stderr())
    assert.equal(codeB, 0, b.stderr())
    assert.doesNotMatch(a.stderr(), TROUBLE)
    assert.doesNotMatch(b.stderr(), TROUBLE)
  })
})
