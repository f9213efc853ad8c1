/**
 * UsageMetricsQuery latency on generated data (deterministic seed), on SQLite and PostgreSQL:
 * 1,000,000 events over 90 days, 1,000 companies (index 0) with a Zipf-skewed share of events,
 * 20 metrics mixing count/sum, event lists, property filters of several operators and types, and
 * 7/30/90-day windows. Reported beside a baseline measured in the same run on the same group: one
 * query that reads each of that group's events in the widest window once, properties included.
 * A probe group of fixed size is planted in a 100,000-event and a 1,000,000-event table, to show
 * that cost follows the group's events, not the table. Writes .bench/metric-values.json.
 *
 *   npm run bench:metrics            both engines (PostgreSQL when reachable)
 *   BENCH_EVENTS=200000 …            a smaller main table
 */
import fs from 'node:fs'
import { pathToFileURL } from 'node:url'
import { sql } from 'kysely'
import { buildApp } from '../src/app.ts'
import { type Database, fromJson } from '../src/db/database.ts'
import { uuidv7 } from '../src/db/ids.ts'
import type { EventsTable } from '../src/db/schema.ts'
import { SqlEventsStore } from '../src/events/sql-store.ts'
import { createMetric } from '../src/group-usage-metrics/service.ts'
import { listProjectMetrics } from '../src/group-usage-metrics/store.ts'
import { mergeGroup } from '../src/groups/store.ts'
import { metricSeries } from '../src/query/usage-metrics.ts'
import { openDatabase, postgresReachable, seed } from './lib.ts'

const DAY = 86_400_000
const GROUPS = 1000
const PROBE_EVENTS = 2000
const MAIN_EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000)
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 30)

/** mulberry32: a small deterministic PRNG. */
function rng(seed: number) {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const pick = <T>(r: () => number, xs: readonly T[]) => xs[Math.floor(r() * xs.length)] as T

export const METRICS = [
  { name: 'Pageviews 7d', interval: 7, filters: { events: [{ id: '$pageview' }] } },
  { name: 'Pageviews 30d', interval: 30, display: 'sparkline', filters: { events: [{ id: '$pageview' }] } },
  { name: 'Pageviews 90d', interval: 90, filters: { events: [{ id: '$pageview' }] } },
  {
    name: 'Revenue 30d',
    interval: 30,
    math: 'sum',
    math_property: 'amount',
    filters: { events: [{ id: 'purchase' }] },
  },
  {
    name: 'Revenue 90d',
    interval: 90,
    format: 'currency',
    math: 'sum',
    math_property: 'amount',
    filters: { events: [{ id: 'purchase' }] },
  },
  {
    name: 'Chrome activity 7d',
    interval: 7,
    filters: {
      events: [{ id: '$pageview' }, { id: '$autocapture' }],
      properties: [{ key: '$browser', value: 'Chrome', operator: 'exact', type: 'event' }],
    },
  },
  {
    name: 'Real pageviews 30d',
    interval: 30,
    filters: { events: [{ id: '$pageview' }], filter_test_accounts: true },
  },
  {
    name: 'Core features 30d',
    interval: 30,
    filters: {
      events: [
        { id: 'feature used', properties: [{ key: 'feature', value: ['a', 'b', 'c'], operator: 'in' }] },
      ],
    },
  },
  {
    name: 'Pro plan events 30d',
    interval: 30,
    filters: {
      events: [{ id: null }],
      properties: [{ key: 'plan', value: 'pro', type: 'group', group_type_index: 0 }],
    },
  },
  {
    name: 'Settings views 7d',
    interval: 7,
    filters: {
      events: [{ id: '$pageview', properties: [{ key: 'path', value: '/settings', operator: 'icontains' }] }],
    },
  },
  {
    name: 'Big purchases 30d',
    interval: 30,
    filters: { events: [{ id: 'purchase', properties: [{ key: 'amount', value: 100, operator: 'gt' }] }] },
  },
  {
    name: 'Mid purchases 90d',
    interval: 90,
    filters: {
      events: [{ id: 'purchase', properties: [{ key: 'amount', value: [10, 50], operator: 'between' }] }],
    },
  },
  {
    name: 'Non-Windows pageviews 7d',
    interval: 7,
    filters: {
      events: [{ id: '$pageview', properties: [{ key: '$os', value: 'Windows', operator: 'is_not' }] }],
    },
  },
  { name: 'Signups 90d', interval: 90, filters: { events: [{ id: 'signed up' }] } },
  {
    name: 'Old browsers 30d',
    interval: 30,
    display: 'sparkline',
    filters: {
      events: [{ id: '$pageview', properties: [{ key: '$browser_version', value: 100, operator: 'lt' }] }],
    },
  },
  {
    name: 'Coupon purchases 30d',
    interval: 30,
    filters: { events: [{ id: 'purchase', properties: [{ key: 'coupon', operator: 'is_set' }] }] },
  },
  {
    name: 'Chrome+Safari revenue 7d',
    interval: 7,
    math: 'sum',
    math_property: 'amount',
    filters: {
      events: [{ id: 'purchase' }],
      properties: [{ key: '$browser', value: ['Chrome', 'Safari'], operator: 'exact' }],
    },
  },
  { name: 'Clicks 7d', interval: 7, display: 'sparkline', filters: { events: [{ id: '$autocapture' }] } },
  {
    name: 'B features 90d',
    interval: 90,
    filters: {
      events: [{ id: 'feature used', properties: [{ key: 'feature', value: '^b', operator: 'regex' }] }],
    },
  },
  {
    name: 'Recent signups viewing 30d',
    interval: 30,
    filters: {
      events: [
        { id: '$pageview', properties: [{ key: 'signup_date', value: '-30d', operator: 'is_date_after' }] },
      ],
    },
  },
] as const

const EVENT_MIX = [
  ...Array(10).fill('$pageview'),
  ...Array(5).fill('$autocapture'),
  ...Array(2).fill('feature used'),
  ...Array(2).fill('purchase'),
  'signed up',
] as string[]

function properties(r: () => number, event: string, now: number): Record<string, unknown> {
  const p: Record<string, unknown> = {
    $browser: pick(r, ['Chrome', 'Chrome', 'Safari', 'Firefox', 'Edge']),
    $os: pick(r, ['Mac OS X', 'Windows', 'Linux', 'iOS']),
    $host: r() < 0.05 ? 'localhost:3000' : 'app.example.com',
    $browser_version: Math.floor(80 + r() * 60),
    $current_url: `https://app.example.com${pick(r, ['/', '/settings', '/reports', '/billing'])}`,
    path: pick(r, ['/', '/settings/team', '/reports/weekly', '/billing']),
    $lib: 'web',
    $lib_version: '1.449.2',
    signup_date: new Date(now - Math.floor(r() * 120) * DAY).toISOString().slice(0, 10),
  }
  if (event === 'purchase') {
    p.amount = Math.round(r() * 20000) / 100
    if (r() < 0.3) p.coupon = 'WELCOME'
  }
  if (event === 'feature used') p.feature = pick(r, ['a', 'b', 'c', 'd', 'e'])
  return p
}

/** Zipf (s = 1.1) weights over the groups: a few hold most events. */
function groupPicker(r: () => number): () => string {
  const weights = Array.from({ length: GROUPS }, (_, i) => 1 / (i + 1) ** 1.1)
  const total = weights.reduce((a, b) => a + b, 0)
  const cumulative: number[] = []
  let acc = 0
  for (const w of weights) {
    acc += w / total
    cumulative.push(acc)
  }
  return () => {
    const x = r()
    let lo = 0
    let hi = GROUPS - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((cumulative[mid] as number) < x) lo = mid + 1
      else hi = mid
    }
    return `company-${lo}`
  }
}

async function insertEvents(database: Database, rows: EventsTable[]): Promise<void> {
  const chunk = database.engine === 'postgres' ? 2000 : 500
  await database.transaction(async (tx) => {
    for (let i = 0; i < rows.length; i += chunk)
      await tx
        .insertInto('events')
        .values(rows.slice(i, i + chunk))
        .execute()
  })
}

export async function generate(
  database: Database,
  projectId: number,
  total: number,
  now: number,
): Promise<void> {
  const r = rng(20261130)
  const group = groupPicker(r)
  const row = (key: string): EventsTable => {
    const event = pick(r, EVENT_MIX)
    const at = now - Math.floor(r() * 90 * DAY)
    const props = { ...properties(r, event, now), $group_0: key }
    return {
      project_id: projectId,
      uuid: uuidv7(at),
      event,
      distinct_id: `user-${Math.floor(r() * 20000)}`,
      properties: JSON.stringify(props),
      timestamp: new Date(at).toISOString(),
      created_at: new Date(now).toISOString(),
      group_0: key,
      group_1: null,
      group_2: null,
      group_3: null,
      group_4: null,
    }
  }
  const batch = 50_000
  for (let done = 0; done < total; done += batch) {
    const n = Math.min(batch, total - done)
    await insertEvents(
      database,
      Array.from({ length: n }, () => row(group())),
    )
    process.stderr.write(`\r  ${database.engine}: ${done + n}/${total} events`)
  }
  await insertEvents(
    database,
    Array.from({ length: PROBE_EVENTS }, () => row('probe')),
  )
  process.stderr.write('\n')
  for (let i = 0; i < GROUPS; i++) {
    await mergeGroup(
      database.db,
      database.engine,
      projectId,
      0,
      `company-${i}`,
      { plan: i % 3 === 0 ? 'pro' : 'free' },
      new Date(now).toISOString(),
    )
  }
  await sql`ANALYZE`.execute(database.db)
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number
}
const ms = (n: number) => Math.round(n * 100) / 100

async function timed(fn: () => Promise<unknown>, n: number): Promise<{ p50: number; p95: number }> {
  await fn() // warm
  const times: number[] = []
  for (let i = 0; i < n; i++) {
    const t = performance.now()
    await fn()
    times.push(performance.now() - t)
  }
  return { p50: ms(quantile(times, 0.5)), p95: ms(quantile(times, 0.95)) }
}

/** The baseline: each of the group's events in the widest window read once, properties included. */
function baseline(database: Database, projectId: number, key: string, now: number) {
  const from = new Date(now - 180 * DAY).toISOString()
  const to = new Date(now).toISOString()
  const hasKey =
    database.engine === 'postgres'
      ? sql`e.properties ? ${'$browser'}::text`
      : sql`json_type(e.properties, ${'$."$browser"'}) IS NOT NULL`
  const day =
    database.engine === 'postgres'
      ? sql`to_char(e.timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD')`
      : sql`substr(e.timestamp, 1, 10)`
  return () =>
    sql`SELECT ${day} AS day, count(*) AS n FROM events e
        WHERE e.project_id = ${projectId} AND e.group_0 = ${key} AND e.timestamp >= ${from} AND e.timestamp <= ${to} AND ${hasKey}
        GROUP BY 1`.execute(database.db)
}

/** The plans the metric query runs with, for the largest and the probe group. */
async function writePlans(database: Database, projectId: number, now: number, name: string): Promise<void> {
  const project = await database.db
    .selectFrom('projects')
    .selectAll()
    .where('id', '=', projectId)
    .executeTakeFirstOrThrow()
  const series = (await listProjectMetrics(database.db, projectId)).flatMap((m) => {
    const r = metricSeries(m, fromJson(project.test_account_filters), now)
    return 'series' in r ? [r.series] : []
  })
  const store = new SqlEventsStore(database)
  const explain = database.engine === 'postgres' ? 'EXPLAIN (ANALYZE, COSTS OFF) ' : 'EXPLAIN QUERY PLAN '
  let out = ''
  for (const groupKey of ['company-0', 'probe']) {
    const compiled = store
      .metricBucketsSql({ projectId, groupTypeIndex: 0, groupKey, now, series })
      .compile(database.db)
    const { rows } = await database.db.executeQuery({ ...compiled, sql: explain + compiled.sql })
    out += `-- ${name}, group ${groupKey}\n${rows.map((r) => Object.values(r as object).join(' ')).join('\n')}\n\n`
  }
  fs.mkdirSync('.bench', { recursive: true })
  fs.writeFileSync(`.bench/metric-values-plan-${name}.txt`, out)
}

async function groupSize(database: Database, projectId: number, key: string): Promise<number> {
  const row = await database.db
    .selectFrom('events')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('project_id', '=', projectId)
    .where('group_0', '=', key)
    .executeTakeFirst()
  return Number(row?.n ?? 0)
}

async function run(engine: string, total: number) {
  const { database, cleanup } = await openDatabase(engine, `mv${total}`)
  try {
    const { projectId, key } = await seed(database)
    const now = Date.now()
    for (const m of METRICS) {
      await createMetric(database, { projectId, groupTypeIndex: 0 }, {
        format: 'numeric',
        display: 'number',
        math: 'count',
        ...m,
      } as never)
    }
    const started = performance.now()
    await generate(database, projectId, total, now)
    const generatedIn = (performance.now() - started) / 1000
    const app = await buildApp({ database })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/api/projects/${projectId}/query/`
    const query = (groupKey: string) => async () => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          query: { kind: 'UsageMetricsQuery', group_type_index: 0, group_key: groupKey },
        }),
      })
      if (res.status !== 200) throw new Error(`query answered ${res.status}: ${await res.text()}`)
      await res.arrayBuffer()
    }
    const r = rng(7)
    const random = await timed(() => query(`company-${Math.floor(r() * GROUPS)}`)(), SAMPLES)
    const largest = await timed(query('company-0'), SAMPLES)
    const largestBaseline = await timed(baseline(database, projectId, 'company-0', now), SAMPLES)
    const probe = await timed(query('probe'), SAMPLES)
    const probeBaseline = await timed(baseline(database, projectId, 'probe', now), SAMPLES)
    await app.close()
    await writePlans(database, projectId, now, `${engine}-${total}`)
    return {
      engine,
      total_events: total + PROBE_EVENTS,
      generated_in_s: Math.round(generatedIn),
      largest_group_events: await groupSize(database, projectId, 'company-0'),
      random_groups: random,
      largest_group: {
        ...largest,
        baseline: largestBaseline,
        ratio_p50: ms(largest.p50 / largestBaseline.p50),
      },
      probe_group: {
        events: PROBE_EVENTS,
        ...probe,
        baseline: probeBaseline,
        ratio_p50: ms(probe.p50 / probeBaseline.p50),
      },
    }
  } finally {
    await database.close()
    await cleanup()
  }
}

async function main() {
  const engines = ['sqlite', ...((await postgresReachable()) ? ['postgres'] : [])]
  const report = []
  for (const engine of engines) {
    for (const total of [Math.round(MAIN_EVENTS / 10), MAIN_EVENTS]) {
      const result = await run(engine, total)
      report.push(result)
      console.log(JSON.stringify(result))
    }
  }
  console.log("\nUsageMetricsQuery, 20 metrics, ms (p50 / p95); baseline = one read of the group's events")
  console.log(
    'engine    | events    | random groups | largest group (events)     | vs baseline | probe (2,000) | vs baseline',
  )
  for (const r of report) {
    console.log(
      `${r.engine.padEnd(9)} | ${String(r.total_events).padEnd(9)} | ${`${r.random_groups.p50} / ${r.random_groups.p95}`.padEnd(13)} | ${`${r.largest_group.p50} / ${r.largest_group.p95} (${r.largest_group_events})`.padEnd(26)} | ${`${r.largest_group.ratio_p50}× of ${r.largest_group.baseline.p50}`.padEnd(11)} | ${`${r.probe_group.p50} / ${r.probe_group.p95}`.padEnd(13)} | ${r.probe_group.ratio_p50}×`,
    )
  }
  fs.mkdirSync('.bench', { recursive: true })
  fs.writeFileSync('.bench/metric-values.json', `${JSON.stringify(report, null, 2)}\n`)
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main()
