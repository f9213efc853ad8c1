/**
 * The one way the app talks to groupd: the same REST API any client uses, authenticated by the
 * session cookie, with Django's CSRF header on every write.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly attr: string | null,
  ) {
    super(detail)
  }
}

function cookie(name: string): string | undefined {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=')
    if (k === name) return decodeURIComponent(v.join('='))
  }
  return undefined
}

/** Set by the app: called when any request answers 401 (the session ended). */
let onUnauthenticated: () => void = () => {}
export function setUnauthenticatedHandler(handler: () => void): void {
  onUnauthenticated = handler
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' }
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (method !== 'GET') headers['x-csrftoken'] = cookie('csrftoken') ?? ''
  let res: Response
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  } catch {
    throw new ApiError(0, 'network', 'Could not reach the server. Check your connection and try again.', null)
  }
  if (res.status === 204) return undefined as T
  const data = await res.json().catch(() => null)
  if (!res.ok) {
    if (res.status === 401 && path !== '/api/login') onUnauthenticated()
    throw new ApiError(
      res.status,
      data?.code ?? 'error',
      data?.detail ?? `Request failed (${res.status}).`,
      data?.attr ?? null,
    )
  }
  return data as T
}

export const get = <T>(path: string) => api<T>('GET', path)
export const post = <T>(path: string, body?: unknown) => api<T>('POST', path, body ?? {})
export const put = <T>(path: string, body: unknown) => api<T>('PUT', path, body)
export const patch = <T>(path: string, body: unknown) => api<T>('PATCH', path, body)
export const del = (path: string) => api<void>('DELETE', path)

/** The message for an error, for display. */
export const errorText = (error: unknown) =>
  error instanceof ApiError ? error.detail : 'Something went wrong. Please try again.'
