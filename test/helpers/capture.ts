/** Helpers to send capture requests the way PostHog's SDKs encode them. */
import { gzipSync } from 'fflate'
import LZString from 'lz-string'

export type Encoding =
  | 'json'
  | 'gzip-plain'
  | 'gzip-header'
  | 'gzip-js'
  | 'lz64-form'
  | 'base64-form'
  | 'get-data'

/** Sends `payload` to `path` in the given encoding; returns status and parsed body. */
export async function sendCapture(
  baseUrl: string,
  path: string,
  payload: unknown,
  encoding: Encoding = 'json',
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const json = JSON.stringify(payload)
  let url = baseUrl + path
  let init: RequestInit = { method: 'POST', headers: { ...headers } }
  const h = init.headers as Record<string, string>
  switch (encoding) {
    case 'json':
      h['content-type'] = 'application/json'
      init.body = json
      break
    case 'gzip-plain':
      // posthog-js 1.449 with its defaults: gzip as text/plain, no hint in the query or headers
      h['content-type'] = 'text/plain'
      init.body = gzipSync(new TextEncoder().encode(json), { mtime: 0 })
      break
    case 'gzip-header':
      h['content-type'] = 'application/json'
      h['content-encoding'] = 'gzip'
      init.body = gzipSync(new TextEncoder().encode(json))
      break
    case 'gzip-js':
      // posthog-js: fflate gzip, text/plain, ?compression=gzip-js
      url += `${url.includes('?') ? '&' : '?'}compression=gzip-js&ver=1.0.0`
      h['content-type'] = 'text/plain'
      init.body = gzipSync(new TextEncoder().encode(json))
      break
    case 'lz64-form':
      url += `${url.includes('?') ? '&' : '?'}compression=lz64`
      h['content-type'] = 'application/x-www-form-urlencoded'
      init.body = `data=${encodeURIComponent(LZString.compressToBase64(json))}`
      break
    case 'base64-form':
      h['content-type'] = 'application/x-www-form-urlencoded'
      init.body = `data=${encodeURIComponent(Buffer.from(json).toString('base64'))}`
      break
    case 'get-data':
      url += `${url.includes('?') ? '&' : '?'}data=${encodeURIComponent(Buffer.from(json).toString('base64'))}`
      init = { method: 'GET', headers: h }
      break
  }
  const res = await fetch(url, init)
  const text = await res.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {}
  return { status: res.status, body, headers: res.headers }
}
