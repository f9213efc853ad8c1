/**
 * Database outages on PostgreSQL: while the database is down, requests fail fast with 503
 * `database_unavailable` and Retry-After, /_ready says so, the process stays up, and it recovers by
 * itself. Runs against a throwaway PostgreSQL server so the shared one is never stopped.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Database } from '../src/db/database.ts'
import { migrate } from '../src/db/migrate.ts'
import { sendCapture } from './helpers/capture.ts'
import { client, createTenant, ENGINE, type Tenant } from './helpers/harness.ts'
import { type ServerProcess, startServerProcess } from './helpers/processes.ts'
import {
  type ThrowawayPostgres,
  throwawayPostgres,
  throwawayPostgresAvailable,
} from './helpers/throwaway-postgres.ts'

const skip =
  ENGINE !== 'postgres'
    ? 'PostgreSQL engine only'
    : !throwawayPostgresAvailable()
      ? 'no PostgreSQL server binaries'
      : false

describe('database outage', { skip }, () => {
  let pg: ThrowawayPostgres
  let server: ServerProcess
  let tenant: Tenant
  before(async () => {
    pg = await throwawayPostgres()
    const database = Database.postgres(pg.url)
    await migrate(database)
    tenant = await createTenant(database)
    await database.close()
    server = await startServerProcess({ DATABASE_URL: pg.url, GROUPD_RATE_LIMIT: 'off' })
  })
  after(async () => {
    await server?.stop()
    pg?.destroy()
  })

  it('answers 503 with Retry-After while the database is down, and recovers by itself', async () => {
    const api = client(server.url, tenant.key)
    const path = `/api/projects/${tenant.project.id}/groups_types/`
    assert.equal((await api.get(path)).status, 200)
    assert.equal((await fetch(`${server.url}/_ready`)).status, 200)

    pg.stop()
    for (const res of [await api.get(path), await api.patch(`${path}update_metadata/`, { body: [] })]) {
      assert.equal(res.status, 503)
      assert.deepEqual(
        [res.body.type, res.body.code, res.body.attr],
        ['server_error', 'database_unavailable', null],
      )
      assert.ok(Number(res.headers.get('retry-after')) > 0)
    }
    const capture = await sendCapture(server.url, '/e/', {
      token: tenant.project.api_token,
      event: 'x',
      distinct_id: 'u',
    })
    assert.equal(capture.status, 503)
    const ready = await fetch(`${server.url}/_ready`)
    assert.equal(ready.status, 503)
    assert.equal((await fetch(`${server.url}/_health`)).status, 200, 'the process itself is up')

    pg.start()
    let recovered = false
    for (let i = 0; i < 50 && !recovered; i++) {
      recovered = (await api.get(path)).status === 200
      if (!recovered) await new Promise((r) => setTimeout(r, 100))
    }
    assert.ok(recovered, 'requests succeed again once the database is back')
    assert.equal((await fetch(`${server.url}/_ready`)).status, 200)
  })

  it('survives a database restart under load: only successes and 503s, then full recovery', async () => {
    const api = client(server.url, tenant.key)
    const path = `/api/projects/${tenant.project.id}/groups_types/0/metrics/`
    const statuses = new Map<number, number>()
    let stop = false
    let n = 0
    const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1)
    const worker = async () => {
      while (!stop) {
        const created = await api.post(path, { body: { name: `m${n++}`, filters: {} } })
        count(created.status)
        if (created.status === 201) count((await api.delete(`${path}${created.body.id}/`)).status)
        count((await api.get(path)).status)
      }
    }
    const workers = Array.from({ length: 8 }, worker)
    await new Promise((r) => setTimeout(r, 300))
    pg.stop()
    await new Promise((r) => setTimeout(r, 500))
    pg.start()
    await new Promise((r) => setTimeout(r, 1000))
    stop = true
    await Promise.all(workers)
    assert.equal(server.child.exitCode, null, 'the process did not crash')
    const codes = [...statuses.keys()].sort()
    assert.ok(
      codes.every((c) => [200, 201, 204, 503].includes(c)),
      `unexpected statuses ${JSON.stringify([...statuses])}`,
    )
    assert.ok((statuses.get(503) ?? 0) > 0, 'the outage was seen')
    assert.equal((await api.get(path)).status, 200)
  })
})
