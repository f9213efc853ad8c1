/**
 * wrk (C, epoll) as the load generator for read scenarios: a Node generator on 2 cores takes a
 * core from the server it measures. Spawned as a child process; its text report is parsed.
 * Several keys rotate per request through a Lua script (for rate limiting with many keys).
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export interface WrkResult {
  reqPerSec: number
  p50: number
  p99: number
  errors: number
  non2xx: number
}

export interface WrkRequest {
  path: string
  /** One Authorization header value per request, in rotation; none when empty. */
  authorizations?: string[]
}

const luaString = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`

function script(req: WrkRequest): string {
  const auths = req.authorizations ?? []
  return `local auths = { ${auths.map(luaString).join(', ')} }
local i = 0
request = function()
  i = i + 1
  local headers = {}
  if #auths > 0 then headers["Authorization"] = auths[(i % #auths) + 1] end
  return wrk.format("GET", ${luaString(req.path)}, headers)
end
`
}

/** wrk prints latencies as 1.23ms, 456.78us or 1.02s. */
function millis(text: string | undefined): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text ?? '')
  if (!m) return Number.NaN
  const value = Number(m[1])
  return m[2] === 'us' ? value / 1000 : m[2] === 's' ? value * 1000 : value
}

export function parseWrk(out: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)
  if (!rps) throw new Error(`wrk printed no Requests/sec:\n${out}`)
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
  return {
    reqPerSec: Math.round(Number(rps[1])),
    p50: millis(/^\s+50%\s+(\S+)/m.exec(out)?.[1]),
    p99: millis(/^\s+99%\s+(\S+)/m.exec(out)?.[1]),
    errors: socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
  }
}

export async function wrk(
  baseUrl: string,
  req: WrkRequest,
  options: { connections: number; durationS: number; threads?: number },
): Promise<WrkResult> {
  const file = path.join(os.tmpdir(), `groupd-bench-${process.pid}.lua`)
  fs.writeFileSync(file, script(req))
  const args = [
    `-t${options.threads ?? 2}`,
    `-c${options.connections}`,
    `-d${options.durationS}s`,
    '--latency',
    '-s',
    file,
    baseUrl,
  ]
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'inherit'] })
    let text = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk
    })
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`wrk exited ${code}`))))
  })
  fs.rmSync(file, { force: true })
  return parseWrk(out)
}
