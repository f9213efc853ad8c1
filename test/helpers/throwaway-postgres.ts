/**
 * A PostgreSQL server of the test's own (initdb in a temp directory, its own port), so a test can
 * stop and restart the database without disturbing the shared one other test files use.
 * Needs the server binaries (Debian's postgresql package) and, as root, the `postgres` user.
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { freePort } from './processes.ts'

function binDir(): string | undefined {
  const root = '/usr/lib/postgresql'
  if (!fs.existsSync(root)) return undefined
  const version = fs.readdirSync(root).sort((a, b) => Number(b) - Number(a))[0]
  const dir = version && path.join(root, version, 'bin')
  return dir && fs.existsSync(path.join(dir, 'pg_ctl')) ? dir : undefined
}

export const throwawayPostgresAvailable = (): boolean => binDir() !== undefined

export interface ThrowawayPostgres {
  url: string
  start(): void
  /** Immediate shutdown: connections are cut, as in a crash or a restart. */
  stop(): void
  destroy(): void
}

export async function throwawayPostgres(): Promise<ThrowawayPostgres> {
  const bin = binDir()
  if (!bin) throw new Error('PostgreSQL server binaries not found')
  const port = await freePort()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'groupd-pg-'))
  const asRoot = process.getuid?.() === 0
  if (asRoot) execFileSync('chown', ['postgres', dir])
  const run = (tool: string, args: string[]) =>
    execFileSync(
      asRoot ? 'runuser' : path.join(bin, tool),
      asRoot ? ['-u', 'postgres', '--', path.join(bin, tool), ...args] : args,
      {
        stdio: 'pipe',
      },
    )
  run('initdb', ['-D', dir, '-A', 'trust', '-U', 'postgres', '--no-sync'])
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`
  const pg: ThrowawayPostgres = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start: () => void run('pg_ctl', ['-D', dir, '-o', options, '-w', '-l', path.join(dir, 'log'), 'start']),
    stop: () => void run('pg_ctl', ['-D', dir, '-m', 'immediate', '-w', 'stop']),
    destroy() {
      try {
        pg.stop()
      } catch {}
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
  pg.start()
  return pg
}
