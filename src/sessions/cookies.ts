/**
 * The session and CSRF cookies, Django's names and rules: `sessionid` (HttpOnly) and `csrftoken`
 * (readable by the page, which echoes it in `X-CSRFToken`: the double-submit pattern). A cross-site
 * page can make the browser send cookies but cannot read them, so it cannot forge the header.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { SESSION_TTL_MS } from './store.ts'

export const SESSION_COOKIE = 'sessionid'
export const CSRF_COOKIE = 'csrftoken'
export const CSRF_HEADER = 'x-csrftoken'

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0) continue
    const name = part.slice(0, eq).trim()
    if (!name || name in out) continue
    try {
      out[name] = decodeURIComponent(part.slice(eq + 1).trim())
    } catch {
      // A malformed value is ignored, as browsers and Django do.
    }
  }
  return out
}

interface CookieOptions {
  httpOnly: boolean
  secure: boolean
  /** Omitted: expire now (delete). */
  maxAgeMs?: number
}

export function serializeCookie(name: string, value: string, options: CookieOptions): string {
  const maxAge = options.maxAgeMs === undefined ? 0 : Math.floor(options.maxAgeMs / 1000)
  return [
    `${name}=${encodeURIComponent(value)}`,
    'Path=/',
    `Max-Age=${maxAge}`,
    'SameSite=Lax',
    options.httpOnly ? 'HttpOnly' : '',
    options.secure ? 'Secure' : '',
  ]
    .filter(Boolean)
    .join('; ')
}

/** Set-Cookie values that start a session (a fresh CSRF token with it). */
export function sessionCookies(sessionId: string, secure: boolean): string[] {
  const maxAgeMs = SESSION_TTL_MS
  return [
    serializeCookie(SESSION_COOKIE, sessionId, { httpOnly: true, secure, maxAgeMs }),
    serializeCookie(CSRF_COOKIE, randomBytes(32).toString('base64url'), {
      httpOnly: false,
      secure,
      maxAgeMs,
    }),
  ]
}

export function clearedCookies(secure: boolean): string[] {
  return [
    serializeCookie(SESSION_COOKIE, '', { httpOnly: true, secure }),
    serializeCookie(CSRF_COOKIE, '', { httpOnly: false, secure }),
  ]
}

/** The double-submit check: the header equals the cookie (constant time), both non-empty. */
export function csrfTokenMatches(cookie: string | undefined, header: string | undefined): boolean {
  if (!cookie || !header) return false
  const a = Buffer.from(cookie)
  const b = Buffer.from(header)
  return a.length === b.length && timingSafeEqual(a, b)
}
