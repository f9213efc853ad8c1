/**
 * The real posthog-js (the pinned npm package's CDN bundle, dist/array.js) in headless Chromium,
 * on a page served from another origin, with groupd as its only host. For each way the SDK
 * sends events, group types, groups and their properties must arrive, every request to groupd
 * must answer 2xx and be readable under CORS, and neither the SDK nor the browser may report an
 * error.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { browserSkipReason, DESKTOP_USER_AGENT, launchBrowser } from './helpers/browser.ts'
import { client, createTenant, startServer, type Tenant, type TestServer } from './helpers/harness.ts'

const BUNDLE = fs.readFileSync(new URL('../node_modules/posthog-js/dist/array.js', import.meta.url))
const PAGE = `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">
<title>shop</title></head><body><p>shop</p><script src="/array.js"></script></body></html>`
const BLANK = '<!doctype html><html><head><link rel="icon" href="data:,"></head><body>bye</body></html>'

/** The page's own origin: a plain HTTP server on another port than groupd's. */
async function startSite(): Promise<{ url: string; close(): Promise<void> }> {
  const site = http.createServer((request, response) => {
    const [type, body] =
      request.url === '/array.js'
        ? ['application/javascript', BUNDLE]
        : ['text/html; charset=utf-8', request.url === '/bye' ? BLANK : PAGE]
    response.writeHead(200, { 'content-type': type }).end(body)
  })
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(site.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => site.close(() => resolve())),
  }
}

interface Exchange {
  method: string
  url: string
  type: string
  status: number | 'failed'
  allowOrigin: string | null
}

/** Records what the page exchanged with groupd and every error the browser or the SDK reported. */
function watch(page: Page, groupd: string) {
  const exchanges: Exchange[] = []
  const errors: string[] = []
  const context = page.context()
  context.on('response', async (response) => {
    const request = response.request()
    if (!request.url().startsWith(groupd)) return
    exchanges.push({
      method: request.method(),
      url: request.url().slice(groupd.length),
      type: request.resourceType(),
      status: response.status(),
      allowOrigin: await response.headerValue('access-control-allow-origin'),
    })
  })
  context.on('requestfailed', (request) => {
    if (!request.url().startsWith(groupd)) return
    const { method, url, type } = {
      method: request.method(),
      url: request.url(),
      type: request.resourceType(),
    }
    exchanges.push({ method, url: url.slice(groupd.length), type, status: 'failed', allowOrigin: null })
    errors.push(`request failed: ${method} ${url} ${request.failure()?.errorText}`)
  })
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`)
  })
  page.on('pageerror', (error) => errors.push(`page error: ${error.message}`))
  return { exchanges, errors }
}

/**
 * What groupd itself answered, beacons included: the browser stops reporting once the page is
 * gone. (Fastify writes its headers in one go, so only the status is seen here.)
 */
function served(httpServer: http.Server) {
  const log: Omit<Exchange, 'allowOrigin'>[] = []
  const record = (request: http.IncomingMessage, response: http.ServerResponse) => {
    if (request.url?.startsWith('/api/')) return // the test's own reads, not the SDK's
    response.on('finish', () =>
      log.push({
        method: request.method ?? '',
        url: request.url ?? '',
        type: 'served',
        status: response.statusCode,
      }),
    )
  }
  httpServer.on('request', record)
  return { log, stop: () => httpServer.off('request', record) }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Waits until no exchange has started for `ms`. */
const quiet = (exchanges: Exchange[], ms = 1500) =>
  until('the network to go quiet', async () => {
    const count = exchanges.length
    await new Promise((resolve) => setTimeout(resolve, ms))
    return exchanges.length === count ? true : undefined
  })

const isCapture = (e: { method: string; url: string }) =>
  e.method === 'POST' && /^\/(e|i\/v0\/e|batch)\//.test(e.url)

const scenarios: { name: string; options: Record<string, unknown>; unload?: boolean }[] = [
  { name: 'its defaults', options: {} },
  { name: 'request_batching: false', options: { request_batching: false } },
  { name: 'compression disabled', options: { disable_compression: true } },
  // The longest flush interval (5 s) keeps the events queued until the page goes away: they can
  // only leave by the unload beacon.
  {
    name: 'events sent by sendBeacon on unload',
    options: { request_queue_config: { flush_interval_ms: 5000 } },
    unload: true,
  },
]

describe('posthog-js in headless Chromium', { skip: browserSkipReason() }, () => {
  let server: TestServer
  let site: Awaited<ReturnType<typeof startSite>>
  let browser: Browser
  before(async () => {
    server = await startServer()
    site = await startSite()
    browser = await launchBrowser()
  })
  after(async () => {
    await browser?.close()
    await site?.close()
    await server?.close()
  })

  /** The groups groupd knows for the tenant, once both have arrived with their properties. */
  async function arrived(t: Tenant) {
    const api = client(server.url, t.key)
    const base = `/api/projects/${t.project.id}`
    return until('the groups to arrive', async () => {
      const types = await api.get(`${base}/groups_types/`)
      const index = (name: string) =>
        types.body.find((g: { group_type: string }) => g.group_type === name)?.group_type_index
      const [company, workspace] = [index('company'), index('workspace')]
      if (company === undefined || workspace === undefined) return undefined
      const acme = await api.get(`${base}/groups/find/?group_type_index=${company}&group_key=acme`)
      const ws = await api.get(`${base}/groups/find/?group_type_index=${workspace}&group_key=ws-1`)
      if (
        acme.status !== 200 ||
        ws.status !== 200 ||
        acme.body.group_properties.seats !== 12 ||
        !acme.body.group_properties.name
      )
        return undefined
      return { acme: acme.body.group_properties, ws: ws.body.group_properties }
    })
  }

  for (const { name, options, unload } of scenarios) {
    it(`delivers groups and events with ${name}`, async () => {
      const t = await createTenant(server.database)
      const context = await browser.newContext({ userAgent: DESKTOP_USER_AGENT })
      const groupd = served(server.httpServer)
      try {
        const page = await context.newPage()
        const { exchanges, errors } = watch(page, server.url)
        await page.exposeFunction('reportRequestError', (error: string) => errors.push(`SDK: ${error}`))
        await page.goto(`${site.url}/`)
        // Scripts as text: tsx's transform would wrap functions passed to page.evaluate in a helper
        // the page does not have.
        const config = { api_host: server.url, ...options }
        await page.evaluate(`new Promise((resolve) => posthog.init(${JSON.stringify(t.project.api_token)},
          Object.assign(${JSON.stringify(config)}, {
            on_request_error: (res) => reportRequestError(res.statusCode + ' ' + res.text),
            loaded: () => resolve(),
          })))`)
        // posthog-js sends $pageview and $identify at once: when unloading, let them and the config
        // calls finish before the events that must wait for the beacon.
        await page.evaluate(`posthog.identify('user-1', { email: 'ada@example.com' })`)
        if (unload) await quiet(exchanges)
        const [sentBefore, servedBefore] = [exchanges.length, groupd.log.length]
        await page.evaluate(`
          posthog.group('company', 'acme', { name: 'Acme', plan: 'pro' })
          posthog.group('workspace', 'ws-1', { region: 'eu' })
          posthog.capture('purchase', { amount: 3 })
          posthog.group('company', 'acme', { seats: 12 })`)
        if (unload) {
          // Leaving while a flags request is in flight would abort it (the browser's doing).
          await quiet(exchanges, 400)
          assert.deepEqual(
            exchanges.slice(sentBefore).filter(isCapture),
            [],
            'nothing captured before unload',
          )
          await page.goto(`${site.url}/bye`)
        }
        const groups = await arrived(t)
        assert.deepEqual(groups, { acme: { name: 'Acme', plan: 'pro', seats: 12 }, ws: { region: 'eu' } })

        // Its own request: without request batching it may land after the groups' last one.
        const events = await until('the purchase event', async () => {
          const rows = await server.database.db
            .selectFrom('events')
            .select(['event', 'distinct_id', 'group_0', 'group_1'])
            .where('project_id', '=', t.project.id)
            .where('event', '=', 'purchase')
            .execute()
          return rows.length > 0 ? rows : undefined
        })
        assert.deepEqual(events, [
          { event: 'purchase', distinct_id: 'user-1', group_0: 'acme', group_1: 'ws-1' },
        ])

        // Let the SDK's remaining calls (flags, queued events) settle before judging them.
        await quiet(exchanges)
        assert.deepEqual(errors, [])
        const paths = exchanges.map((e) => `${e.method} ${e.url.split('?')[0]}`)
        for (const expected of [`GET /array/${t.project.api_token}/config.js`, 'POST /flags/']) {
          assert.ok(paths.includes(expected), `${expected} in ${paths.join(', ')}`)
        }
        const ok = (e: { status: number | 'failed' }) => typeof e.status === 'number' && e.status < 300
        for (const exchange of [...exchanges, ...groupd.log])
          assert.ok(ok(exchange), JSON.stringify(exchange))
        for (const exchange of exchanges)
          assert.equal(exchange.allowOrigin, site.url, JSON.stringify(exchange))
        // The group calls' events reached groupd (when unloading: by beacon, the page's fetches sent none).
        assert.ok(groupd.log.slice(servedBefore).some(isCapture), JSON.stringify(groupd.log))
      } finally {
        groupd.stop()
        await context.close()
      }
    })
  }
})
