/**
 * `npm run bench` (after the API bench), or alone: `tsx bench/clickhouse.ts`. ClickHouse as the
 * events store, each figure beside a baseline from the same run on this machine:
 * - capture: POST /batch/ (100 events with $groups) under wrk into groupd with ClickHouse, beside a
 *   direct @clickhouse/client insert of the same rows, encoded as groupd encodes them (RowBinary; 100
 *   events per INSERT, 4 in flight) and beside groupd's PostgreSQL capture; BENCH_ROUNDS (3)
 *   alternations of the three, medians reported (the ratios: medians of each round's ratio);
 * - UsageMetricsQuery for the largest group (2% of the events) at 1M and 10M events, each size in
 *   its own database behind its own groupd, requests alternating between sizes over BENCH_ROUNDS:
 *   latency (p50, p95 over BENCH_QUERY_RUNS) and ClickHouse's rows_read, beside PostgreSQL at 1M.
 * Needs a ClickHouse at BENCH_CLICKHOUSE_URL (default GROUPD_TEST_CLICKHOUSE_URL, else
 * http://127.0.0.1:8123) and PostgreSQL (BENCH_DATABASE_URL); skips with a message otherwise.
 * Env: BENCH_DURATION (s, default 10), BENCH_CONNECTIONS (default 32), BENCH_EVENTS (default
 * 1000000,10000000). Writes .bench/clickhouse.json.
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { sql } from 'kysely'
import { clickhouseConfig } from '../src/config.ts'
import type { Database } from '../src/db/database.ts'
import { uuidv7 } from '../src/db/ids.ts'
import { ClickHouse, identifier } from '../src/events/clickhouse.ts'
import { migrateClickHouse } from '../src/events/clickhouse-migrations.ts'
import {
  ClickHouseEventsStore,
  EVENT_COLUMNS,
  EVENTS_TABLE,
  encodeEvents,
} from '../src/events/clickhouse-store.ts'
import { listProjectMetrics } from '../src/group-usage-metrics/store.ts'
import { metricSeries } from '../src/query/usage-metrics.ts'
import {
  captureBatch,
  EVENTS_PER_BATCH,
  freePort,
  median,
  openDatabase,
  postgresReachable,
  seed,
  spawnServer,
  waitReady,
} from './lib.ts'

const DURATION = Number(process.env.BENCH_DURATION ?? 10)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32)
const SIZES = (process.env.BENCH_EVENTS ?? '1000000,10000000').split(',').filter(Boolean).map(Number)
const QUERY_RUNS = Number(process.env.BENCH_QUERY_RUNS ?? 30)
/** Alternations of ClickHouse capture, the direct insert and PostgreSQL capture. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const CLICKHOUSE_URL =
  process.env.BENCH_CLICKHOUSE_URL ?? process.env.GROUPD_TEST_CLICKHOUSE_URL ?? 'http://127.0.0.1:8123'
const DAY_MS = 86_400_000
const LARGEST = 'acme'

type Row = Record<string, string | number | null>

/** wrk (not a Node load generator) posting one body; requests/s and latency percentiles in ms. */
function wrk(url: string, body: string): { reqPerSec: number; p50: number; p99: number; non2xx: number } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'groupd-wrk-'))
  const script = path.join(dir, 'post.lua')
  fs.writeFileSync(path.join(dir, 'body.json'), body)
  fs.writeFileSync(
    script,
    `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n` +
      `local f = io.open("${path.join(dir, 'body.json')}", "rb")\nwrk.body = f:read("*a")\nf:close()\n`,
  )
  const out = execFileSync(
    'wrk',
    ['-t2', `-c${CONNECTIONS}`, `-d${DURATION}s`, '--latency', '-s', script, url],
    {
      encoding: 'utf8',
    },
  )
  fs.rmSync(dir, { recursive: true, force: true })
  const ms = (label: string) => {
    const m = new RegExp(`${label}%\\s+([\\d.]+)(us|ms|s)`).exec(out)
    if (!m) return Number.NaN
    const n = Number(m[1])
    return m[2] === 'us' ? n / 1000 : m[2] === 's' ? n * 1000 : n
  }
  return {
    reqPerSec: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    p50: ms('50'),
    p99: ms('99'),
    non2xx: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0),
  }
}

async function clickhouseReachable(): Promise<boolean> {
  try {
    return (await fetch(`${CLICKHOUSE_URL.replace(/\/+$/, '')}/ping`)).ok
  } catch {
    return false
  }
}

/** A fresh ClickHouse database for this run, migrated. */
async function benchClickHouse(name: string) {
  const url = `${CLICKHOUSE_URL.replace(/\/+$/, '')}/groupd_bench_${name}_${process.pid}`
  const config = clickhouseConfig({ GROUPD_CLICKHOUSE_URL: url })
  if (!config) throw new Error('no ClickHouse configuration')
  const ch = ClickHouse.open(config, { requestTimeoutMs: 600_000 })
  await ch.command(`DROP DATABASE IF EXISTS ${identifier(config.database)}`)
  await migrateClickHouse(ch)
  return {
    ch,
    url,
    async drop() {
      await ch.command(`DROP DATABASE IF EXISTS ${identifier(config.database)}`)
      await ch.close()
    },
  }
}

/** groupd serving on a free port with the given environment; stopped by the returned function. */
async function groupd(env: Record<string, string>) {
  const port = await freePort()
  const child = spawnServer(['bin/groupd', 'serve'], {
    ...env,
    PORT: String(port),
    GROUPD_LOG_LEVEL: 'warn',
    GROUPD_RATE_LIMIT: 'off',
  })
  const url = `http://127.0.0.1:${port}`
  await waitReady(child, `${url}/_ready`)
  return {
    url,
    async stop() {
      child.kill('SIGTERM')
      await new Promise((r) => child.once('exit', r))
    },
  }
}

interface PostgresActivity {
  scans: number
  rows_read: number
  rows_written: number
}

/**
 * Cumulative table counters of the bench's own schema (the test database is shared): index and
 * sequential scans, rows they read, rows inserted or updated. Backends flush them within a second
 * of going idle, hence the pause.
 */
async function postgresActivity(database: Database): Promise<PostgresActivity> {
  await new Promise((r) => setTimeout(r, 1500))
  const { rows } = await sql<PostgresActivity>`SELECT
      coalesce(sum(coalesce(idx_scan, 0) + seq_scan), 0)::float8 AS scans,
      coalesce(sum(coalesce(idx_tup_fetch, 0) + seq_tup_read), 0)::float8 AS rows_read,
      coalesce(sum(n_tup_ins + n_tup_upd), 0)::float8 AS rows_written
    FROM pg_stat_user_tables WHERE schemaname = current_schema()`.execute(database.db)
  return rows[0] as PostgresActivity
}

/** The rows groupd writes for one capture batch (the bench's captureBatch), encoded as it does. */
function directRows(projectId: number): Buffer {
  const now = new Date().toISOString()
  const events = Array.from({ length: EVENTS_PER_BATCH }, (_, i) => {
    const groups = { company: `acme-${i % 7}`, workspace: `ws-${i % 3}` }
    const properties = {
      $groups: groups,
      $browser: 'Firefox',
      i,
      $group_0: groups.company,
      $group_1: groups.workspace,
    }
    const row = {
      project_id: projectId,
      uuid: uuidv7(),
      event: 'report viewed',
      distinct_id: `user-${i % 10}`,
      properties: JSON.stringify(properties),
      timestamp: now,
      created_at: now,
      group_0: groups.company,
      group_1: groups.workspace,
      group_2: null,
      group_3: null,
      group_4: null,
    }
    return { row, properties }
  })
  return encodeEvents(events).data
}

/** The same rows straight into ClickHouse, 100 events per INSERT, 4 INSERTs in flight. */
async function directInsert(ch: ClickHouse, projectId: number): Promise<number> {
  const deadline = Date.now() + DURATION * 1000
  let batches = 0
  const worker = async () => {
    while (Date.now() < deadline) {
      await ch.insertRowBinary(EVENTS_TABLE, EVENT_COLUMNS, directRows(projectId))
      batches++
    }
  }
  await Promise.all([worker(), worker(), worker(), worker()])
  return Math.round((batches * EVENTS_PER_BATCH) / DURATION)
}

async function captureRows(pgOk: boolean): Promise<Row[]> {
  const { database, env, cleanup } = await openDatabase('postgres')
  const { projectId, token } = await seed(database)
  const bench = await benchClickHouse('capture')
  try {
    const server = await groupd({ ...env, GROUPD_CLICKHOUSE_URL: bench.url })
    const pgServer = pgOk ? await groupd(env) : undefined
    const body = captureBatch(token)
    // Rounds alternate the three, so the machine's drift reaches each alike; medians are reported.
    const rounds: {
      clickhouse: ReturnType<typeof wrk>
      direct: number
      postgres?: ReturnType<typeof wrk>
    }[] = []
    let pgLoad: { before: PostgresActivity; after: PostgresActivity; requests: number } | undefined
    for (let round = 0; round < ROUNDS; round++) {
      const before = round === 0 ? await postgresActivity(database) : undefined
      const clickhouse = wrk(`${server.url}/batch/`, body)
      if (before) {
        pgLoad = {
          before,
          after: await postgresActivity(database),
          requests: clickhouse.reqPerSec * DURATION,
        }
      }
      const direct = await directInsert(bench.ch, projectId)
      const postgres = pgServer ? wrk(`${pgServer.url}/batch/`, body) : undefined
      console.error(
        `round ${round + 1}: clickhouse capture ${Math.round(clickhouse.reqPerSec * EVENTS_PER_BATCH)} events/s, ` +
          `direct insert ${direct}, postgres capture ${postgres ? Math.round(postgres.reqPerSec * EVENTS_PER_BATCH) : '-'}`,
      )
      rounds.push({ clickhouse, direct, postgres })
    }
    await server.stop()
    await pgServer?.stop()
    const perRequest = (k: keyof PostgresActivity) =>
      pgLoad ? Number(((pgLoad.after[k] - pgLoad.before[k]) / pgLoad.requests).toFixed(2)) : null
    const { rows: parts } = await bench.ch.query<{ n: number }>(
      `SELECT count() AS n FROM system.parts WHERE database = '${bench.ch.database}' AND table = '${EVENTS_TABLE}' AND active`,
    )
    const events = (r: { reqPerSec: number }) => r.reqPerSec * EVENTS_PER_BATCH
    const pgRounds = rounds.flatMap((r) => (r.postgres ? [{ ...r, postgres: r.postgres }] : []))
    return [
      {
        scenario: `POST /batch/ (${EVENTS_PER_BATCH} events with $groups), ClickHouse`,
        rounds: ROUNDS,
        events_per_sec: Math.round(median(rounds.map((r) => events(r.clickhouse)))),
        p50_ms: median(rounds.map((r) => r.clickhouse.p50)),
        p99_ms: median(rounds.map((r) => r.clickhouse.p99)),
        non_2xx: rounds.reduce((n, r) => n + r.clickhouse.non2xx, 0),
        active_parts_after: parts[0]?.n ?? null,
        direct_insert_events_per_sec: median(rounds.map((r) => r.direct)),
        ratio_vs_direct: Number(median(rounds.map((r) => events(r.clickhouse) / r.direct)).toFixed(3)),
        postgres_capture_events_per_sec: pgRounds.length
          ? Math.round(median(pgRounds.map((r) => events(r.postgres))))
          : null,
        ratio_vs_postgres: pgRounds.length
          ? Number(median(pgRounds.map((r) => r.clickhouse.reqPerSec / r.postgres.reqPerSec)).toFixed(3))
          : null,
        ratios_vs_postgres_per_round: pgRounds
          .map((r) => (r.clickhouse.reqPerSec / r.postgres.reqPerSec).toFixed(2))
          .join(' '),
        pg_scans_per_request: perRequest('scans'),
        pg_rows_read_per_request: perRequest('rows_read'),
        pg_rows_written_per_request: perRequest('rows_written'),
      },
    ]
  } finally {
    await bench.drop()
    await database.close()
    await cleanup()
  }
}

/** Synthetic events for project P: 2% in the largest group, the rest over 1,000 others, 200 days. */
function generateClickHouse(ch: ClickHouse, projectId: number, offset: number, count: number, now: number) {
  return ch.command(`INSERT INTO ${ch.table(EVENTS_TABLE)} (project_id, group_type_index, group_key, uuid,
      event, distinct_id, time_ms, group_keys, properties, prop.key, prop.value, prop.number, prop.time)
    SELECT ${projectId}, 0, k, generateUUIDv4(), ev, concat('user-', toString(number % 10000)),
      t, [k, NULL, NULL, NULL, NULL], concat('{"plan":"', plan, '","amount":', toString(amount), '}'),
      ['plan', 'amount'], [plan, toString(amount)], [nan, toFloat64(amount)], [nan, nan]
    FROM (SELECT number,
      if(number % 50 = 0, '${LARGEST}', concat('org_', toString(intHash32(number) % 1000))) AS k,
      arrayElement(['used', 'paid', 'viewed'], intHash32(number + 1) % 3 + 1) AS ev,
      toInt64(${now}) - toInt64(intHash64(number) % ${200 * DAY_MS}) AS t,
      if(number % 3 = 0, 'pro', 'free') AS plan, intHash32(number + 7) % 100 AS amount
      FROM system.numbers LIMIT ${offset}, ${count})`)
}

/** The same shape in PostgreSQL, 100k rows per statement (each within the statement timeout). */
async function generatePostgres(database: Database, projectId: number, count: number, now: number) {
  for (let offset = 0; offset < count; offset += 100_000) {
    const last = Math.min(count, offset + 100_000) - 1
    await sql`INSERT INTO events (project_id, uuid, event, distinct_id, properties, timestamp, created_at, group_0)
    SELECT ${projectId}, gen_random_uuid()::text, (ARRAY['used', 'paid', 'viewed'])[1 + (hashint4(n + 1) & 2147483647) % 3],
      'user-' || (n % 10000), jsonb_build_object('plan', CASE WHEN n % 3 = 0 THEN 'pro' ELSE 'free' END, 'amount', (hashint4(n + 7) & 2147483647) % 100),
      to_timestamp((${now} - (hashint8(n::bigint) & 9223372036854775807) % ${200 * DAY_MS}) / 1000.0), now(),
      CASE WHEN n % 50 = 0 THEN ${LARGEST} ELSE 'org_' || ((hashint4(n) & 2147483647) % 1000) END
    FROM generate_series(${offset}::int, ${last}::int) AS n`.execute(database.db)
  }
  await sql`ANALYZE events`.execute(database.db)
}

const METRICS = [
  { name: 'used 30d', interval: 30, filters: { events: [{ id: 'used', type: 'events' }] } },
  {
    name: 'pro revenue 7d',
    interval: 7,
    math: 'sum',
    math_property: 'amount',
    filters: {
      events: [{ id: 'paid', type: 'events' }],
      properties: [{ key: 'plan', value: 'pro', type: 'event' }],
    },
  },
  {
    name: 'views 30d',
    interval: 30,
    display: 'sparkline',
    filters: { events: [{ id: 'viewed', type: 'events' }] },
  },
]

/** UsageMetricsQuery requests for the largest group, one at a time, after `warmups` unmeasured ones. */
async function queryTimes(url: string, key: string, projectId: number, runs: number, warmups = 2) {
  const times: number[] = []
  let value = 0
  for (let i = 0; i < runs + warmups; i++) {
    const started = performance.now()
    const res = await fetch(`${url}/api/projects/${projectId}/query/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: { kind: 'UsageMetricsQuery', group_type_index: 0, group_key: LARGEST } }),
    })
    const body = await res.json()
    if (res.status !== 200) throw new Error(`query failed: ${JSON.stringify(body)}`)
    if (i >= warmups) times.push(performance.now() - started)
    value = body.results.find((r: { name: string }) => r.name === 'used 30d')?.value
  }
  return { times, value }
}

/** p50 and p95 of request times in ms. */
function percentiles(times: number[]) {
  const sorted = [...times].sort((a, b) => a - b)
  const at = (q: number) =>
    Number((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number).toFixed(1))
  return { p50: at(0.5), p95: at(0.95) }
}

async function defineMetrics(url: string, key: string, projectId: number) {
  for (const metric of METRICS) {
    const res = await fetch(`${url}/api/projects/${projectId}/groups_types/0/metrics/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(metric),
    })
    if (res.status !== 201) throw new Error(`metric: ${await res.text()}`)
  }
}

async function queryRows(pgOk: boolean): Promise<Row[]> {
  const rows: Row[] = []
  const now = Date.now()
  const { database, env, cleanup } = await openDatabase('postgres')
  const { projectId, key } = await seed(database)
  // One ClickHouse database and one groupd per size, all on the same metadata, so the sizes'
  // requests can alternate (BENCH_ROUNDS) and the machine's drift reaches each alike.
  const sizes: {
    size: number
    bench: Awaited<ReturnType<typeof benchClickHouse>>
    server?: Awaited<ReturnType<typeof groupd>>
    generated: number
    times: number[]
    value: number
  }[] = []
  try {
    for (const size of SIZES) {
      const bench = await benchClickHouse(`query_${size}`)
      sizes.push({ size, bench, generated: 0, times: [], value: 0 })
      const started = performance.now()
      for (let offset = 0; offset < size; offset += 1_000_000) {
        await generateClickHouse(bench.ch, projectId, offset, Math.min(1_000_000, size - offset), now)
      }
      ;(sizes.at(-1) as (typeof sizes)[number]).generated = (performance.now() - started) / 1000
      await bench.ch.command(`OPTIMIZE TABLE ${bench.ch.table(EVENTS_TABLE)} FINAL`).catch(() => {})
    }
    for (const entry of sizes) {
      entry.server = await groupd({ ...env, GROUPD_CLICKHOUSE_URL: entry.bench.url })
      if (entry === sizes[0]) await defineMetrics(entry.server.url, key, projectId)
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const entry of sizes) {
        const server = entry.server as Awaited<ReturnType<typeof groupd>>
        const { times, value } = await queryTimes(server.url, key, projectId, Math.ceil(QUERY_RUNS / ROUNDS))
        entry.times.push(...times)
        entry.value = value
      }
    }
    const store = (ch: ClickHouse) => new ClickHouseEventsStore(ch, 0)
    const series = (await listProjectMetrics(database.db, projectId)).flatMap((m) => {
      const s = metricSeries(m, [], Date.now())
      return 'series' in s ? [s.series] : []
    })
    for (const { size, bench, generated, times, value } of sizes) {
      const sql = store(bench.ch).metricSql({
        projectId,
        groupTypeIndex: 0,
        groupKey: LARGEST,
        now: Date.now(),
        series,
      })
      const { statistics } = await bench.ch.query(sql)
      const { rows: group } = await bench.ch.query<{ n: number }>(
        `SELECT count() AS n FROM ${bench.ch.table(EVENTS_TABLE)} WHERE project_id = ${projectId} AND group_key = '${LARGEST}'`,
      )
      const { rows: disk } = await bench.ch.query<{ bytes: number }>(
        `SELECT sum(bytes_on_disk) AS bytes FROM system.parts WHERE database = '${bench.ch.database}' AND table = '${EVENTS_TABLE}' AND active`,
      )
      const latency = percentiles(times)
      console.error(`clickhouse ${size} events: p50 ${latency.p50} ms, rows_read ${statistics.rows_read}`)
      rows.push({
        engine: 'clickhouse',
        events: size,
        largest_group_events: group[0]?.n ?? null,
        generate_s: Number(generated.toFixed(1)),
        p50_ms: latency.p50,
        p95_ms: latency.p95,
        p50_vs_first_size: Number((latency.p50 / percentiles(sizes[0]?.times ?? []).p50).toFixed(2)),
        rows_read: statistics.rows_read,
        server_elapsed_ms: Number((statistics.elapsed * 1000).toFixed(1)),
        bytes_on_disk_per_event: Math.round((disk[0]?.bytes ?? 0) / size),
        used_30d: value,
      })
    }
  } finally {
    for (const { server, bench } of sizes) {
      await server?.stop()
      await bench.drop()
    }
    await database.close()
    await cleanup()
  }
  if (pgOk) {
    const size = SIZES[0] as number
    const pg = await openDatabase('postgres')
    const seeded = await seed(pg.database)
    try {
      const started = performance.now()
      await generatePostgres(pg.database, seeded.projectId, size, now)
      const generated = (performance.now() - started) / 1000
      const server = await groupd(pg.env)
      await defineMetrics(server.url, seeded.key, seeded.projectId)
      const { times, value } = await queryTimes(server.url, seeded.key, seeded.projectId, QUERY_RUNS)
      const latency = { ...percentiles(times), value }
      await server.stop()
      console.error(`postgres ${size} events: p50 ${latency.p50} ms`)
      rows.push({
        engine: 'postgres',
        events: size,
        largest_group_events: size / 50,
        generate_s: Number(generated.toFixed(1)),
        p50_ms: latency.p50,
        p95_ms: latency.p95,
        p50_vs_first_size: null,
        rows_read: null,
        server_elapsed_ms: null,
        bytes_on_disk_per_event: null,
        used_30d: latency.value,
      })
    } finally {
      await pg.database.close()
      await pg.cleanup()
    }
  }
  return rows
}

async function main() {
  if (!(await clickhouseReachable())) {
    console.error(`clickhouse bench: skipped (no ClickHouse at ${CLICKHOUSE_URL}; set BENCH_CLICKHOUSE_URL)`)
    return
  }
  const pgOk = await postgresReachable()
  if (!pgOk) {
    console.error('clickhouse bench: skipped (needs PostgreSQL for metadata; set BENCH_DATABASE_URL)')
    return
  }
  const capture = await captureRows(pgOk)
  console.table(capture)
  const query = SIZES.length > 0 ? await queryRows(pgOk) : []
  console.table(query)
  const summary = {
    cpus: os.cpus().length,
    node: process.version,
    duration_s: DURATION,
    connections: CONNECTIONS,
    capture,
    query,
  }
  fs.mkdirSync('.bench', { recursive: true })
  fs.writeFileSync('.bench/clickhouse.json', `${JSON.stringify(summary, null, 2)}\n`)
  console.log(JSON.stringify(summary))
}

await main()
