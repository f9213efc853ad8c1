/**
 * GROUPD_WORKERS=2: both workers serve one port, a killed worker is replaced without the port
 * going away, and SIGTERM drains both (an in-flight request on each finishes) before exit 0.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import http from 'node:http'
import { after, before, describe, it } from 'node:test'
import { migrate } from '../src/db/migrate.ts'
import { createTenant, openTestDatabase, type TestDatabase } from './helpers/harness.ts'
import { type ServerProcess, startServerProcess } from './helpers/processes.ts'

function workerPids(primary: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(primary)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number)
  } catch {
    return [] // pgrep exits 1 when there are none
  }
}

async function until<T>(what: string, probe: () => T | undefined, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** GET on a new connection (a pooled one may be to the worker just killed). */
function freshGet(url: string, key: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false, headers: { authorization: `Bearer ${key}` } }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      })
      .on('error', reject)
      .setTimeout(5_000, function (this: http.ClientRequest) {
        this.destroy(new Error(`GET ${url} timed out`))
      })
  })
}

/** A request whose body is held back after the headers, so it stays in flight until finish(). */
function heldRequest(url: string, headers: Record<string, string>, body: string) {
  let finish = () => {}
  const response = new Promise<number>((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'POST', headers: { ...headers, 'content-length': String(body.length) } },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      },
    )
    req.on('error', reject)
    req.write(body.slice(0, 10))
    finish = () => req.end(body.slice(10))
  })
  return { response, finish: () => finish() }
}

describe('GROUPD_WORKERS=2', () => {
  let testDb: TestDatabase
  let server: ServerProcess

  before(async () => {
    testDb = await openTestDatabase()
    await migrate(testDb.database)
    server = await startServerProcess({ ...testDb.env, GROUPD_WORKERS: '2', GROUPD_LOG_LEVEL: 'info' })
  })
  after(async () => {
    await server?.stop()
    await testDb.cleanup()
  })

  it('runs two workers that both serve; a killed worker is replaced and the port stays up', async () => {
    const primary = server.child.pid as number
    const listening = (pid: number) =>
      until(`worker ${pid} to listen`, () => server.stderr().includes(`worker ${pid} listening`) || undefined)
    const [first, second] = await until('two workers', () => {
      const pids = workerPids(primary)
      return pids.length === 2 ? pids : undefined
    })
    await Promise.all([listening(first as number), listening(second as number)])
    const seen = new Set([first, second])
    const t = await createTenant(testDb.database)
    const path = `/api/projects/${t.project.id}/groups_types/`
    const burst = await Promise.all(Array.from({ length: 20 }, () => freshGet(server.url + path, t.key)))
    assert.deepEqual(burst, Array(20).fill(200))

    for (const victim of [first, second]) {
      process.kill(victim as number, 'SIGKILL')
      // Connections the primary handed to the worker as it died are lost with it (as in any crash);
      // once the primary has seen the exit, the survivor serves while the replacement starts.
      await until(
        'the primary to see the exit',
        () => server.stderr().includes(`worker ${victim} exited (SIGKILL)`) || undefined,
      )
      for (let i = 0; i < 10; i++) assert.equal(await freshGet(server.url + path, t.key), 200)
      const replacement = await until('a replacement worker', () =>
        workerPids(primary).find((pid) => !seen.has(pid)),
      )
      seen.add(replacement)
      await listening(replacement)
    }
    // Both original workers are gone, so these are served by the two replacements.
    const after = await Promise.all(Array.from({ length: 4 }, () => freshGet(server.url + path, t.key)))
    assert.deepEqual(after, Array(4).fill(200))
  })

  it('SIGTERM drains in-flight requests on both workers, then exits 0', async () => {
    const t = await createTenant(testDb.database)
    const workers = workerPids(server.child.pid as number)
    assert.equal(workers.length, 2)
    // Cluster hands connections out round robin: 6 held requests reach both workers.
    const held = Array.from({ length: 6 }, () =>
      heldRequest(
        `${server.url}/api/projects/${t.project.id}/groups_types/0/metrics/`,
        { authorization: `Bearer ${t.key}`, 'content-type': 'application/json' },
        JSON.stringify({ name: `m ${Math.random()}`, filters: {} }),
      ),
    )
    await new Promise((resolve) => setTimeout(resolve, 300))
    server.child.kill('SIGTERM')
    await new Promise((resolve) => setTimeout(resolve, 300))
    for (const pid of workers) assert.doesNotThrow(() => process.kill(pid, 0), 'worker still draining')
    for (const h of held) h.finish()
    const statuses = await Promise.all(held.map((h) => h.response))
    assert.deepEqual(statuses, Array(6).fill(201))
    assert.equal(await server.exited, 0, server.stderr())
    for (const pid of workers) assert.throws(() => process.kill(pid, 0), 'worker exited')
    await assert.rejects(fetch(`${server.url}/_health`))
  })
})

describe('GROUPD_WORKERS with GROUPD_LOG_LEVEL', () => {
  it("the supervisor's own lines follow the level, in pino's shape", async () => {
    const testDb = await openTestDatabase()
    try {
      await migrate(testDb.database)
      for (const level of ['silent', 'info']) {
        const server = await startServerProcess({
          ...testDb.env,
          GROUPD_WORKERS: '2',
          GROUPD_LOG_LEVEL: level,
        })
        const primary = server.child.pid as number
        await until('both workers', () => (workerPids(primary).length === 2 ? true : undefined))
        if (level === 'info')
          await until('a listening line', () => server.stderr().includes('listening') || undefined)
        server.child.kill('SIGTERM')
        assert.equal(await server.exited, 0, server.stderr())
        const lines = server
          .stderr()
          .split('\n')
          .filter((l) => l.includes(`"pid":${primary}`))
        if (level === 'silent') assert.deepEqual(lines, [], server.stderr())
        else assert.ok(lines.length > 0 && lines.every((l) => JSON.parse(l).level === 30), server.stderr())
      }
    } finally {
      await testDb.cleanup()
    }
  })
})
