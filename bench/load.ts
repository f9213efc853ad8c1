/**
 * `npm run bench:load`: 32 connections for 60 s against one groupd on PostgreSQL, mixing reads and
 * writes across the API and capture. Passes when there are 0 errors and 0 non-2xx responses;
 * prints a JSON summary (also written to .bench/load.json).
 *
 * Env: BENCH_LOAD_DURATION (s, default 60), BENCH_CONNECTIONS (default 32), BENCH_ENGINES
 * (default postgres; sqlite also works).
 */
import fs from 'node:fs'
import os from 'node:os'
import autocannon from 'autocannon'
import {
  contextId,
  createMetric,
  freePort,
  openDatabase,
  postgresReachable,
  seed,
  spawnServer,
  waitReady,
} from './lib.ts'

const DURATION = Number(process.env.BENCH_LOAD_DURATION ?? 60)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32)

function mix(projectId: number, token: string): autocannon.Request[] {
  const json = { 'content-type': 'application/json' }
  const gt = `/api/projects/${projectId}/groups_types`
  const metrics = `${gt}/1/metrics`
  let batches = 0
  return [
    { method: 'GET', path: `${gt}/` },
    {
      method: 'POST',
      path: '/batch/',
      headers: json,
      setupRequest: (req) => {
        const first = batches++ // each batch names a different window of 20 of 50 companies
        const batch = Array.from({ length: 20 }, (_, i) => ({
          event: 'load',
          distinct_id: `u${i}`,
          properties: { $groups: { company: `c${(first + i) % 50}` } },
        }))
        return { ...req, body: JSON.stringify({ api_key: token, batch }) }
      },
    },
    { method: 'GET', path: `${metrics}/?limit=20` },
    createMetric(`${metrics}/`, 'load'),
    {
      method: 'PATCH',
      headers: json,
      setupRequest: (req, context) => ({
        ...req,
        path: `${metrics}/${contextId(context)}/`,
        body: JSON.stringify({ interval: 14 }),
      }),
    },
    {
      method: 'PATCH',
      path: `${gt}/update_metadata/`,
      headers: json,
      body: JSON.stringify([{ group_type_index: 0, name_plural: 'Companies' }]),
    },
    { method: 'GET', path: `/api/projects/${projectId}/groups/?group_type_index=0` },
    {
      method: 'DELETE',
      setupRequest: (req, context) => ({ ...req, path: `${metrics}/${contextId(context)}/` }),
    },
  ]
}

async function main() {
  const engines = (process.env.BENCH_ENGINES ?? 'postgres').split(',')
  const results: Record<string, unknown>[] = []
  let failed = false
  for (const engine of engines) {
    if (engine === 'postgres' && !(await postgresReachable())) throw new Error('PostgreSQL is not reachable')
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
    try {
      const url = `http://127.0.0.1:${port}`
      await waitReady(server, `${url}/_ready`)
      const r = await autocannon({
        url,
        connections: CONNECTIONS,
        duration: DURATION,
        headers: { authorization: `Bearer ${key}` },
        requests: mix(projectId, token),
      })
      const summary = {
        engine,
        duration_s: DURATION,
        connections: CONNECTIONS,
        requests: r.requests.total,
        req_per_sec: Math.round(r.requests.average),
        events_per_sec: Math.round((r.requests.average * 20) / 8),
        latency_ms: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
        errors: r.errors,
        timeouts: r.timeouts,
        non_2xx: r.non2xx,
        status_codes: Object.fromEntries(
          Object.entries(r.statusCodeStats ?? {}).map(([code, v]) => [code, v.count]),
        ),
      }
      results.push(summary)
      if (r.errors || r.timeouts || r.non2xx) failed = true
    } finally {
      server.kill('SIGTERM')
      await new Promise((resolve) => server.once('exit', resolve))
      await cleanup()
    }
  }
  const out = { node: process.version, cpus: os.cpus().length, ok: !failed, results }
  fs.mkdirSync('.bench', { recursive: true })
  fs.writeFileSync('.bench/load.json', `${JSON.stringify(out, null, 2)}\n`)
  console.log(JSON.stringify(out))
  if (failed) process.exitCode = 1
}

await main()
