/**
 * Differential property test: random events and random metric filters give identical metric values
 * on SQLite, PostgreSQL and ClickHouse as the events store (fixed seed; GROUPD_FUZZ_RUNS for more).
 * Needs every engine at once, so it runs in the embedded-engine pass and is skipped in the others,
 * which would repeat it. ClickHouse joins when GROUPD_TEST_CLICKHOUSE_URL answers (required with
 * GROUPD_REQUIRE_CLICKHOUSE).
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import pg from 'pg'
import {
  CLICKHOUSE_URL,
  createTenant,
  ENGINE,
  EVENTS,
  PG_URL,
  startServer,
  type TestServer,
} from './helpers/harness.ts'
import { createMetric, valuesAt } from './helpers/metric-values.ts'

const NOW = Date.parse('2025-10-09T12:11:00Z')
const RUNS = Number(process.env.GROUPD_FUZZ_RUNS ?? 40)

async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    await client.end()
    return true
  } catch {
    return false
  }
}

async function clickhouseReachable(): Promise<boolean> {
  if (!process.env.GROUPD_TEST_CLICKHOUSE_URL) return false
  try {
    return (await fetch(`${CLICKHOUSE_URL.replace(/\/+$/, '')}/ping`)).ok
  } catch {
    return false
  }
}

function skipReason(): string | false {
  if (ENGINE !== 'sqlite' || EVENTS !== 'sql')
    return 'runs once, in the embedded-engine pass (it uses every engine)'
  return false
}

const KEYS = ['k1', 'k2', 'k3']
const TEXTS = [
  'a',
  'A',
  'ab',
  'b%',
  'x_y',
  'É',
  'é',
  '10',
  '9',
  '2.5',
  '-3',
  'true',
  '',
  '2024-01-15',
  '2024-01-15T10:00:00Z',
]
const value = fc.oneof(
  fc.constantFrom(...TEXTS),
  fc.constantFrom(0, 1, 2.5, 10, -3, 1000000),
  fc.boolean(),
  fc.constant(null),
  fc.constant({ o: 1 }),
)
const properties = fc.dictionary(fc.constantFrom(...KEYS), value, { minKeys: 1, maxKeys: 3 })
const event = fc.record({
  event: fc.constantFrom('a', 'b', 'c'),
  /** Hours before NOW, across the current and previous windows of a 7-day metric and beyond. */
  hoursAgo: fc.integer({ min: -2, max: 24 * 16 }),
  properties,
  group: fc.constantFrom('acme', 'acme', 'globex'),
})

const scalar = fc.oneof(
  { arbitrary: fc.constantFrom(...TEXTS), weight: 3 },
  { arbitrary: fc.constantFrom(0, 1, 2.5, 10, -3), weight: 1 },
  { arbitrary: fc.boolean(), weight: 1 },
)
const SAFE_REGEXES = ['^a', 'b$', 'a|b', '[0-9]+', '^(a|A)b?$', '(?i)^a', '\\.5', '^-?[0-9]+$', 'É']
const dates = ['2024-01-16', '2024-01-15T09:00:00Z', '2024-01-15', '-7d', '-1m', '-2w']

const propertyFilter = fc
  .record({
    key: fc.constantFrom(...KEYS),
    type: fc.constantFrom('event', 'feature'),
    op: fc.constantFrom(
      'exact',
      'is_not',
      'in',
      'not_in',
      'icontains',
      'not_icontains',
      'regex',
      'not_regex',
      'gt',
      'gte',
      'lt',
      'lte',
      'between',
      'not_between',
      'is_set',
      'is_not_set',
      'is_date_before',
      'is_date_after',
      'is_date_exact',
    ),
    list: fc.array(scalar, { minLength: 0, maxLength: 3 }),
    one: scalar,
    regex: fc.constantFrom(...SAFE_REGEXES),
    date: fc.constantFrom(...dates),
    range: fc.tuple(fc.integer({ min: -5, max: 12 }), fc.integer({ min: 0, max: 8 })),
    useList: fc.boolean(),
  })
  .map(({ key, type, op, list, one, regex, date, range, useList }) => {
    const base = { key, type, operator: op }
    switch (op) {
      case 'regex':
      case 'not_regex':
        return { ...base, value: useList ? [regex, 'zz'] : regex }
      case 'between':
      case 'not_between':
        return { ...base, value: [range[0], range[0] + range[1]] }
      case 'is_set':
      case 'is_not_set':
        return base
      case 'is_date_before':
      case 'is_date_after':
      case 'is_date_exact':
        return { ...base, value: date }
      default:
        return { ...base, value: useList ? list : one }
    }
  })

type Tree = Record<string, unknown> | { type: 'AND' | 'OR'; values: Tree[] }
const tree: fc.Arbitrary<Tree[]> = fc
  .letrec<{ node: Tree; group: Tree }>((tie) => ({
    node: fc.oneof({ depthSize: 'small' }, propertyFilter, tie('group')),
    group: fc.record({
      type: fc.constantFrom('AND', 'OR'),
      values: fc.array(tie('node'), { maxLength: 3 }),
    }) as fc.Arbitrary<Tree>,
  }))
  .node.chain((n) => fc.array(fc.constant(n), { minLength: 0, maxLength: 1 }))

const metric = fc.record({
  events: fc.array(
    fc.record({
      id: fc.constantFrom('a', 'b', null),
      properties: fc.array(propertyFilter, { maxLength: 2 }),
    }),
    { maxLength: 2 },
  ),
  properties: fc.oneof(
    fc.array(propertyFilter, { maxLength: 1 }),
    fc.array(propertyFilter, { maxLength: 2 }),
    tree,
  ),
  sum: fc.oneof(
    { arbitrary: fc.constant(null), weight: 3 },
    { arbitrary: fc.constantFrom(...KEYS), weight: 1 },
  ),
  interval: fc.constantFrom(7, 8),
  display: fc.constantFrom('number', 'sparkline'),
})

describe('differential: SQLite, PostgreSQL and ClickHouse give the same metric values', {
  skip: skipReason(),
}, () => {
  let sqlite: TestServer
  let postgres: TestServer | undefined
  let clickhouse: TestServer | undefined
  before(async () => {
    sqlite = await startServer({ engine: 'sqlite' })
    if (await postgresReachable()) postgres = await startServer({ engine: 'postgres' })
    else if (process.env.GROUPD_REQUIRE_POSTGRES)
      throw new Error(`PostgreSQL is required but not reachable at ${PG_URL}`)
    if (await clickhouseReachable())
      clickhouse = await startServer({ engine: 'sqlite', events: 'clickhouse' })
    else if (process.env.GROUPD_REQUIRE_CLICKHOUSE)
      throw new Error(`ClickHouse is required but not reachable at ${CLICKHOUSE_URL}`)
  })
  after(async () => {
    await sqlite?.close()
    await postgres?.close()
    await clickhouse?.close()
  })

  it(`random events × random filters (${RUNS} runs)`, async (t) => {
    const servers = [sqlite, postgres, clickhouse].filter((s) => s !== undefined)
    if (servers.length < 2)
      return t.skip('neither PostgreSQL nor ClickHouse reachable: nothing to compare with')
    if (!clickhouse) t.diagnostic('ClickHouse not reachable: comparing SQLite and PostgreSQL only')
    await fc.assert(
      fc.asyncProperty(
        fc.array(event, { minLength: 40, maxLength: 80 }),
        fc.array(metric, { minLength: 4, maxLength: 12 }),
        async (events, metrics) => {
          const batch = events.map((e) => ({
            event: e.event,
            distinct_id: 'u',
            uuid: randomUUID(),
            timestamp: new Date(NOW - e.hoursAgo * 3_600_000).toISOString(),
            properties: { ...e.properties, $groups: { company: e.group } },
          }))
          const results = []
          for (const server of servers) {
            const tenant = await createTenant(server.database)
            const res = await fetch(`${server.url}/batch/`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ api_key: tenant.project.api_token, batch }),
            })
            assert.equal(res.status, 200)
            for (const [i, m] of metrics.entries()) {
              await createMetric(server.url, tenant, {
                name: `m${i}`,
                interval: m.interval,
                display: m.display as 'number' | 'sparkline',
                math: m.sum ? 'sum' : 'count',
                math_property: m.sum,
                filters: {
                  events: m.events.map((e) => ({ ...e, type: 'events' })),
                  properties: m.properties,
                },
              })
            }
            results.push(await valuesAt(server, tenant, NOW))
          }
          const strip = (rs: Awaited<ReturnType<typeof valuesAt>>) =>
            rs.map(({ id: _, value, previous, timeseries, ...rest }) => ({
              ...rest,
              value: round(value),
              previous: round(previous),
              timeseries: timeseries?.map(round) ?? null,
            }))
          const [first, ...others] = results.map(strip)
          for (const other of others) assert.deepEqual(other, first)
        },
      ),
      { numRuns: RUNS, seed: 20261130, endOnFailure: true },
    )
  })
})

/** Sums of floats may differ in the last bits between engines (addition order). */
const round = (n: number) => Math.round(n * 1e9) / 1e9
