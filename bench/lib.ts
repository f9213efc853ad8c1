/** Shared by the benchmarks: a database per run, seed data, a groupd child process. */
import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import type autocannon from 'autocannon'
import pg from 'pg'
import { Database } from '../src/db/database.ts'
import { migrate } from '../src/db/migrate.ts'
import { register } from '../src/group-types/service.ts'
import { createPersonalApiKey } from '../src/tenancy/keys.ts'
import { createOrganization } from '../src/tenancy/organizations.ts'
import { createProject } from '../src/tenancy/projects.ts'
import { addMembership, createUser } from '../src/tenancy/users.ts'

export const PG_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
export const EVENTS_PER_BATCH = 100

/** The middle value (the upper one of an even count). */
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

/** The id a `createMetric` request stored in its connection's context, for the requests after it. */
export const contextId = (context: unknown) => String((context as { id?: string }).id ?? 'x')

/** POST a metric with a unique name, remembering its id in the connection's context. */
export function createMetric(path: string, prefix: string): autocannon.Request {
  let n = 0
  return {
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json' },
    setupRequest: (req) => ({
      ...req,
      body: JSON.stringify({ name: `${prefix} ${process.pid} ${++n}`, filters: {} }),
    }),
    onResponse: (_status, body, context) => {
      try {
        ;(context as { id?: string }).id = JSON.parse(body).id
      } catch {}
    },
  }
}

export async function postgresReachable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 })
  try {
    await c.connect()
    await c.end()
    return true
  } catch {
    return false
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })
}

export async function waitReady(child: ChildProcess, url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`)
    try {
      if ((await fetch(url)).ok) return
    } catch {}
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`server at ${url} did not start`)
}

export async function openDatabase(
  engine: string,
  /** Distinguishes several PostgreSQL databases of one run (each is a schema). */
  name = '',
): Promise<{ database: Database; env: Record<string, string>; cleanup: () => Promise<void> }> {
  if (engine === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'groupd-bench-'))
    const database = Database.sqlite(dir)
    return {
      database,
      env: { GROUPD_DATA_DIR: dir },
      cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }),
    }
  }
  const schema = `groupd_bench_${process.pid}${name ? `_${name}` : ''}`
  const admin = new pg.Client({ connectionString: PG_URL })
  await admin.connect()
  await admin.query('create extension if not exists pg_trgm schema public')
  await admin.query(`drop schema if exists ${schema} cascade; create schema ${schema}`)
  await admin.end()
  const url = new URL(PG_URL)
  url.searchParams.set('options', `-c search_path=${schema}`)
  const database = Database.postgres(url.toString())
  return {
    database,
    env: { DATABASE_URL: url.toString() },
    cleanup: async () => {
      const c = new pg.Client({ connectionString: PG_URL })
      await c.connect()
      await c.query(`drop schema ${schema} cascade`)
      await c.end()
    },
  }
}

export async function seed(database: Database) {
  await migrate(database)
  const db = database.db
  const org = await createOrganization(db, 'Bench')
  const user = await createUser(db, 'bench@example.com')
  await addMembership(db, org.id, user.id, 'owner')
  const project = await createProject(db, org.id, 'Bench project')
  const { plaintext } = await createPersonalApiKey(db, { userId: user.id, label: 'bench', scopes: ['*'] })
  for (const name of ['company', 'workspace', 'team', 'account', 'region']) {
    await register(db, project.id, name, new Date().toISOString())
  }
  return { projectId: project.id, key: plaintext, token: project.api_token }
}

/** Personal API keys for the bench user, minted straight into the database. */
export async function mintKeys(database: Database, n: number): Promise<string[]> {
  const user = await database.db
    .selectFrom('users')
    .select('id')
    .where('email', '=', 'bench@example.com')
    .executeTakeFirstOrThrow()
  const keys: string[] = []
  for (let i = 0; i < n; i++) {
    const { plaintext } = await createPersonalApiKey(database.db, {
      userId: user.id,
      label: `bench ${i}`,
      scopes: ['*'],
    })
    keys.push(plaintext)
  }
  return keys
}

/** 20 companies (group type 0) with properties, for the groups list and find scenarios. */
export function groupsBatch(token: string) {
  return JSON.stringify({
    api_key: token,
    batch: Array.from({ length: 20 }, (_, i) => ({
      event: '$groupidentify',
      distinct_id: 'bench',
      properties: {
        $group_type: 'company',
        $group_key: `acme-${i}`,
        $group_set: { name: `Acme ${i}`, seats: i },
      },
    })),
  })
}

export function captureBatch(token: string) {
  return JSON.stringify({
    api_key: token,
    batch: Array.from({ length: EVENTS_PER_BATCH }, (_, i) => ({
      event: 'report viewed',
      distinct_id: `user-${i % 10}`,
      properties: { $groups: { company: `acme-${i % 7}`, workspace: `ws-${i % 3}` }, $browser: 'Firefox', i },
    })),
  })
}

export function openExisting(env: Record<string, string>): Database {
  return env.DATABASE_URL
    ? Database.postgres(env.DATABASE_URL)
    : Database.sqlite(env.GROUPD_DATA_DIR as string)
}

export function spawnServer(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
}
