/** Browser-test helpers: axe-core in the page, and screenshots under .artifacts/. */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import type { Page } from 'playwright-core'
import { ENGINE } from './harness.ts'

const AXE_PATH = createRequire(import.meta.url).resolve('axe-core/axe.min.js')
export const ARTIFACTS = path.resolve('.artifacts')

/** Runs axe-core on the page as it is; fails on any serious or critical violation. */
export async function assertAccessible(page: Page, where: string): Promise<void> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE_PATH })
  const violations = await page.evaluate(async () => {
    const result = await (window as any).axe.run(document, { resultTypes: ['violations'] })
    return result.violations.map((v: any) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 3).map((n: any) => n.target.join(' ')),
    }))
  })
  const bad = violations.filter((v: { impact: string }) => v.impact === 'serious' || v.impact === 'critical')
  assert.deepEqual(bad, [], `accessibility violations on ${where}: ${JSON.stringify(bad, null, 2)}`)
}

/** Saves .artifacts/<name>.png (one set per engine run; the SQLite run's are the canonical ones). */
export async function screenshot(page: Page, name: string, fullPage = true): Promise<string> {
  fs.mkdirSync(ARTIFACTS, { recursive: true })
  const file = path.join(ARTIFACTS, ENGINE === 'sqlite' ? `${name}.png` : `${name}.${ENGINE}.png`)
  await page.screenshot({ path: file, fullPage })
  return file
}
