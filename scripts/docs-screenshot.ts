/**
 * Regenerates docs/group-profile.png, the README's screenshot: a fresh groupd (temporary embedded
 * database) after `bootstrap`, a few companies and a month of events sent to /batch/, three usage
 * metrics, then the signed-in group profile in the system Chromium. Run: `npx tsx scripts/docs-screenshot.ts`.
 */
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { launchBrowser } from '../test/helpers/browser.ts'
import { freePort } from '../test/helpers/processes.ts'

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'groupd-docs-'))
const env = { ...process.env, GROUPD_DATA_DIR: dataDir, GROUPD_LOG_LEVEL: 'warn' }
const boot = JSON.parse(
  execFileSync('node', ['bin/groupd', 'bootstrap', '--json'], { env, encoding: 'utf8' }),
)
const port = await freePort()
const server = spawn('node', ['bin/groupd', 'serve'], {
  env: { ...env, PORT: String(port) },
  stdio: 'inherit',
})
const base = `http://127.0.0.1:${port}`
try {
  for (let i = 0; i < 100; i++) {
    if (
      await fetch(`${base}/_health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break
    await new Promise((r) => setTimeout(r, 100))
  }
  const day = 86_400_000
  const batch: unknown[] = [
    ['acme', { name: 'Acme Inc', plan: 'enterprise', seats: 120, industry: 'Manufacturing', country: 'US' }],
    ['globex', { name: 'Globex', plan: 'pro', seats: 35 }],
    ['initech', { name: 'Initech', plan: 'free', seats: 4 }],
  ].map(([key, set]) => ({
    event: '$groupidentify',
    distinct_id: 'server',
    properties: { $group_type: 'company', $group_key: key, $group_set: set },
  }))
  for (let d = 0; d < 60; d++) {
    const busy = 3 + ((d * 7) % 5) + (d < 30 ? 2 : 0)
    for (let n = 0; n < busy; n++) {
      batch.push({
        event: n % 4 === 0 ? 'invoice paid' : '$pageview',
        distinct_id: `user-${(d + n) % 6}@acme.com`,
        timestamp: new Date(Date.now() - d * day - n * 3_600_000 - 600_000).toISOString(),
        properties: { amount: 40 + ((d * 13 + n) % 7) * 15, $groups: { company: 'acme' } },
      })
    }
  }
  const sent = await fetch(`${base}/batch/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ api_key: boot.project_api_token, batch }),
  })
  if (!sent.ok) throw new Error(`capture: ${sent.status}`)
  const metrics = [
    {
      name: 'Revenue',
      format: 'currency',
      interval: 30,
      display: 'sparkline',
      math: 'sum',
      math_property: 'amount',
      event: 'invoice paid',
    },
    {
      name: 'Pageviews',
      format: 'numeric',
      interval: 30,
      display: 'sparkline',
      math: 'count',
      math_property: null,
      event: '$pageview',
    },
    {
      name: 'Invoices paid',
      format: 'numeric',
      interval: 90,
      display: 'number',
      math: 'count',
      math_property: null,
      event: 'invoice paid',
    },
  ]
  for (const { event, ...metric } of metrics) {
    const res = await fetch(`${base}/api/projects/${boot.project_id}/groups_types/0/metrics/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${boot.personal_api_key}` },
      body: JSON.stringify({
        ...metric,
        filters: { events: [{ id: event, type: 'events', properties: [] }] },
      }),
    })
    if (!res.ok) throw new Error(`metric: ${res.status} ${await res.text()}`)
  }
  const browser = await launchBrowser()
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 720 }, colorScheme: 'light' })
    await page.goto(`${base}/login`)
    await page.getByLabel('Email').fill(boot.admin_email)
    await page.getByLabel('Password').fill(boot.admin_password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.waitForURL(/\/groups\/0$/)
    await page.goto(`${base}/project/${boot.project_id}/groups/0/acme`)
    await page.locator('.metric-card .metric-value').first().waitFor()
    await page.getByRole('region', { name: 'Recent events' }).getByRole('cell').first().waitFor()
    await page.screenshot({ path: 'docs/group-profile.png' })
    console.log(`docs/group-profile.png: ${fs.statSync('docs/group-profile.png').size} bytes`)
  } finally {
    await browser.close()
  }
} finally {
  server.kill('SIGTERM')
  await new Promise((r) => server.once('exit', r))
  fs.rmSync(dataDir, { recursive: true, force: true })
}
