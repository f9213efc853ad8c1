/**
 * The bulk upsert endpoint, through HTTP on every SQL engine: per-operation results in order, the
 * order of operations within one, invalid operations changing nothing while the valid ones commit,
 * retries, group type registration, the bounds, and concurrent requests on the same new groups.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  client,
  createTenant,
  envelope,
  startServer,
  type Tenant,
  type TestServer,
} from './helpers/harness.ts'

describe('groups bulk upsert', () => {
  let server: TestServer
  before(async () => {
    server = await startServer()
  })
  after(() => server.close())

  const bulkOf = (t: Tenant) => (operations: unknown) =>
    client(server.url, t.key).post(`/api/projects/${t.project.id}/groups/bulk/`, { body: { operations } })
  const findOf = (t: Tenant) => async (index: number, key: string) => {
    const res = await client(server.url, t.key).get(
      `/api/projects/${t.project.id}/groups/find/?group_type_index=${index}&group_key=${encodeURIComponent(key)}`,
    )
    return res.status === 200 ? res.body.group_properties : undefined
  }

  it('answers one result per operation, in order; invalid ones change nothing', async () => {
    const t = await createTenant(server.database)
    const bulk = bulkOf(t)
    const find = findOf(t)
    const big = 'x'.repeat(300 * 1024)
    const deep = JSON.parse(`${'{"a":'.repeat(40)}1${'}'.repeat(40)}`)
    const res = await bulk([
      { group_type: 'company', group_key: 'acme', $set: { name: 'Acme', tags: ['a'], plan: 'free' } },
      {
        group_type_index: 0,
        group_key: 'acme',
        $set: { plan: 'pro' },
        $set_once: { plan: 'x', since: 2020 },
      },
      { group_type_index: 0, group_key: 'acme', $set_once: { plan: 'y' } },
      {
        group_type_index: 0,
        group_key: 'acme',
        $union: { tags: ['a', 'b'], new: [1] },
        $remove: { tags: 'a' },
      },
      { group_type_index: 0, group_key: 'acme', $set: { big } },
      { group_type_index: 0, group_key: 'acme', $set: { deep } },
      { group_type_index: 0, group_key: 'acme', $union: { name: ['z'] } },
      { group_type_index: 0, group_key: 'acme', $unset: ['since', 'absent'] },
      { group_type_index: 0, group_key: 'globex' },
      { group_type_index: 0, group_key: 'k'.repeat(401) },
      { group_type_index: 0, group_key: '' },
      { group_type_index: 0, group_key: 'a\u0000b' },
      { group_type_index: 0, group_key: 'x', $set: { ['p'.repeat(401)]: 1 } },
      { group_type_index: 5, group_key: 'x' },
      { group_type_index: 0, group_type: 'company', group_key: 'x' },
      { group_key: 'x' },
      { group_type_index: 0, group_key: 'x', $set: [] },
      { group_type_index: 0, group_key: 'x', $unset: 'plan' },
      { group_type_index: 0, group_key: 'x', $union: { tags: 'a' } },
      { group_type_index: 0, group_key: 'x', $increment: { n: 1 } },
      'acme',
      null,
    ])
    assert.equal(res.status, 200, res.text)
    const error = (code: string, detail: string) => ({ status: 'error', code, detail })
    assert.deepEqual(res.body.results, [
      { status: 'created' },
      { status: 'updated' },
      { status: 'unchanged' },
      { status: 'updated' },
      error('max_length', `The group's properties would exceed ${256 * 1024} bytes of JSON.`),
      error('max_depth', "The group's properties would nest deeper than 32 levels."),
      error('invalid_input', '$union.name: the group\'s "name" is not a list.'),
      { status: 'updated' },
      { status: 'created' },
      error('max_length', 'group_key may have at most 400 characters.'),
      error('invalid_input', 'group_key must be a non-empty string.'),
      error('null_characters_not_allowed', 'Null characters are not allowed.'),
      error('max_length', '$set: a property key may have at most 400 characters.'),
      error('invalid_input', 'group_type_index must be an integer from 0 to 4.'),
      error('invalid_input', 'Give group_type_index or group_type (a name), not both.'),
      error('invalid_input', 'Give group_type_index or group_type (a name), not both.'),
      error('invalid_input', '$set must be an object.'),
      error('invalid_input', '$unset must be a list of keys.'),
      error('invalid_input', '$union.tags must be a list.'),
      error('invalid_input', 'Unknown operation key "$increment".'),
      error('invalid_input', 'An operation must be an object.'),
      error('invalid_input', 'An operation must be an object.'),
    ])
    assert.deepEqual(await find(0, 'acme'), { name: 'Acme', tags: ['b'], plan: 'pro', new: [1] })
    assert.deepEqual(await find(0, 'globex'), {})
    assert.equal(await find(0, 'x'), undefined)
    // A retry of the same request leaves the same groups (every operation is idempotent).
    const again = await bulk([
      { group_type: 'company', group_key: 'acme', $set: { name: 'Acme', tags: ['a'], plan: 'free' } },
      {
        group_type_index: 0,
        group_key: 'acme',
        $set: { plan: 'pro' },
        $set_once: { plan: 'x', since: 2020 },
      },
      {
        group_type_index: 0,
        group_key: 'acme',
        $union: { tags: ['a', 'b'], new: [1] },
        $remove: { tags: 'a' },
      },
      { group_type_index: 0, group_key: 'acme', $unset: ['since'] },
      { group_type_index: 0, group_key: 'globex' },
    ])
    assert.deepEqual(again.body.results.at(-1), { status: 'unchanged' })
    assert.deepEqual(await find(0, 'acme'), { name: 'Acme', tags: ['b'], plan: 'pro', new: [1] })
  })

  it('registers group type names as capture does: lowest free index, the sixth refused', async () => {
    const t = await createTenant(server.database)
    const res = await bulkOf(t)(
      ['a', 'b', 'a', 'c', 'd', 'e', 'f'].map((name) => ({ group_type: name, group_key: `${name}-1` })),
    )
    assert.deepEqual(
      res.body.results.map((r: { status: string; code?: string }) => r.code ?? r.status),
      ['created', 'created', 'unchanged', 'created', 'created', 'created', 'group_type_limit_reached'],
    )
    const types = await client(server.url, t.key).get(`/api/projects/${t.project.id}/groups_types/`)
    assert.deepEqual(
      types.body.map((g: { group_type: string; group_type_index: number }) => [
        g.group_type,
        g.group_type_index,
      ]),
      [
        ['a', 0],
        ['b', 1],
        ['c', 2],
        ['d', 3],
        ['e', 4],
      ],
    )
    assert.deepEqual(await findOf(t)(4, 'e-1'), {})
  })

  it('bounds the request: 1,000 operations and 10 MiB', async () => {
    const t = await createTenant(server.database)
    const bulk = bulkOf(t)
    const many = Array.from({ length: 1001 }, (_, i) => ({ group_type_index: 0, group_key: `g${i}` }))
    const tooMany = await bulk(many)
    assert.equal(tooMany.status, 400)
    assert.deepEqual(
      tooMany.body,
      envelope(
        'validation_error',
        'max_length',
        'Ensure this field has no more than 1000 elements.',
        'operations',
      ),
    )
    const thousand = await bulk(many.slice(0, 1000))
    assert.equal(thousand.status, 200)
    assert.equal(thousand.body.results.length, 1000)
    assert.ok(thousand.body.results.every((r: { status: string }) => r.status === 'created'))
    const huge = await bulk([
      { group_type_index: 0, group_key: 'h', $set: { x: 'y'.repeat(10 * 1024 * 1024) } },
    ])
    assert.equal(huge.status, 413)
    const notList = await bulk({ a: 1 })
    assert.equal(notList.status, 400)
    assert.equal(notList.body.attr, 'operations')
    const missing = await client(server.url, t.key).post(`/api/projects/${t.project.id}/groups/bulk/`, {
      body: {},
    })
    assert.deepEqual(
      missing.body,
      envelope('validation_error', 'required', 'This field is required.', 'operations'),
    )
  })

  it('concurrent requests on the same new groups all apply', async () => {
    const t = await createTenant(server.database)
    const keys = Array.from({ length: 50 }, (_, i) => `c${i}`)
    const requests = Array.from({ length: 6 }, (_, r) =>
      bulkOf(t)(keys.map((key) => ({ group_type_index: 0, group_key: key, $union: { seen: [r] } }))),
    )
    const answers = await Promise.all(requests)
    for (const a of answers) assert.equal(a.status, 200, a.text)
    const created = answers
      .flatMap((a) => a.body.results)
      .filter((r: { status: string }) => r.status === 'created')
    assert.equal(created.length, keys.length, 'each group created once')
    for (const key of keys.slice(0, 5)) {
      const props = await findOf(t)(0, key)
      assert.deepEqual([...props.seen].sort(), [0, 1, 2, 3, 4, 5], key)
    }
  })
})
