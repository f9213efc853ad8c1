/** Start-up measurements: serve → /_ready beside a bare Fastify hello world, and idle RSS. */
import fs from 'node:fs'
import { freePort, spawnServer } from './lib.ts'

const RUNS = 5

/** Milliseconds from spawning `args(port)` until `path` answers 200. */
async function timeToAnswer(
  args: (port: number) => string[],
  env: Record<string, string>,
  path: string,
): Promise<number> {
  const port = await freePort()
  const started = performance.now()
  const child = spawnServer(args(port), { ...env, PORT: String(port), GROUPD_LOG_LEVEL: 'warn' })
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${args(port).join(' ')} exited with ${child.exitCode}`)
      try {
        if ((await fetch(`http://127.0.0.1:${port}${path}`)).ok) return performance.now() - started
      } catch {}
      await new Promise((r) => setTimeout(r, 2))
    }
  } finally {
    child.kill('SIGTERM')
    await new Promise((r) => child.once('exit', r))
  }
}

const median = (xs: number[]) =>
  Math.round([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number)

/** Medians of RUNS alternating starts of each, in the same run. */
export async function coldStart(env: Record<string, string>) {
  const groupd: number[] = []
  const bare: number[] = []
  for (let i = 0; i < RUNS; i++) {
    groupd.push(await timeToAnswer(() => ['bin/groupd', 'serve'], env, '/_ready'))
    bare.push(await timeToAnswer((port) => ['bench/hello-server.mjs', String(port)], {}, '/'))
  }
  const g = median(groupd)
  const b = median(bare)
  return { serve_to_ready_ms: g, bare_fastify_listen_ms: b, ratio: Number((g / b).toFixed(2)) }
}

/** Resident set size of a process, in MB (Linux). */
export function idleRssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  return Math.round(Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024)
}
