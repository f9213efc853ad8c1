/** Save-time validation of metric filters: every refused case answers 400 attr filters with its sentence. */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { client, createTenant, ENGINE, startServer, type Tenant, type TestServer } from './helpers/harness.ts'

const events = [{ id: '$pageview', type: 'events' }]

/** [case, filters, pattern the detail must match]. */
const REFUSED: [string, unknown, RegExp][] = [
  [
    'a property filter that is not an object',
    { events, properties: ['x'] },
    /^properties\[0\] must be an object with a "key"\.$/,
  ],
  [
    'a property filter without key',
    { events, properties: [{ value: 1 }] },
    /^properties\[0\] has no "key"\.$/,
  ],
  [
    'an unknown operator',
    { events, properties: [{ key: 'a', operator: 'almost' }] },
    /operator "almost" is unknown/,
  ],
  [
    'an unsupported operator',
    { events, properties: [{ key: 'a', operator: 'semver_gt', value: '1.0.0' }] },
    /operator "semver_gt" is not supported/,
  ],
  [
    'is_cleaned_path_exact',
    { events, properties: [{ key: '$pathname', operator: 'is_cleaned_path_exact', value: '/a' }] },
    /operator "is_cleaned_path_exact" is not supported/,
  ],
  [
    'a person filter',
    { events, properties: [{ key: 'email', value: 'a', type: 'person' }] },
    /"person" are not supported \(groupd has no persons\)/,
  ],
  [
    'a cohort filter',
    { events, properties: [{ key: 'id', value: 3, type: 'cohort' }] },
    /"cohort" are not supported/,
  ],
  [
    'a hogql filter',
    { events, properties: [{ key: '1 = 1', type: 'hogql' }] },
    /"hogql" are not supported \(groupd has no HogQL\)/,
  ],
  [
    'an element filter',
    { events, properties: [{ key: 'selector', value: 'a', type: 'element' }] },
    /"element" are not supported/,
  ],
  [
    'a session filter',
    { events, properties: [{ key: '$session_duration', value: 1, type: 'session' }] },
    /"session" are not supported/,
  ],
  [
    'an unknown filter type',
    { events, properties: [{ key: 'a', value: 1, type: 'weird' }] },
    /type "weird" is not supported/,
  ],
  [
    'non-empty actions',
    { actions: [{ id: 1, type: 'actions' }] },
    /^actions are not supported: groupd has no actions/,
  ],
  [
    'an action entry among events',
    { events: [{ id: 1, type: 'actions' }] },
    /entries of type "actions" are not supported/,
  ],
  [
    'between with one number',
    { events, properties: [{ key: 'a', operator: 'between', value: [1] }] },
    /"between" needs a list of two numbers/,
  ],
  [
    'between with text',
    { events, properties: [{ key: 'a', operator: 'between', value: ['a', 'b'] }] },
    /"between" needs a list of two numbers/,
  ],
  [
    'between with min > max',
    { events, properties: [{ key: 'a', operator: 'not_between', value: [5, 1] }] },
    /"not_between" needs/,
  ],
  [
    'a regex that does not compile',
    { events, properties: [{ key: 'a', operator: 'regex', value: '(' }] },
    /"\(" is not a valid regular expression/,
  ],
  [
    'a regex over 1,000 characters',
    { events, properties: [{ key: 'a', operator: 'regex', value: 'a'.repeat(1001) }] },
    /a regular expression may have at most 1000 characters/,
  ],
  [
    'a relative date it cannot read',
    { events, properties: [{ key: 'a', operator: 'is_date_before', value: '-7x' }] },
    /"-7x" is not a date/,
  ],
  [
    'an object as value',
    { events, properties: [{ key: 'a', value: { b: 1 } }] },
    /value must be a string, a number, a boolean/,
  ],
  [
    'a group filter without index',
    { events, properties: [{ key: 'a', value: 1, type: 'group' }] },
    /needs a group_type_index from 0 to 4/,
  ],
  [
    'an unknown event column',
    { events, properties: [{ key: 'elements_chain', value: 'a', type: 'event_metadata' }] },
    /event_metadata key "elements_chain" is not supported/,
  ],
  [
    'person_id on events',
    { events, properties: [{ key: 'person_id', value: 'a', type: 'event_metadata' }] },
    /needs persons/,
  ],
  ['a malformed group', { events, properties: { type: 'AND', values: 'x' } }, /values must be a list/],
  ['events not a list', { events: 'x' }, /^events must be a list\.$/],
  [
    'filter_test_accounts not a boolean',
    { events, filter_test_accounts: 'yes' },
    /filter_test_accounts must be true or false/,
  ],
]

describe('metric filters validated at save', () => {
  let server: TestServer
  let t: Tenant
  let path: string
  before(async () => {
    server = await startServer()
    t = await createTenant(server.database)
    path = `/api/projects/${t.project.id}/groups_types/0/metrics/`
  })
  after(() => server.close())

  for (const [name, filters, detail] of REFUSED) {
    it(`refuses ${name}`, async () => {
      const res = await client(server.url, t.key).post(path, { body: { name: 'm', filters } })
      assert.equal(res.status, 400, res.text)
      assert.equal(res.body.type, 'validation_error')
      assert.equal(res.body.attr, 'filters')
      assert.match(res.body.detail, detail)
    })
  }

  it('refuses on PUT and PATCH too, and keeps the stored metric unchanged', async () => {
    const api = client(server.url, t.key)
    const created = await api.post(path, { body: { name: 'kept', filters: { events } } })
    assert.equal(created.status, 201)
    const bad = { events, properties: [{ key: 'email', value: 'a', type: 'person' }] }
    for (const method of ['put', 'patch'] as const) {
      const res = await api[method](`${path}${created.body.id}/`, { body: { name: 'kept', filters: bad } })
      assert.equal(res.status, 400, res.text)
      assert.equal(res.body.attr, 'filters')
    }
    const stored = await api.get(`${path}${created.body.id}/`)
    assert.deepEqual(stored.body.filters, { events })
  })

  it('stores filters it does not use verbatim, and keeps PostHog’s shapes working', async () => {
    const api = client(server.url, t.key)
    for (const filters of [
      {},
      { foo: 'bar' },
      { events: [], actions: [], properties: [] },
      {
        events: [{ id: '$pageview', name: '$pageview', type: 'events', order: 0, properties: [] }],
        actions: [],
        properties: [{ key: '$browser', value: ['Chrome'], operator: 'exact', type: 'event' }],
        filter_test_accounts: false,
        custom: { nested: [1, 2] },
      },
    ]) {
      const res = await api.post(path, { body: { name: `ok ${JSON.stringify(filters)}`, filters } })
      assert.equal(res.status, 201, res.text)
      assert.deepEqual(res.body.filters, filters)
    }
  })

  it('checks a regex with the engine that runs it (PostgreSQL refuses what JavaScript accepts)', async () => {
    const filters = { events, properties: [{ key: 'a', operator: 'regex', value: '\\p{L}' }] }
    const res = await client(server.url, t.key).post(path, { body: { name: 'engine regex', filters } })
    if (ENGINE === 'postgres') {
      assert.equal(res.status, 400, res.text)
      assert.equal(res.body.attr, 'filters')
      assert.match(res.body.detail, /is not a valid regular expression/)
    } else assert.equal(res.status, 201, res.text)
  })
})
