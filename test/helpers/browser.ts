/**
 * Headless Chromium for end-to-end tests: the system browser (Debian's `chromium`), driven by
 * playwright-core, never a downloaded one. Without a browser the suites that need one are skipped
 * with a reason, unless GROUPD_REQUIRE_BROWSER=1 (CI), which makes a missing browser a failure.
 */
import fs from 'node:fs'
import { type Browser, chromium } from 'playwright-core'

export const CHROMIUM_PATH = process.env.GROUPD_CHROMIUM_PATH ?? '/usr/bin/chromium'

/** A desktop browser's user agent: posthog-js sends nothing from a user agent it takes for a bot. */
export const DESKTOP_USER_AGENT =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'

/**
 * `false` when the browser tests can run, else the reason they are skipped (for `describe`'s
 * `skip` option). Throws when a browser is required but absent.
 */
export function browserSkipReason(): string | false {
  if (fs.existsSync(CHROMIUM_PATH)) return false
  const reason = `no Chromium at ${CHROMIUM_PATH} (install Debian's chromium or set GROUPD_CHROMIUM_PATH): browser tests skipped`
  if (process.env.GROUPD_REQUIRE_BROWSER === '1') throw new Error(`Chromium is required: ${reason}`)
  console.warn(reason)
  return reason
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    // The machine has no network beyond loopback: keep Chromium from dialing out at start.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-blink-features=AutomationControlled',
    ],
  })
}
