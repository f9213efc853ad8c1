/**
 * `npm run bench`: groupd's API under autocannon (32 connections, 10 s each by default) beside a
 * bare Fastify baseline serving the same JSON from memory, in the same run, on this machine.
 * Engines: SQLite always; PostgreSQL when BENCH_DATABASE_URL (default: the local test database)
 * is reachable. Prints a table and a JSON summary (also written to .bench/api.json).
 *
 * Env: BENCH_DURATION (s, default 10), BENCH_CONNECTIONS (default 32), BENCH_ENGINES (sqlite,postgres).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import autocannon from 'autocannon'
import type { Database } from '../src/db/database.ts'
import { uuidv7 } from '../src/db/ids.ts'
import type { EventsTable } from '../src/db/schema.ts'
import {
  captureBatch,
  contextId,
  createMetric,
  EVENTS_PER_BATCH,
  freePort,
  openDatabase,
  openExisting,
  PG_URL,
  postgresReachable,
  seed,
  spawnServer,
  waitReady,
} from './lib.ts'

const DURATION = Number(process.env.BENCH_DURATION ?? 10)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32)

interface Scenario {
  name: string
  requests: autocannon.Request[]
  baseline: autocannon.Request[]
}

interface Result {
  reqPerSec: number
  p50: number
  p99: number
  errors: number
  non2xx: number
}

async function load(
  url: string,
  requests: autocannon.Request[],
  headers: Record<string, string>,
): Promise<Result> {
  const r = await autocannon({ url, connections: CONNECTIONS, duration: DURATION, headers, requests })
  return {
    reqPerSec: Math.round(r.requests.average),
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors,
    non2xx: r.non2xx,
  }
}

function scenarios(projectId: number, metricId: string): Scenario[] {
  const gt = `/api/projects/${projectId}/groups_types`
  const metrics = `${gt}/0/metrics`
  const json = { 'content-type': 'application/json' }
  const metadata = JSON.stringify([
    { group_type_index: 0, name_singular: 'Company', name_plural: 'Companies' },
    { group_type_index: 1, name_singular: 'Workspace', name_plural: 'Workspaces' },
  ])
  const createDelete = (path: string): autocannon.Request[] => [
    createMetric(path, 'bench'),
    { method: 'DELETE', setupRequest: (req, context) => ({ ...req, path: `${path}${contextId(context)}/` }) },
  ]
  return [
    {
      name: 'GET groups_types (5 types)',
      requests: [{ method: 'GET', path: `${gt}/` }],
      baseline: [{ method: 'GET', path: '/group_types' }],
    },
    {
      name: 'PATCH update_metadata (2 rows)',
      requests: [{ method: 'PATCH', path: `${gt}/update_metadata/`, headers: json, body: metadata }],
      baseline: [{ method: 'PATCH', path: '/group_types', headers: json, body: metadata }],
    },
    {
      name: 'GET metrics (limit 20 of 50)',
      requests: [{ method: 'GET', path: `${metrics}/?limit=20` }],
      baseline: [{ method: 'GET', path: '/metrics' }],
    },
    {
      name: 'GET metric',
      requests: [{ method: 'GET', path: `${metrics}/${metricId}/` }],
      baseline: [{ method: 'GET', path: '/metric' }],
    },
    {
      name: 'POST+DELETE metric pairs',
      requests: createDelete(`${metrics}/`),
      baseline: [
        { method: 'POST', path: '/metric', headers: json, body: '{"name":"x","filters":{}}' },
        { method: 'DELETE', path: '/metric' },
      ],
    },
  ]
}

/**
 * The storage baseline: the same 100 rows per batch inserted straight through Kysely, one
 * transaction per batch, for the same duration, with 4 batches in flight.
 */
async function storageBaseline(database: Database, projectId: number): Promise<number> {
  const deadline = Date.now() + DURATION * 1000
  let batches = 0
  const worker = async () => {
    while (Date.now() < deadline) {
      const now = new Date().toISOString()
      const rows: EventsTable[] = Array.from({ length: EVENTS_PER_BATCH }, (_, i) => ({
        project_id: projectId,
        uuid: uuidv7(),
        event: 'report viewed',
        distinct_id: `user-${i % 10}`,
        properties: JSON.stringify({
          $groups: { company: `acme-${i % 7}`, workspace: `ws-${i % 3}` },
          $browser: 'Firefox',
          i,
          $group_0: `acme-${i % 7}`,
          $group_1: `ws-${i % 3}`,
        }),
        timestamp: now,
        created_at: now,
        group_0: `acme-${i % 7}`,
        group_1: `ws-${i % 3}`,
        group_2: null,
        group_3: null,
        group_4: null,
      }))
      await database.transaction((tx) => tx.insertInto('events').values(rows).execute())
      batches++
    }
  }
  await Promise.all([worker(), worker(), worker(), worker()])
  return Math.round((batches * EVENTS_PER_BATCH) / DURATION)
}

async function main() {
  const engines = (process.env.BENCH_ENGINES ?? 'sqlite,postgres').split(',')
  const pgOk = await postgresReachable()
  const rows: Record<string, unknown>[] = []
  let baselineDone: Record<string, Result> | undefined
  for (const engine of engines) {
    if (engine === 'postgres' && !pgOk) {
      console.error(`postgres: skipped (not reachable at ${PG_URL})`)
      continue
    }
    const { database, env, cleanup } = await openDatabase(engine)
    const { projectId, key, token } = await seed(database)
    await database.close()
    const port = await freePort()
    const server = spawnServer(['bin/groupd', 'serve'], {
      ...env,
      PORT: String(port),
      GROUPD_LOG_LEVEL: 'warn',
      GROUPD_RATE_LIMIT: 'off',
    })
    const base = `http://127.0.0.1:${port}`
    try {
      await waitReady(server, `${base}/_ready`)
      const auth = { authorization: `Bearer ${key}` }
      const metricsPath = `${base}/api/projects/${projectId}/groups_types/0/metrics/`
      let metricId = ''
      for (let i = 0; i < 50; i++) {
        const res = await fetch(metricsPath, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify({
            name: `seed ${i}`,
            filters: { events: [{ id: '$pageview', type: 'events' }] },
          }),
        })
        metricId ||= (await res.json()).id
      }
      const fixtures = {
        groupTypes: await (
          await fetch(`${base}/api/projects/${projectId}/groups_types/`, { headers: auth })
        ).json(),
        metricsPage: await (await fetch(`${metricsPath}?limit=20`, { headers: auth })).json(),
        metric: await (await fetch(`${metricsPath}${metricId}/`, { headers: auth })).json(),
      }
      if (!baselineDone) {
        baselineDone = {}
        const fixturesFile = path.join(os.tmpdir(), `groupd-bench-fixtures-${process.pid}.json`)
        fs.writeFileSync(fixturesFile, JSON.stringify(fixtures))
        const bport = await freePort()
        const baseline = spawnServer(
          ['--import', 'tsx', 'bench/baseline-server.ts', fixturesFile, String(bport)],
          {},
        )
        try {
          await waitReady(baseline, `http://127.0.0.1:${bport}/metric`)
          for (const s of scenarios(projectId, metricId)) {
            baselineDone[s.name] = await load(`http://127.0.0.1:${bport}`, s.baseline, {})
            console.error(`baseline  ${s.name}: ${baselineDone[s.name]?.reqPerSec} req/s`)
          }
        } finally {
          baseline.kill()
        }
      }
      for (const s of scenarios(projectId, metricId)) {
        const result = await load(base, s.requests, auth)
        const b = baselineDone[s.name] as Result
        console.error(`${engine.padEnd(8)}  ${s.name}: ${result.reqPerSec} req/s`)
        rows.push({
          engine,
          scenario: s.name,
          req_per_sec: result.reqPerSec,
          p50_ms: result.p50,
          p99_ms: result.p99,
          errors: result.errors,
          non_2xx: result.non2xx,
          baseline_req_per_sec: b.reqPerSec,
          baseline_p99_ms: b.p99,
          ratio_vs_baseline: Number((result.reqPerSec / b.reqPerSec).toFixed(3)),
        })
      }
      const capture = await load(
        base,
        [
          {
            method: 'POST',
            path: '/batch/',
            headers: { 'content-type': 'application/json' },
            body: captureBatch(token),
          },
        ],
        {},
      )
      const captureEventsPerSec = capture.reqPerSec * EVENTS_PER_BATCH
      console.error(`${engine.padEnd(8)}  capture: ${captureEventsPerSec} events/s`)
      const direct = await openExisting(env)
      const baselineEventsPerSec = await storageBaseline(direct, projectId)
      await direct.close()
      console.error(`${engine.padEnd(8)}  storage baseline: ${baselineEventsPerSec} events/s`)
      rows.push({
        engine,
        scenario: `POST /batch/ (${EVENTS_PER_BATCH} events with $groups)`,
        req_per_sec: capture.reqPerSec,
        events_per_sec: captureEventsPerSec,
        p50_ms: capture.p50,
        p99_ms: capture.p99,
        errors: capture.errors,
        non_2xx: capture.non2xx,
        baseline_events_per_sec: baselineEventsPerSec,
        ratio_vs_baseline: Number((captureEventsPerSec / baselineEventsPerSec).toFixed(3)),
      })
    } finally {
      server.kill('SIGTERM')
      await new Promise((r) => server.once('exit', r))
      await cleanup()
    }
  }
  console.table(rows)
  const summary = {
    connections: CONNECTIONS,
    duration_s: DURATION,
    cpus: os.cpus().length,
    node: process.version,
    results: rows,
  }
  fs.mkdirSync('.bench', { recursive: true })
  fs.writeFileSync('.bench/api.json', `${JSON.stringify(summary, null, 2)}\n`)
  console.log(JSON.stringify(summary))
}

await main()
