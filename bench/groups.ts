/**
 * `npm run bench:groups`: a group population at scale, through HTTP against a groupd process.
 * One project, one type; 1M and 10M groups with five properties (name, plan 1/3 "pro", seats
 * 1–1000, country of 50, a unique domain), loaded through the bulk endpoint by 4 concurrent
 * clients. Then, per size, p50/p95 over BENCH_SAMPLES (30) sequential requests of each scenario
 * beside `groups/find` (a primary-key lookup) in the same run; a first page while another client
 * loops the slowest query; EXPLAIN of each scenario's SQL. Writes .bench/groups.json and
 * .bench/groups-plans-<engine>.txt.
 *
 * Env: BENCH_GROUPS (sizes, default 1000000,10000000), BENCH_ENGINES (sqlite,postgres),
 * BENCH_SAMPLES (30).
 */
import fs from 'node:fs'
import http from 'node:http'
import { sql } from 'kysely'
import type { Database } from '../src/db/database.ts'
import { parseProperties } from '../src/filters/parse.ts'
import { TRUE } from '../src/filters/tree.ts'
import { aggregateSql, pageSql, type Sort } from '../src/groups/population.ts'
import { listGroupsSql } from '../src/groups/store.ts'
import { freePort, openDatabase, postgresReachable, seed, spawnServer, waitReady } from './lib.ts'

const SIZES = (process.env.BENCH_GROUPS ?? '1000000,10000000').split(',').map(Number)
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 30)
const ENGINES = (process.env.BENCH_ENGINES ?? 'sqlite,postgres').split(',')
const BULK = 1000
const LOADERS = 4

const ADJECTIVES = [
  'Acme',
  'Blue',
  'Crisp',
  'Delta',
  'Eager',
  'Fable',
  'Giant',
  'Happy',
  'Iron',
  'Jolly',
  'Keen',
  'Lunar',
  'Mellow',
  'Nimble',
  'Omega',
  'Prime',
  'Quartz',
  'Rapid',
  'Solar',
  'Tidal',
]
const NOUNS = [
  'Labs',
  'Works',
  'Systems',
  'Foods',
  'Motors',
  'Health',
  'Media',
  'Capital',
  'Logistics',
  'Studio',
]
const PLANS = ['free', 'pro', 'enterprise']
const COUNTRIES = Array.from(
  { length: 50 },
  (_, i) => `C${String.fromCharCode(65 + (i % 26))}${String.fromCharCode(65 + Math.floor(i / 26))}`,
)

/** A deterministic 32-bit mix of i: properties and keys without storing a PRNG state. */
function mix(i: number, salt: number): number {
  let h = Math.imul(i ^ salt, 0x9e3779b1)
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  return h >>> 0
}
const keyOf = (i: number) =>
  `org-${mix(i, 1).toString(16).padStart(8, '0')}${(i % 4096).toString(16).padStart(3, '0')}`
function propertiesOf(i: number) {
  return {
    name: `${ADJECTIVES[mix(i, 2) % ADJECTIVES.length]} ${NOUNS[mix(i, 3) % NOUNS.length]} ${i}`,
    plan: PLANS[mix(i, 4) % 3],
    seats: 1 + (mix(i, 5) % 1000),
    country: COUNTRIES[mix(i, 6) % COUNTRIES.length],
    domain: `${keyOf(i)}.example.com`,
  }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 })

function call(
  base: string,
  key: string,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base}${path}`,
      {
        method,
        agent,
        headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8').on('data', (c) => (text += c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

/** Loads groups [from, to) through the bulk endpoint; groups/s. */
async function load(base: string, key: string, projectId: number, from: number, to: number): Promise<number> {
  let next = from
  const started = performance.now()
  let lastReport = started
  const loader = async () => {
    for (;;) {
      const start = next
      if (start >= to) return
      next = Math.min(to, start + BULK)
      const operations = []
      for (let i = start; i < next; i++)
        operations.push({ group_type_index: 0, group_key: keyOf(i), $set: propertiesOf(i) })
      const res = await call(
        base,
        key,
        'POST',
        `/api/projects/${projectId}/groups/bulk/`,
        JSON.stringify({ operations }),
      )
      if (res.status !== 200) throw new Error(`bulk: ${res.status} ${res.text.slice(0, 200)}`)
      const now = performance.now()
      if (now - lastReport > 10_000) {
        lastReport = now
        const done = next - from
        process.stderr.write(
          `  loaded ${done.toLocaleString()} of ${(to - from).toLocaleString()} (${Math.round(done / ((now - started) / 1000)).toLocaleString()}/s)\n`,
        )
      }
    }
  }
  await Promise.all(Array.from({ length: LOADERS }, loader))
  return Math.round((to - from) / ((performance.now() - started) / 1000))
}

interface Scenario {
  name: string
  method: 'GET' | 'POST'
  path: string
  body?: unknown
}

const q = (
  projectId: number,
  query: Record<string, unknown>,
): Pick<Scenario, 'method' | 'path' | 'body'> => ({
  method: 'POST',
  path: `/api/projects/${projectId}/query/`,
  body: { query: { kind: 'GroupsQuery', group_type_index: 0, ...query } },
})
const pro = [{ key: 'plan', value: 'pro', type: 'group', group_type_index: 0 }]

function scenarios(projectId: number, size: number, middleCursor: string): Scenario[] {
  const g = `/api/projects/${projectId}/groups`
  const page = { select: ['group_name', 'properties.plan', 'properties.seats', 'created_at'] }
  const rareKey = keyOf(Math.floor(size / 3))
  return [
    {
      name: 'find (primary key)',
      method: 'GET',
      path: `${g}/find/?group_type_index=0&group_key=${keyOf(Math.floor(size / 2))}`,
    },
    { name: 'first page', ...q(projectId, page) },
    { name: 'search: rare key', ...q(projectId, { ...page, search: rareKey }) },
    { name: 'search: common name substring', ...q(projectId, { ...page, search: 'solar' }) },
    { name: 'search: matches nothing', ...q(projectId, { ...page, search: 'zzqxv' }) },
    { name: 'plan = pro, first page', ...q(projectId, { ...page, properties: pro }) },
    {
      name: 'seats > 900, first page',
      ...q(projectId, {
        ...page,
        properties: [{ key: 'seats', operator: 'gt', value: 900, type: 'group', group_type_index: 0 }],
      }),
    },
    {
      name: 'sort by seats DESC, first page',
      ...q(projectId, { ...page, orderBy: ['properties.seats DESC'] }),
    },
    {
      name: 'property_values country',
      method: 'GET',
      path: `${g}/property_values/?group_type_index=0&key=country`,
    },
    { name: 'count() where plan = pro', ...q(projectId, { select: ['count()'], properties: pro }) },
    { name: 'plan breakdown', ...q(projectId, { select: ['properties.plan', 'count()'] }) },
    { name: 'REST list: first page', method: 'GET', path: `${g}/?group_type_index=0` },
    {
      name: 'REST list: middle cursor',
      method: 'GET',
      path: `${g}/?group_type_index=0&cursor=${middleCursor}`,
    },
    { name: 'REST list: search rare key', method: 'GET', path: `${g}/?group_type_index=0&search=${rareKey}` },
    { name: 'REST list: search common', method: 'GET', path: `${g}/?group_type_index=0&search=solar` },
    { name: 'REST list: search nothing', method: 'GET', path: `${g}/?group_type_index=0&search=zzqxv` },
    {
      name: 'offset 10,000, sort by seats DESC',
      ...q(projectId, { ...page, orderBy: ['properties.seats DESC'], offset: 10_000 }),
    },
  ]
}

const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number
}

async function sample(
  base: string,
  key: string,
  s: Scenario,
  n = SAMPLES,
): Promise<{ p50: number; p95: number }> {
  const body = s.body === undefined ? undefined : JSON.stringify(s.body)
  const times: number[] = []
  for (let i = 0; i < n + 2; i++) {
    const started = performance.now()
    const res = await call(base, key, s.method, s.path, body)
    if (res.status !== 200) throw new Error(`${s.name}: ${res.status} ${res.text.slice(0, 300)}`)
    if (i >= 2) times.push(performance.now() - started) // two warm-ups
  }
  return { p50: round(percentile(times, 50)), p95: round(percentile(times, 95)) }
}

const round = (ms: number) => Math.round(ms * 100) / 100

/** The REST list's cursor at the group created in the middle of the load. */
async function middleCursor(database: Database, projectId: number, size: number): Promise<string> {
  const row = await database.db
    .selectFrom('groups')
    .select(['created_at', 'group_key'])
    .where('project_id', '=', projectId)
    .where('group_key', '=', keyOf(Math.floor(size / 2)))
    .executeTakeFirstOrThrow()
  return Buffer.from(JSON.stringify({ c: Date.parse(row.created_at) * 1000, k: row.group_key })).toString(
    'base64url',
  )
}

/** The statements the main scenarios run, built as the server builds them. */
function planStatements(
  database: Database,
  projectId: number,
  size: number,
  cursor: { createdAt: string; key: string },
) {
  const now = Date.now()
  const base = {
    projectId,
    index: 0,
    where: TRUE,
    search: null,
    order: [],
    rankFirst: true,
    limit: 101,
    offset: 0,
  }
  const where = (filters: unknown) => parseProperties(filters, 'properties', { now, groupTypeIndex: 0 })
  const seats: Sort = { key: { kind: 'property', key: 'seats' }, desc: true }
  const rare = keyOf(Math.floor(size / 3))
  return [
    ['first page', pageSql(database, base)],
    ['search: rare key', pageSql(database, { ...base, search: rare })],
    ['search: common name substring', pageSql(database, { ...base, search: 'solar' })],
    ['plan = pro, first page', pageSql(database, { ...base, where: where(pro) })],
    ['sort by seats DESC', pageSql(database, { ...base, order: [seats], rankFirst: false })],
    [
      'count() where plan = pro',
      aggregateSql(database, {
        ...base,
        where: where(pro),
        groupBy: [],
        aggregates: [{ fn: 'count' }],
        order: [],
      }),
    ],
    [
      'plan breakdown',
      aggregateSql(database, {
        ...base,
        groupBy: [{ kind: 'property', key: 'plan' }],
        aggregates: [{ fn: 'count' }],
        order: [],
      }),
    ],
    ['REST list: middle cursor', listGroupsSql(database, { projectId, index: 0, after: cursor, limit: 101 })],
    [
      'REST list: search common',
      listGroupsSql(database, { projectId, index: 0, search: 'solar', limit: 101 }),
    ],
  ] as const
}

async function explain(database: Database, projectId: number, size: number): Promise<string> {
  const prefix = database.engine === 'postgres' ? 'EXPLAIN (ANALYZE, BUFFERS) ' : 'EXPLAIN QUERY PLAN '
  const middle = await database.db
    .selectFrom('groups')
    .select(['created_at', 'group_key'])
    .where('group_key', '=', keyOf(Math.floor(size / 2)))
    .executeTakeFirstOrThrow()
  const out: string[] = []
  for (const [name, statement] of planStatements(database, projectId, size, {
    createdAt: middle.created_at,
    key: middle.group_key,
  })) {
    const compiled = statement.compile(database.db)
    const { rows } = await database.db.executeQuery({ ...compiled, sql: prefix + compiled.sql })
    out.push(
      `## ${name}\n${compiled.sql}\n${(rows as Record<string, unknown>[]).map((r) => Object.values(r).join(' ')).join('\n')}\n`,
    )
  }
  return out.join('\n')
}

async function runEngine(engine: string) {
  const results: Record<string, unknown> = {}
  const { database, env, cleanup } = await openDatabase(engine, 'groups')
  const { projectId, key } = await seed(database)
  const port = await freePort()
  const child = spawnServer(['bin/groupd', 'serve'], {
    ...env,
    PORT: String(port),
    GROUPD_RATE_LIMIT: 'off',
    GROUPD_LOG_LEVEL: 'warn',
  })
  const base = `http://127.0.0.1:${port}`
  try {
    await waitReady(child, `${base}/_ready`)
    let loaded = 0
    for (const size of SIZES) {
      process.stderr.write(`${engine}: loading groups ${loaded.toLocaleString()}–${size.toLocaleString()}\n`)
      const rate = await load(base, key, projectId, loaded, size)
      loaded = size
      if (engine === 'postgres') await sql`VACUUM ANALYZE groups`.execute(database.db)
      const cursor = await middleCursor(database, projectId, size)
      const measured: Record<string, { p50: number; p95: number }> = {}
      for (const s of scenarios(projectId, size, cursor)) {
        measured[s.name] = await sample(base, key, s)
        process.stderr.write(
          `  ${size.toLocaleString()} ${s.name}: p50 ${measured[s.name]?.p50} ms, p95 ${measured[s.name]?.p95} ms\n`,
        )
      }
      // A first page while another client runs the slowest query in a loop.
      const all = scenarios(projectId, size, cursor)
      const slowest = Object.entries(measured)
        .filter(([n]) => !n.startsWith('offset'))
        .sort((a, b) => b[1].p95 - a[1].p95)[0]?.[0] as string
      const slow = all.find((s) => s.name === slowest) as Scenario
      let stop = false
      const loop = (async () => {
        while (!stop)
          await call(
            base,
            key,
            slow.method,
            slow.path,
            slow.body === undefined ? undefined : JSON.stringify(slow.body),
          )
      })()
      const busy = await sample(base, key, all[1] as Scenario)
      stop = true
      await loop
      const idle = measured['first page'] as { p95: number }
      results[`${size}`] = {
        load_groups_per_s: rate,
        scenarios: measured,
        under_load: { slowest, first_page: busy, ratio_p95: round(busy.p95 / idle.p95) },
      }
      process.stderr.write(
        `  first page while "${slowest}" loops: p95 ${busy.p95} ms (idle ${idle.p95} ms)\n`,
      )
    }
    fs.mkdirSync('.bench', { recursive: true })
    fs.writeFileSync(`.bench/groups-plans-${engine}.txt`, await explain(database, projectId, loaded))
  } finally {
    child.kill('SIGTERM')
    await new Promise((r) => child.once('exit', r))
    await database.close()
    await cleanup()
  }
  return results
}

const summary: Record<string, unknown> = {}
for (const engine of ENGINES) {
  if (engine === 'postgres' && !(await postgresReachable())) {
    process.stderr.write('PostgreSQL not reachable: skipped\n')
    continue
  }
  summary[engine] = await runEngine(engine)
}
fs.mkdirSync('.bench', { recursive: true })
fs.writeFileSync('.bench/groups.json', `${JSON.stringify(summary, null, 2)}\n`)
console.log(JSON.stringify(summary, null, 2))
agent.destroy()
