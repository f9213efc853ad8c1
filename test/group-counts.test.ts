/**
 * The population counts (groups/counts.ts) against the groups themselves, on every SQL engine:
 * after random writes through every write path (bulk $set/$set_once/$unset/$union/$remove, the
 * API's create, update_property and delete_property, capture's $groupidentify), property values,
 * property definitions, count() with filters on one key and the breakdown by a key, all answered
 * from the counts, equal the same questions answered by reading every group. Values of mixed
 * types (numbers, numeric strings, booleans, null, lists, objects), a key past the counted
 * distinct values and one with a long value (both then read the groups) are in the data.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { migrate } from '../src/db/migrate.ts'
import { migrations } from '../src/db/migrations/index.ts'
import { parseProperties } from '../src/filters/parse.ts'
import { TRUE } from '../src/filters/tree.ts'
import { MAX_COUNTED_VALUES } from '../src/groups/counts.ts'
import {
  type AggregateQuery,
  aggregatePopulation,
  aggregateSql,
  listPopulation,
  valuesCounted,
} from '../src/groups/population.ts'
import { propertyValues, propertyValuesScan } from '../src/groups/properties.ts'
import { sendCapture } from './helpers/capture.ts'
import { client, createTenant, openTestDatabase, startServer, type TestServer } from './helpers/harness.ts'

/** A small deterministic PRNG (mulberry32), so a failure replays. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const KEYS = ['plan', 'seats', 'tags', 'meta', 'uniq', 'long', 'never']

describe('population counts equal the groups', () => {
  let server: TestServer
  before(async () => {
    server = await startServer()
  })
  after(() => server.close())

  it('after random writes through every path', async () => {
    const t = await createTenant(server.database)
    const api = client(server.url, t.key)
    const base = `/api/projects/${t.project.id}`
    const random = prng(19)
    const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)] as T
    const plan = () => pick<unknown>(['pro', 'free', 'Pro', '5', 5, 5.0, true, 'true', null, ''])
    const seats = () => pick<unknown>([1, 2, 10, '10', 2.5, -1, '0x10', null])
    const value = () =>
      pick<() => Record<string, unknown>>([
        () => ({ plan: plan() }),
        () => ({ seats: seats() }),
        () => ({ tags: pick([['a'], ['a', 'b'], []]) }),
        () => ({ meta: pick([{ a: 1 }, { a: 1, b: [2] }, {}]) }),
        () => ({ long: random() < 0.1 ? 'L'.repeat(250) : pick(['short', 'x']) }),
      ])()
    const keyOf = (i: number) => `g-${i}`
    const N = MAX_COUNTED_VALUES + 50

    const bulk = async (operations: unknown[]) => {
      const res = await api.post(`${base}/groups/bulk/`, { body: { operations } })
      assert.equal(res.status, 200, res.text)
    }
    const created = []
    for (let i = 0; i < N; i++)
      created.push({
        group_type: 'company',
        group_key: keyOf(i),
        $set: { plan: plan(), seats: seats(), uniq: `u${i}`, ...(random() < 0.5 ? value() : {}) },
      })
    for (let i = 0; i < created.length; i += 1000) await bulk(created.slice(i, i + 1000))

    const ops = []
    for (let n = 0; n < 400; n++) {
      const key = keyOf(Math.floor(random() * (N + 20)))
      const kind = pick(['$set', '$set_once', '$unset', '$union', '$remove'])
      if (kind === '$unset') ops.push({ group_type_index: 0, group_key: key, $unset: [pick(KEYS)] })
      else if (kind === '$union')
        ops.push({ group_type_index: 0, group_key: key, $union: { tags: ['b', 'c'] } })
      else if (kind === '$remove') ops.push({ group_type_index: 0, group_key: key, $remove: { tags: 'a' } })
      else ops.push({ group_type_index: 0, group_key: key, [kind]: value() })
    }
    await bulk(ops)
    for (let n = 0; n < 30; n++) {
      const q = `group_type_index=0&group_key=${keyOf(Math.floor(random() * N))}`
      const res =
        random() < 0.5
          ? await api.post(`${base}/groups/update_property/?${q}`, {
              body: { key: 'plan', value: plan() ?? 'none' },
            })
          : await api.post(`${base}/groups/delete_property/?${q}`, { body: { $unset: pick(KEYS) } })
      assert.equal(res.status, 200, res.text)
    }
    const created2 = await api.post(`${base}/groups/`, {
      body: { group_type_index: 0, group_key: 'api-made', group_properties: { plan: 'pro', seats: '10' } },
    })
    assert.equal(created2.status, 201, created2.text)
    const batch = Array.from({ length: 40 }, (_, n) => ({
      event: '$groupidentify',
      distinct_id: 'd',
      properties: {
        $group_type: 'company',
        $group_key: keyOf(n % 2 === 0 ? Math.floor(random() * N) : N + 100 + n),
        $group_set: value(),
      },
    }))
    const captured = await sendCapture(server.url, '/batch/', { api_key: t.project.api_token, batch })
    assert.equal(captured.status, 200, JSON.stringify(captured.body))

    const database = server.database
    assert.equal(await valuesCounted(database, t.project.id, 0, 'plan'), true)
    assert.equal(await valuesCounted(database, t.project.id, 0, 'uniq'), false, 'past the distinct values')
    assert.equal(await valuesCounted(database, t.project.id, 0, 'long'), false, 'a long value')

    const groups = await database.db
      .selectFrom('groups')
      .select('group_properties')
      .where('project_id', '=', t.project.id)
      .execute()
    const definitions = new Map<string, number>()
    for (const g of groups)
      for (const k of Object.keys(JSON.parse(g.group_properties)))
        definitions.set(k, (definitions.get(k) ?? 0) + 1)
    const defs = await api.get(`${base}/groups/property_definitions/`)
    assert.equal(defs.status, 200, defs.text)
    const listed = defs.body['0'] as { name: string; count: number }[]
    assert.deepEqual(new Map(listed.map((d) => [d.name, d.count])), definitions)

    const scan = async (q: AggregateQuery) =>
      (await aggregateSql(database, q).execute(database.db)).rows.map((row) =>
        Object.values(row).map((v, i) =>
          i >= q.groupBy.length ? Number(v) : v === null ? null : JSON.parse(String(v)),
        ),
      )
    const query = async (body: Record<string, unknown>) => {
      const res = await api.post(`${base}/query/`, {
        body: { query: { kind: 'GroupsQuery', group_type_index: 0, limit: 5000, ...body } },
      })
      assert.equal(res.status, 200, res.text)
      return res.body.results
    }
    const now = Date.now()
    for (const key of KEYS) {
      const values = await api.get(`${base}/groups/property_values/?group_type_index=0&key=${key}`)
      assert.equal(values.status, 200, values.text)
      assert.deepEqual(
        values.body.results,
        await propertyValuesScan(database, t.project.id, 0, key, undefined),
        key,
      )
      const filtered = await api.get(`${base}/groups/property_values/?group_type_index=0&key=${key}&value=R`)
      assert.deepEqual(
        filtered.body.results,
        await propertyValuesScan(database, t.project.id, 0, key, 'R'),
        key,
      )

      const common = { projectId: t.project.id, index: 0, search: null, limit: 5000, offset: 0 }
      const breakdown = await query({ select: [`properties.${key}`, 'count()'], orderBy: ['count() DESC'] })
      assert.deepEqual(
        breakdown,
        await scan({
          ...common,
          where: TRUE,
          groupBy: [{ kind: 'property', key }],
          aggregates: [{ fn: 'count' }],
          order: [{ column: 1, desc: true }],
        }),
        `breakdown by ${key}`,
      )
      for (const filter of [
        { operator: 'exact', value: 'pro' },
        { operator: 'exact', value: ['5', 'true'] },
        { operator: 'is_not', value: 'free' },
        { operator: 'is_set' },
        { operator: 'is_not_set' },
        { operator: 'gt', value: 2 },
        { operator: 'icontains', value: 'r' },
      ]) {
        const properties = [{ type: 'group', group_type_index: 0, key, ...filter }]
        const counted = await query({ select: ['count()'], properties })
        const where = parseProperties(properties, 'properties', { now, groupTypeIndex: 0 })
        const expected = await scan({
          ...common,
          where,
          groupBy: [],
          aggregates: [{ fn: 'count' }],
          order: [],
        })
        assert.deepEqual(counted, expected, `${key} ${JSON.stringify(filter)}`)
      }
    }
    assert.deepEqual(await query({ select: ['count()'] }), [[groups.length]])
    assert.deepEqual(await query({ select: ['count()'], offset: 1 }), [])
  })
})

describe('migration 010 on existing groups', () => {
  it('counts them and indexes their names for search', async () => {
    const { database, cleanup } = await openTestDatabase()
    try {
      const before010 = migrations.findIndex((m) => m.name === '010-group-counts')
      await migrate(database, migrations.slice(0, before010))
      const t = await createTenant(database)
      const rows = Array.from({ length: 30 }, (_, i) => ({
        project_id: t.project.id,
        group_type_index: i % 2,
        group_key: `Key-${i}`,
        group_properties: JSON.stringify({
          name: `Ünïcode ${i}`,
          plan: i % 3 === 0 ? 'pro' : i,
          ...(i % 5 ? {} : { x: null }),
        }),
        created_at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
        updated_at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
        display_fold: '',
        key_fold: '',
      }))
      await database.db.insertInto('groups').values(rows).execute()
      // 009 filled its columns for rows present then; these rows arrive after it, so do it as 009 does.
      for (const r of rows)
        await database.db
          .updateTable('groups')
          .set({
            display_fold: JSON.parse(r.group_properties).name.toLowerCase(),
            key_fold: r.group_key.toLowerCase(),
          })
          .where('group_key', '=', r.group_key)
          .where('project_id', '=', t.project.id)
          .execute()
      assert.deepEqual(await migrate(database), ['010-group-counts'])
      const common = { projectId: t.project.id, search: null, limit: 100, offset: 0, where: TRUE }
      for (const index of [0, 1]) {
        const q: AggregateQuery = {
          ...common,
          index,
          groupBy: [{ kind: 'property', key: 'plan' }],
          aggregates: [{ fn: 'count' }],
          order: [],
        }
        assert.equal(await valuesCounted(database, t.project.id, index, 'plan'), true)
        const scanned = (await aggregateSql(database, q).execute(database.db)).rows.map((r) => [
          r.c0 === null ? null : JSON.parse(String(r.c0)),
          Number(r.c1),
        ])
        assert.deepEqual(await aggregatePopulation(database, q), scanned)
        assert.ok(scanned.length > 1)
        assert.deepEqual(
          await propertyValues(database, t.project.id, index, 'plan', undefined),
          await propertyValuesScan(database, t.project.id, index, 'plan', undefined),
        )
      }
      const found = await listPopulation(database, {
        ...common,
        index: 1,
        search: 'ünïcode 7',
        order: [],
        rankFirst: true,
      })
      assert.deepEqual(
        found.map((g) => g.group_key),
        ['Key-7'],
      )
    } finally {
      await cleanup()
    }
  })
})
