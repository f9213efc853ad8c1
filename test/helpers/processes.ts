/**
 * Child groupd processes for the CLI and process tests: the real `bin/groupd`, which runs the
 * compiled dist/ (built by `npm test`), pointed at a test database through its environment.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import net from 'node:net'
import { fileURLToPath } from 'node:url'

export const BIN = fileURLToPath(new URL('../../bin/groupd', import.meta.url))

export interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * The environment of a child groupd: the parent's minus any database settings, plus `env`. Rate
 * limiting is off unless `env` turns it on (tests send bursts with one key).
 */
export function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = { ...process.env }
  delete base.DATABASE_URL
  delete base.GROUPD_DATA_DIR
  delete base.GROUPD_TRUST_PROXY
  delete base.GROUPD_CLICKHOUSE_URL
  delete base.GROUPD_CLICKHOUSE_CLUSTER
  return { ...base, GROUPD_LOG_LEVEL: 'warn', GROUPD_RATE_LIMIT: 'off', ...env }
}

/** Runs `groupd <args>` to completion. */
export function groupd(env: Record<string, string>, ...args: string[]): Promise<Run> {
  return groupdWithStdin(env, null, ...args)
}

/** Runs `groupd <args>` to completion with `input` piped to its stdin. */
export function groupdWithStdin(
  env: Record<string, string>,
  input: string | null,
  ...args: string[]
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: childEnv(env),
      stdio: [input === null ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    })
    if (input !== null) child.stdin?.end(input)
    let stdout = ''
    let stderr = ''
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
    })
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** A port that was free a moment ago (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer()
    probe.on('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      if (!address || typeof address === 'string') return reject(new Error('no address'))
      probe.close(() => resolve(address.port))
    })
  })
}

export interface ServerProcess {
  child: ChildProcess
  url: string
  port: number
  /** Everything the process wrote to stderr so far. */
  stderr(): string
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string | null>
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | string | null>
}

/** Starts `groupd serve` on a free loopback port and waits until /_health answers. */
export async function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const port = await freePort()
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: childEnv({ HOST: '127.0.0.1', PORT: String(port), ...env }),
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  const exited = new Promise<number | string | null>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? signal))
  })
  const url = `http://127.0.0.1:${port}`
  let done = false
  void exited.then(() => {
    done = true
  })
  for (let attempt = 0; ; attempt++) {
    if (done) throw new Error(`groupd serve exited before it was ready: ${stderr}`)
    try {
      const res = await fetch(`${url}/_health`)
      if (res.ok) break
    } catch {
      // not listening yet
    }
    if (attempt > 200) {
      child.kill('SIGKILL')
      throw new Error(`groupd serve did not become ready: ${stderr}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    child,
    url,
    port,
    stderr: () => stderr,
    exited,
    async stop() {
      if (!done) child.kill('SIGTERM')
      return exited
    },
  }
}
