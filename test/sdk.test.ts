/** The real posthog-node SDK pointed at a running groupd creates group types and groups. */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { PostHog } from 'posthog-node'
import { client, createTenant, startServer, storedEvents, type TestServer } from './helpers/harness.ts'

describe('posthog-node SDK', () => {
  let server: TestServer
  before(async () => {
    server = await startServer()
  })
  after(() => server.close())

  for (const disableCompression of [false, true]) {
    it(`capture with groups, groupIdentify, batching and shutdown (compression ${disableCompression ? 'off' : 'on'})`, async () => {
      const t = await createTenant(server.database)
      const posthog = new PostHog(t.project.api_token, {
        host: server.url,
        flushAt: 7,
        flushInterval: 50,
        disableCompression,
      })
      const errors: unknown[] = []
      posthog.on('error', (error) => errors.push(error))
      posthog.groupIdentify({
        groupType: 'company',
        groupKey: 'acme',
        properties: { name: 'Acme', plan: 'free' },
      })
      for (let i = 0; i < 20; i++) {
        posthog.capture({
          distinctId: `user-${i % 3}`,
          event: 'report viewed',
          groups: { company: 'acme', workspace: `ws-${i % 2}` },
        })
      }
      posthog.groupIdentify({
        groupType: 'company',
        groupKey: 'acme',
        properties: { plan: 'pro', seats: 12 },
      })
      posthog.groupIdentify({ groupType: 'workspace', groupKey: 'ws-1', properties: { region: 'eu' } })
      await posthog.shutdown()
      assert.deepEqual(errors, [])

      const api = client(server.url, t.key)
      const types = await api.get(`/api/projects/${t.project.id}/groups_types/`)
      assert.deepEqual(
        types.body.map((g: { group_type: string; group_type_index: number }) => [
          g.group_type_index,
          g.group_type,
        ]),
        [
          [0, 'company'],
          [1, 'workspace'],
        ],
      )
      const acme = await api.get(
        `/api/projects/${t.project.id}/groups/find/?group_type_index=0&group_key=acme`,
      )
      assert.equal(acme.status, 200)
      assert.deepEqual(acme.body.group_properties, { name: 'Acme', plan: 'pro', seats: 12 })
      const ws = await api.get(`/api/projects/${t.project.id}/groups/find/?group_type_index=1&group_key=ws-1`)
      assert.deepEqual(ws.body.group_properties, { region: 'eu' })
      const stored = await storedEvents(server, t.project.id)
      assert.equal(stored.length, 23)
      const views = stored.filter((e) => e.event === 'report viewed')
      assert.ok(views.every((e) => e.group_0 === 'acme' && (e.group_1 === 'ws-0' || e.group_1 === 'ws-1')))
    })
  }
})
