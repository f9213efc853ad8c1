/** Browser-session fixtures: a password for a test user and a signed-in cookie jar. */
import type { Database } from '../../src/db/database.ts'
import { setPassword } from '../../src/sessions/accounts.ts'
import { type RequestOptions, type Response, request } from './harness.ts'

export const TEST_PASSWORD = 'correct horse battery'

export interface Session {
  /** The Cookie header a browser would send. */
  cookie: string
  csrf: string
}

export async function givePassword(database: Database, userId: number, password = TEST_PASSWORD) {
  await setPassword(database, userId, password)
}

export function login(baseUrl: string, email: string, password = TEST_PASSWORD): Promise<Response> {
  return request(baseUrl, 'POST', '/api/login', { body: { email, password } })
}

/** The cookies a successful login sets, as a Cookie header. */
export function sessionFrom(response: Response): Session {
  const cookies = response.headers.getSetCookie().map((c) => c.split(';')[0] as string)
  const csrf = cookies.find((c) => c.startsWith('csrftoken='))?.slice('csrftoken='.length)
  if (response.status !== 200 || !csrf) throw new Error(`login failed: ${response.status} ${response.text}`)
  return { cookie: cookies.join('; '), csrf }
}

export async function signIn(baseUrl: string, email: string, password = TEST_PASSWORD): Promise<Session> {
  return sessionFrom(await login(baseUrl, email, password))
}

/** A request as the signed-in browser sends it (with the CSRF header unless `csrf: false`). */
export function asSession(
  baseUrl: string,
  session: Session,
  method: string,
  path: string,
  options: RequestOptions & { csrf?: boolean } = {},
): Promise<Response> {
  const headers: Record<string, string> = { cookie: session.cookie, ...options.headers }
  if (options.csrf !== false) headers['x-csrftoken'] ??= session.csrf
  return request(baseUrl, method, path, { ...options, headers })
}
