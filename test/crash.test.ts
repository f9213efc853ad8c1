/**
 * Crash durability: writers run against a groupd process that is killed with SIGKILL at random
 * moments and restarted. Every write that got a 2xx must be there afterwards, and the database
 * must open cleanly every time. Cycles: GROUPD_CRASH_CYCLES (default 6).
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import { migrate } from '../src/db/migrate.ts'
import { sendCapture } from './helpers/capture.ts'
import {
  client,
  createTenant,
  ENGINE,
  openTestDatabase,
  type Tenant,
  type TestDatabase,
} from './helpers/harness.ts'
import { type ServerProcess, startServerProcess } from './helpers/processes.ts'

const CYCLES = Number(process.env.GROUPD_CRASH_CYCLES ?? 6)

/** A deterministic PRNG, so a failing run can be replayed with the same kill moments. */
function rng(seed: number) {
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
    return seed / 2 ** 31
  }
}

describe('crash durability', () => {
  let testDb: TestDatabase
  let tenant: Tenant
  before(async () => {
    testDb = await openTestDatabase()
    await migrate(testDb.database)
    tenant = await createTenant(testDb.database)
  })
  after(() => testDb.cleanup())

  it(`keeps every acknowledged write across ${CYCLES} SIGKILLs`, async () => {
    const random = rng(20261126)
    const metricsPath = `/api/projects/${tenant.project.id}/groups_types/0/metrics/`
    /** metric id → the last acknowledged interval, and the one sent after it (maybe applied). */
    const acked = new Map<string, { last: number; inFlight: number | null }>()
    const ackedEvents: string[] = []
    let writes = 0
    let counter = 0
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const server: ServerProcess = await startServerProcess({ ...testDb.env, GROUPD_RATE_LIMIT: 'off' })
      assert.equal((await fetch(`${server.url}/_ready`)).status, 200, `cycle ${cycle}: the database opens`)
      const api = client(server.url, tenant.key)
      let killed = false
      const metricWriter = async () => {
        while (!killed) {
          try {
            const created = await api.post(metricsPath, {
              body: { name: `c${cycle}-${counter++}`, filters: {}, interval: 1 },
            })
            if (created.status !== 201) continue
            acked.set(created.body.id, { last: 1, inFlight: null })
            writes++
            for (let v = 2; v <= 5 && !killed; v++) {
              const entry = acked.get(created.body.id)!
              entry.inFlight = v
              const res = await api.patch(`${metricsPath}${created.body.id}/`, { body: { interval: v } })
              if (res.status === 200) {
                acked.set(created.body.id, { last: v, inFlight: null })
                writes++
              }
            }
          } catch {
            return // the process was killed mid-request
          }
        }
      }
      const captureWriter = async () => {
        while (!killed) {
          const uuids = Array.from({ length: 50 }, () => randomUUID())
          try {
            const res = await sendCapture(server.url, '/batch/', {
              api_key: tenant.project.api_token,
              batch: uuids.map((uuid) => ({
                event: 'x',
                distinct_id: 'u',
                uuid,
                properties: { $groups: { company: 'acme' } },
              })),
            })
            if (res.status === 200) {
              ackedEvents.push(...uuids)
              writes++
            }
          } catch {
            return
          }
        }
      }
      const writers = [metricWriter(), metricWriter(), captureWriter(), captureWriter()]
      await new Promise((r) => setTimeout(r, 150 + random() * 400))
      killed = true
      server.child.kill('SIGKILL')
      await server.exited
      await Promise.all(writers)
    }

    // A last start: everything acknowledged must be there.
    const server = await startServerProcess({ ...testDb.env, GROUPD_RATE_LIMIT: 'off' })
    try {
      const db = testDb.database.db
      const metrics = await db
        .selectFrom('group_usage_metrics')
        .select(['id', 'interval'])
        .where('project_id', '=', tenant.project.id)
        .execute()
      const stored = new Map(metrics.map((m) => [m.id, m.interval]))
      for (const [id, { last, inFlight }] of acked) {
        assert.ok(stored.has(id), `acknowledged metric ${id} is missing`)
        const value = stored.get(id)
        assert.ok(
          value === last || value === inFlight,
          `metric ${id}: interval ${value}, acknowledged ${last}`,
        )
      }
      const events = new Set(
        (
          await db.selectFrom('events').select('uuid').where('project_id', '=', tenant.project.id).execute()
        ).map((e) => e.uuid),
      )
      for (const uuid of ackedEvents) assert.ok(events.has(uuid), `acknowledged event ${uuid} is missing`)
      if (ENGINE === 'sqlite') {
        const check = await sql<{ integrity_check: string }>`pragma integrity_check`.execute(db)
        assert.equal(check.rows[0]?.integrity_check, 'ok')
      }
      assert.ok(acked.size > 0 && ackedEvents.length > 0, 'the writers did write')
      console.log(
        `crash: ${CYCLES} kills survived, ${writes} acknowledged writes checked (${acked.size} metrics, ${ackedEvents.length} events)`,
      )
      assert.equal((await client(server.url, tenant.key).get(metricsPath)).status, 200)
    } finally {
      await server.stop()
    }
  })
})
