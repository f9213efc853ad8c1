/**
 * Sharding on ClickHouse's own Distributed engine: the same events captured into a single
 * ClickHouse and into a two-shard cluster (GROUPD_CLICKHOUSE_CLUSTER) give the same metric values
 * for every group, each group's rows live on one shard, and both shards hold data. Needs
 * GROUPD_TEST_CLICKHOUSE_SHARDS (the HTTP URLs of the cluster's servers, comma-separated; the first
 * is the one groupd talks to) and GROUPD_TEST_CLICKHOUSE_CLUSTER (its name in remote_servers).
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ClickHouse, identifier } from '../src/events/clickhouse.ts'
import { clickhouseMigrations } from '../src/events/clickhouse-migrations.ts'
import { ClickHouseEventsStore, EVENTS_TABLE } from '../src/events/clickhouse-store.ts'
import { sendCapture } from './helpers/capture.ts'
import {
  CLICKHOUSE_CLUSTER,
  CLICKHOUSE_SHARDS,
  createTenant,
  EVENTS,
  startServer,
  type Tenant,
  type TestServer,
} from './helpers/harness.ts'
import { createMetric, DAY, valuesAt } from './helpers/metric-values.ts'
import { groupd } from './helpers/processes.ts'

const [SHARDS, CLUSTER] = [CLICKHOUSE_SHARDS, CLICKHOUSE_CLUSTER]
const skip =
  EVENTS !== 'clickhouse'
    ? 'ClickHouse pass only (GROUPD_TEST_EVENTS=clickhouse)'
    : SHARDS.length < 2 || !CLUSTER
      ? 'needs GROUPD_TEST_CLICKHOUSE_SHARDS (two or more) and GROUPD_TEST_CLICKHOUSE_CLUSTER'
      : false

const NOW = Date.now()
const COMPANIES = Array.from({ length: 12 }, (_, i) => `co-${i}`)
const PLANS = ['free', 'pro']

/** A deterministic PRNG: both servers get the very same events. */
function rng(seed: number) {
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
    return seed / 2 ** 31
  }
}

function events() {
  const random = rng(20261130)
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)] as T
  const identify = COMPANIES.flatMap((company, i) => [
    {
      event: '$groupidentify',
      distinct_id: 'u',
      uuid: randomUUID(),
      properties: {
        $group_type: 'company',
        $group_key: company,
        $group_set: { plan: pick(PLANS), seats: i },
      },
    },
    {
      event: '$groupidentify',
      distinct_id: 'u',
      uuid: randomUUID(),
      properties: {
        $group_type: 'team',
        $group_key: `team-${i % 3}`,
        $group_set: { region: i % 2 ? 'eu' : 'us' },
      },
    },
  ])
  const used = Array.from({ length: 600 }, () => ({
    event: pick(['used', 'paid', 'viewed']),
    distinct_id: `user-${Math.floor(random() * 20)}`,
    uuid: randomUUID(),
    timestamp: new Date(NOW - Math.floor(random() * 20 * DAY)).toISOString(),
    properties: {
      amount: Math.floor(random() * 100),
      tier: pick(['a', 'b', 'c']),
      $groups: { company: pick(COMPANIES), team: `team-${Math.floor(random() * 3)}` },
    },
  }))
  return [...identify, ...used]
}

const METRICS = [
  { name: 'used', filters: { events: [{ id: 'used' }] } },
  { name: 'revenue', math: 'sum' as const, math_property: 'amount', filters: { events: [{ id: 'paid' }] } },
  {
    name: 'tier a on pro',
    filters: {
      events: [{ id: null }],
      properties: [
        { key: 'tier', value: 'a' },
        { key: 'plan', value: 'pro', type: 'group', group_type_index: 0 },
      ],
    },
  },
  {
    name: 'eu teams',
    display: 'sparkline' as const,
    filters: {
      events: [{ id: 'viewed' }],
      properties: [{ key: 'region', value: 'eu', type: 'group', group_type_index: 1 }],
    },
  },
]

describe('sharding: a two-shard cluster gives the single node’s metric values', { skip }, () => {
  let single: TestServer
  let sharded: TestServer
  const tenants = new Map<TestServer, Tenant>()
  before(async () => {
    single = await startServer()
    sharded = await startServer({ clickhouse: { url: SHARDS[0] as string, cluster: CLUSTER } })
    const batch = events()
    for (const server of [single, sharded]) {
      const t = await createTenant(server.database)
      tenants.set(server, t)
      for (const metric of METRICS) await createMetric(server.url, t, metric)
      for (let i = 0; i < batch.length; i += 100) {
        const res = await sendCapture(server.url, '/batch/', {
          api_key: t.project.api_token,
          batch: batch.slice(i, i + 100),
        })
        assert.equal(res.status, 200)
      }
    }
  })
  after(async () => {
    await single?.close()
    await sharded?.close()
  })

  it('every group of either type has the same values on both', async () => {
    const strip = (rs: Awaited<ReturnType<typeof valuesAt>>) => rs.map(({ id: _, ...r }) => r)
    let nonZero = 0
    for (const [index, keys] of [
      [0, COMPANIES],
      [1, ['team-0', 'team-1', 'team-2']],
    ] as const) {
      for (const key of keys) {
        const a = await valuesAt(single, tenants.get(single) as Tenant, NOW, { index, key })
        const b = await valuesAt(sharded, tenants.get(sharded) as Tenant, NOW, { index, key })
        assert.deepEqual(strip(b), strip(a), `group ${index}/${key}`)
        nonZero += a.filter((r) => r.value > 0).length
      }
    }
    assert.ok(nonZero > 20, 'the metrics matched events')
  })

  it('each group’s rows live on one shard, and every shard holds some', async () => {
    assert.ok(sharded.events instanceof ClickHouseEventsStore)
    const database = sharded.events.clickhouse.database
    const projectId = (tenants.get(sharded) as Tenant).project.id
    const owners = new Map<string, number>()
    for (const [n, url] of SHARDS.entries()) {
      const shard = ClickHouse.open({ url, username: 'default', password: '', database, cluster: null })
      try {
        const { rows } = await shard.query<{ key: string; n: number }>(
          `SELECT concat(toString(group_type_index), '/', group_key) AS key, count() AS n FROM ${shard.table(`${EVENTS_TABLE}_local`)} WHERE project_id = ${projectId} GROUP BY key`,
        )
        assert.ok(rows.length > 0, `shard ${n + 1} holds no events`)
        for (const row of rows) {
          assert.ok(!owners.has(row.key), `group ${row.key} is on shards ${owners.get(row.key)} and ${n + 1}`)
          owners.set(row.key, n + 1)
        }
      } finally {
        await shard.close()
      }
    }
  })
})

describe('migration records on a cluster', { skip }, () => {
  const database = `groupd_records_${process.pid}`
  const shardOpen = (url: string) =>
    ClickHouse.open({ url, username: 'default', password: '', database, cluster: CLUSTER ?? null })
  /** `groupd migrate --json` through one server of the cluster (its own SQL database each time). */
  const migrateThrough = async (url: string) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'groupd-records-'))
    try {
      const run = await groupd(
        {
          GROUPD_DATA_DIR: dir,
          GROUPD_CLICKHOUSE_URL: `${url}/${database}`,
          GROUPD_CLICKHOUSE_CLUSTER: CLUSTER as string,
        },
        'migrate',
        '--json',
      )
      assert.equal(run.code, 0, run.stderr)
      return JSON.parse(run.stdout).clickhouse_applied as string[]
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
  const [shard1, shard2] = SHARDS as [string, string]
  const dropDatabase = async () => {
    const ch = shardOpen(shard1)
    await ch.command(`DROP DATABASE IF EXISTS ${identifier(database)}${ch.onCluster}`)
    await ch.close()
  }
  before(dropDatabase)
  after(dropDatabase)

  it('migrate through shard 1, then through shard 2: the second applies nothing', async () => {
    const all = clickhouseMigrations.map((m) => m.name)
    assert.deepEqual(await migrateThrough(shard1), all)
    assert.deepEqual(await migrateThrough(shard2), [])
    assert.deepEqual(await migrateThrough(shard1), [])
  })

  it('records an older groupd kept on one server only are read from every server', async () => {
    // The layout before the cluster-wide records: groupd_migrations on shard 1 alone.
    const ch = shardOpen(shard2)
    await ch.command(`DROP TABLE ${ch.table('groupd_migrations_all')}${ch.onCluster}`)
    await ch.command(`DROP TABLE ${ch.table('groupd_migrations')}`)
    await ch.close()
    assert.deepEqual(await migrateThrough(shard2), [])
  })
})
