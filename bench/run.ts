/**
 * `npm run bench`: groupd's API beside a bare Fastify baseline serving the same JSON from memory,
 * in the same run, on this machine. Reads are driven by wrk (-t2, 32 connections, 10 s each by
 * default), in BENCH_ROUNDS (3) alternations with the baseline whose median ratio is reported;
 * writes and capture by autocannon (they need per-connection state). Every read runs
 * against one groupd process and again with GROUPD_WORKERS=2; groups_types also with many keys,
 * rate limiting off and on. Cold start (serve → /_ready) is measured beside a bare Fastify
 * hello-world's listen, and idle RSS after start.
 * Engines: SQLite always; PostgreSQL when BENCH_DATABASE_URL (default: the local test database)
 * is reachable. Prints a table and a JSON summary (also written to .bench/api.json).
 *
 * Env: BENCH_DURATION (s per scenario, default 10), BENCH_ROUNDS (default 3), BENCH_CONNECTIONS
 * (default 32), BENCH_ENGINES (sqlite,postgres).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import autocannon from 'autocannon'
import type { Database } from '../src/db/database.ts'
import { uuidv7 } from '../src/db/ids.ts'
import type { EventsTable } from '../src/db/schema.ts'
import { coldStart, idleRssMb } from './cold-start.ts'
import {
  captureBatch,
  contextId,
  createMetric,
  EVENTS_PER_BATCH,
  freePort,
  groupsBatch,
  median,
  mintKeys,
  openDatabase,
  openExisting,
  PG_URL,
  postgresReachable,
  seed,
  spawnServer,
  waitReady,
} from './lib.ts'
import { type WrkResult, wrk } from './wrk.ts'

const DURATION = Number(process.env.BENCH_DURATION ?? 10)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32)

interface Scenario {
  name: string
  requests: autocannon.Request[]
  baseline: autocannon.Request[]
}

type Result = WrkResult

interface ReadScenario {
  name: string
  path: string
  baseline: string
}

/** Keys the rate-limit scenario rotates through: 480/min each stays far above what one key gets. */
const RATE_LIMIT_KEYS = 1000

function readScenarios(projectId: number, metricId: string): ReadScenario[] {
  const gt = `/api/projects/${projectId}/groups_types`
  const metrics = `${gt}/0/metrics`
  return [
    { name: 'GET groups_types (5 types)', path: `${gt}/`, baseline: '/group_types' },
    { name: 'GET metrics (limit 20 of 50)', path: `${metrics}/?limit=20`, baseline: '/metrics' },
    { name: 'GET metric', path: `${metrics}/${metricId}/`, baseline: '/metric' },
    {
      name: 'GET groups (list, 20 groups)',
      path: `/api/projects/${projectId}/groups/?group_type_index=0`,
      baseline: '/groups',
    },
    {
      name: 'GET groups/find',
      path: `/api/projects/${projectId}/groups/find/?group_type_index=0&group_key=acme-1`,
      baseline: '/group',
    },
  ]
}

/** Alternations of baseline and groupd per read scenario (BENCH_ROUNDS), DURATION split between them. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)

interface Paired {
  groupd: Result
  baseline: Result
  /** Median over the rounds of groupd's req/s over the baseline's in the same round. */
  ratio: number
}

const medianRun = (runs: Result[]) =>
  [...runs].sort((a, b) => a.reqPerSec - b.reqPerSec)[Math.floor(runs.length / 2)] as Result

/**
 * A read scenario against the bare baseline and against groupd, alternately, ROUNDS times: the
 * machine's speed drifts by tens of percent over minutes here (other tenants), and a drift then
 * moves both sides of each round's ratio alike.
 */
async function paired(
  bare: string,
  barePath: string,
  url: string,
  path: string,
  authorizations: string[],
): Promise<Paired> {
  const durationS = Math.max(1, Math.round(DURATION / ROUNDS))
  const groupd: Result[] = []
  const baseline: Result[] = []
  const ratios: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    const b = await wrk(bare, { path: barePath }, { connections: CONNECTIONS, durationS })
    const g = await wrk(url, { path, authorizations }, { connections: CONNECTIONS, durationS })
    baseline.push(b)
    groupd.push(g)
    ratios.push(g.reqPerSec / b.reqPerSec)
  }
  return { groupd: medianRun(groupd), baseline: medianRun(baseline), ratio: median(ratios) }
}

/**
 * Steady state before measuring: every read path for a second (JIT, caches), and one request per
 * key of the many-keys scenario (its first use is a lookup and an hourly last_used_at write).
 */
async function warmUp(base: string, reads: ReadScenario[], key: string, manyKeys: string[]) {
  for (const r of reads)
    await wrk(
      base,
      { path: r.path, authorizations: [`Bearer ${key}`] },
      { connections: CONNECTIONS, durationS: 1 },
    )
  const path = reads[0]?.path as string
  for (let i = 0; i < manyKeys.length; i += 50) {
    await Promise.all(
      manyKeys.slice(i, i + 50).map(async (authorization) => {
        const res = await fetch(`${base}${path}`, { headers: { authorization } })
        await res.arrayBuffer()
      }),
    )
  }
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

function writeScenarios(projectId: number): Scenario[] {
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
      name: 'PATCH update_metadata (2 rows)',
      requests: [{ method: 'PATCH', path: `${gt}/update_metadata/`, headers: json, body: metadata }],
      baseline: [{ method: 'PATCH', path: '/group_types', headers: json, body: metadata }],
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

interface Server {
  base: string
  stop(): Promise<void>
  pid: number
}

async function startGroupd(env: Record<string, string>, extra: Record<string, string>): Promise<Server> {
  const port = await freePort()
  const child = spawnServer(['bin/groupd', 'serve'], {
    ...env,
    PORT: String(port),
    GROUPD_LOG_LEVEL: 'warn',
    GROUPD_RATE_LIMIT: 'off',
    ...extra,
  })
  const base = `http://127.0.0.1:${port}`
  await waitReady(child, `${base}/_ready`)
  return {
    base,
    pid: child.pid as number,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      await new Promise((r) => child.once('exit', r))
    },
  }
}

function row(
  engine: string,
  workers: number,
  scenario: string,
  r: Result,
  b: Result | undefined,
  ratio = b ? r.reqPerSec / b.reqPerSec : undefined,
) {
  return {
    engine,
    workers,
    scenario,
    req_per_sec: r.reqPerSec,
    p50_ms: r.p50,
    p99_ms: r.p99,
    errors: r.errors,
    non_2xx: r.non2xx,
    baseline_req_per_sec: b?.reqPerSec,
    ratio_vs_baseline: ratio === undefined ? undefined : Number(ratio.toFixed(3)),
  }
}

async function main() {
  const engines = (process.env.BENCH_ENGINES ?? 'sqlite,postgres').split(',')
  const pgOk = await postgresReachable()
  const rows: Record<string, unknown>[] = []
  const starts: Record<string, unknown>[] = []
  // The bare baseline, started with the first engine's fixtures and kept until the end.
  let bare: { url: string; writes: Record<string, Result>; stop: () => void } | undefined
  try {
    for (const engine of engines) {
      if (engine === 'postgres' && !pgOk) {
        console.error(`postgres: skipped (not reachable at ${PG_URL})`)
        continue
      }
      const { database, env, cleanup } = await openDatabase(engine)
      const { projectId, key, token } = await seed(database)
      const manyKeys = (await mintKeys(database, RATE_LIMIT_KEYS)).map((k) => `Bearer ${k}`)
      await database.close()
      const cold = await coldStart(env)
      starts.push({ engine, ...cold })
      console.error(`${engine.padEnd(8)}  cold start: ${JSON.stringify(cold)}`)

      let server = await startGroupd(env, {})
      try {
        await new Promise((r) => setTimeout(r, 1000))
        const rssMb = idleRssMb(server.pid)
        starts.push({ engine, idle_rss_mb: rssMb })
        console.error(`${engine.padEnd(8)}  idle RSS: ${rssMb} MB`)
        const base = server.base
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
        await fetch(`${base}/batch/`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: groupsBatch(token),
        })
        const reads = readScenarios(projectId, metricId)
        const fixture = async (path: string) => (await fetch(`${base}${path}`, { headers: auth })).json()
        const fixtures = {
          groupTypes: await fixture(reads[0]?.path as string),
          metricsPage: await fixture(reads[1]?.path as string),
          metric: await fixture(reads[2]?.path as string),
          groups: await fixture(reads[3]?.path as string),
          group: await fixture(reads[4]?.path as string),
        }
        if (!bare) {
          const fixturesFile = path.join(os.tmpdir(), `groupd-bench-fixtures-${process.pid}.json`)
          fs.writeFileSync(fixturesFile, JSON.stringify(fixtures))
          const bport = await freePort()
          const child = spawnServer(
            ['--import', 'tsx', 'bench/baseline-server.ts', fixturesFile, String(bport)],
            {},
          )
          const url = `http://127.0.0.1:${bport}`
          bare = { url, writes: {}, stop: () => child.kill() }
          await waitReady(child, `${url}/metric`)
          for (const r of reads)
            await wrk(url, { path: r.baseline }, { connections: CONNECTIONS, durationS: 1 })
          for (const w of writeScenarios(projectId)) {
            bare.writes[w.name] = await load(url, w.baseline, {})
            console.error(`baseline  ${w.name}: ${bare.writes[w.name]?.reqPerSec} req/s`)
          }
        }
        const { url: bareUrl, writes } = bare
        const report = (workers: number, name: string, r: Result, b: Result | undefined, ratio?: number) => {
          rows.push(row(engine, workers, name, r, b, ratio))
          console.error(
            `${engine.padEnd(8)}  w${workers} ${name}: ${r.reqPerSec} req/s` +
              (b
                ? ` (baseline ${b.reqPerSec}, ratio ${(ratio ?? r.reqPerSec / b.reqPerSec).toFixed(2)})`
                : ''),
          )
        }
        const reportReads = async (
          workers: number,
          url: string,
          list: ReadScenario[],
          auths: string[],
          label = '',
        ) => {
          for (const r of list) {
            const p = await paired(bareUrl, r.baseline, url, r.path, auths)
            report(workers, `${r.name}${label}`, p.groupd, p.baseline, p.ratio)
          }
        }
        await warmUp(base, reads, key, manyKeys)
        await reportReads(1, base, reads, [`Bearer ${key}`])
        const gt = reads[0] as ReadScenario
        await reportReads(1, base, [gt], manyKeys, `, ${RATE_LIMIT_KEYS} keys, rate limit off`)
        for (const w of writeScenarios(projectId))
          report(1, w.name, await load(base, w.requests, auth), writes[w.name])

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
        await server.stop()

        server = await startGroupd(env, { GROUPD_RATE_LIMIT: 'on' })
        await warmUp(server.base, [gt], key, manyKeys)
        await reportReads(1, server.base, [gt], manyKeys, `, ${RATE_LIMIT_KEYS} keys, rate limit on`)
        await server.stop()

        server = await startGroupd(env, { GROUPD_WORKERS: '2' })
        await warmUp(server.base, reads, key, manyKeys)
        await reportReads(2, server.base, reads, [`Bearer ${key}`])

        const direct = await openExisting(env)
        const baselineEventsPerSec = await storageBaseline(direct, projectId)
        await direct.close()
        console.error(`${engine.padEnd(8)}  storage baseline: ${baselineEventsPerSec} events/s`)
        rows.push({
          engine,
          workers: 1,
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
        await server.stop()
        await cleanup()
      }
    }
  } finally {
    bare?.stop()
  }
  console.table(rows)
  console.table(starts)
  const summary = {
    connections: CONNECTIONS,
    duration_s: DURATION,
    cpus: os.cpus().length,
    node: process.version,
    load_generators: { reads: 'wrk -t2', writes_and_capture: 'autocannon' },
    results: rows,
    start: starts,
  }
  fs.mkdirSync('.bench', { recursive: true })
  fs.writeFileSync('.bench/api.json', `${JSON.stringify(summary, null, 2)}\n`)
  console.log(JSON.stringify(summary))
}

await main()
