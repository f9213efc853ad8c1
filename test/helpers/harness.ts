/**
 * Test harness: a real database per test file (a temp SQLite directory, or a fresh schema in the
 * PostgreSQL at TEST_DATABASE_URL), the real app listening on a loopback port, and fixtures that
 * create each test's own organization, user, project and keys. With GROUPD_TEST_EVENTS=clickhouse
 * events go to a fresh database in the ClickHouse at GROUPD_TEST_CLICKHOUSE_URL.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import type http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { buildApp } from '../../src/app.ts'
import { clickhouseConfig, type RateLimitConfig } from '../../src/config.ts'
import { Database } from '../../src/db/database.ts'
import type { Engine } from '../../src/db/dialect.ts'
import { migrate } from '../../src/db/migrate.ts'
import type { EventsTable, MembershipLevel, Organization, Project, User } from '../../src/db/schema.ts'
import { ClickHouse, identifier } from '../../src/events/clickhouse.ts'
import { ClickHouseEventsStore, EVENTS_TABLE } from '../../src/events/clickhouse-store.ts'
import { openEventsStore } from '../../src/events/open.ts'
import { SqlEventsStore } from '../../src/events/sql-store.ts'
import type { EventsStore } from '../../src/events/store.ts'
import { createPersonalApiKey } from '../../src/tenancy/keys.ts'
import { createOrganization } from '../../src/tenancy/organizations.ts'
import { createProject } from '../../src/tenancy/projects.ts'
import { addMembership, createUser } from '../../src/tenancy/users.ts'

export const ENGINE: Engine = process.env.GROUPD_TEST_ENGINE === 'postgres' ? 'postgres' : 'sqlite'
export const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
export type EventsEngine = 'sql' | 'clickhouse'
export const EVENTS: EventsEngine = process.env.GROUPD_TEST_EVENTS === 'clickhouse' ? 'clickhouse' : 'sql'
export const CLICKHOUSE_URL = process.env.GROUPD_TEST_CLICKHOUSE_URL ?? 'http://127.0.0.1:8123'
/** A ClickHouse cluster's servers (HTTP URLs; groupd talks to the first) and its name in remote_servers. */
export const CLICKHOUSE_SHARDS = (process.env.GROUPD_TEST_CLICKHOUSE_SHARDS ?? '').split(',').filter(Boolean)
export const CLICKHOUSE_CLUSTER = process.env.GROUPD_TEST_CLICKHOUSE_CLUSTER

export interface TestDatabase {
  database: Database
  /** The events store the app uses (the SQL one, or ClickHouse). */
  events: EventsStore
  /** Environment that points a child groupd process at the same database. */
  env: Record<string, string>
  cleanup(): Promise<void>
}

function withSearchPath(url: string, schema: string): string {
  const u = new URL(url)
  u.searchParams.set('options', `-c search_path=${schema}`)
  return u.toString()
}

/** Which ClickHouse server (and cluster) a test's events go to. */
export interface ClickHouseTarget {
  url: string
  cluster?: string
}

/** A fresh ClickHouse database for one test database, dropped by cleanup. */
async function testClickHouse(database: Database, target: ClickHouseTarget) {
  const url = `${target.url.replace(/\/+$/, '')}/groupd_test_${randomBytes(6).toString('hex')}`
  const config = clickhouseConfig({ GROUPD_CLICKHOUSE_URL: url, GROUPD_CLICKHOUSE_CLUSTER: target.cluster })
  if (!config) throw new Error('no ClickHouse configuration')
  const { store } = await openEventsStore(config, database)
  return {
    store,
    env: {
      GROUPD_CLICKHOUSE_URL: url,
      ...(config.cluster ? { GROUPD_CLICKHOUSE_CLUSTER: config.cluster } : {}),
    },
    async drop() {
      await store.close()
      const admin = ClickHouse.open(config)
      await admin.command(`DROP DATABASE IF EXISTS ${identifier(config.database)}${admin.onCluster}`)
      await admin.close()
    },
  }
}

export async function openTestDatabase(
  engine: Engine = ENGINE,
  events: EventsEngine = EVENTS,
  target: ClickHouseTarget = { url: CLICKHOUSE_URL },
  queryTimeoutMs?: number,
): Promise<TestDatabase> {
  const base = await openSqlTestDatabase(engine, queryTimeoutMs)
  if (events === 'sql') return { ...base, events: new SqlEventsStore(base.database) }
  const clickhouse = await testClickHouse(base.database, target)
  return {
    ...base,
    events: clickhouse.store,
    env: { ...base.env, ...clickhouse.env },
    async cleanup() {
      await clickhouse.drop()
      await base.cleanup()
    },
  }
}

/**
 * pg_trgm in `public`, once per database: migration 009 would otherwise create it in the first
 * test schema, and dropping that schema would take every other schema's trigram index with it.
 * Concurrent test files may race to create it; the loser's duplicate is harmless.
 */
export async function installTrigramExtension(admin: pg.Client): Promise<void> {
  try {
    await admin.query('create extension if not exists pg_trgm schema public')
  } catch (error) {
    if (!['23505', '42710'].includes((error as { code?: string }).code ?? '')) throw error
  }
}

async function openSqlTestDatabase(
  engine: Engine,
  queryTimeoutMs?: number,
): Promise<Omit<TestDatabase, 'events'>> {
  if (engine === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'groupd-test-'))
    const database = Database.sqlite(dir, { queryTimeoutMs })
    return {
      database,
      env: { GROUPD_DATA_DIR: dir },
      async cleanup() {
        await database.close()
        fs.rmSync(dir, { recursive: true, force: true })
      },
    }
  }
  const schema = `groupd_test_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: PG_URL })
  await admin.connect()
  await installTrigramExtension(admin)
  await admin.query(`create schema ${schema}`)
  await admin.end()
  const url = withSearchPath(PG_URL, schema)
  const database = Database.postgres(url, { statementTimeoutMs: queryTimeoutMs })
  return {
    database,
    env: { DATABASE_URL: url },
    async cleanup() {
      await database.close()
      const client = new pg.Client({ connectionString: PG_URL })
      await client.connect()
      await client.query(`drop schema ${schema} cascade`)
      await client.end()
    },
  }
}

export interface TestServer extends TestDatabase {
  url: string
  /** The listening Node server, for tests that watch every exchange (e.g. a browser's beacons). */
  httpServer: http.Server
  close(): Promise<void>
}

export async function startServer(
  options: {
    trustProxy?: boolean
    rateLimit?: RateLimitConfig
    engine?: Engine
    events?: EventsEngine
    clickhouse?: ClickHouseTarget
    /** GROUPD_QUERY_TIMEOUT_MS of the server's database. */
    queryTimeoutMs?: number
  } = {},
): Promise<TestServer> {
  const { engine, events, clickhouse, queryTimeoutMs, ...appOptions } = options
  const testDb = await openTestDatabase(engine, events, clickhouse, queryTimeoutMs)
  await migrate(testDb.database)
  const app = await buildApp({ database: testDb.database, events: testDb.events, ...appOptions })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (!address || typeof address === 'string') throw new Error('no address')
  return {
    ...testDb,
    url: `http://127.0.0.1:${address.port}`,
    httpServer: app.server,
    async close() {
      await app.close()
      await testDb.cleanup()
    },
  }
}

export interface Tenant {
  org: Organization
  user: User
  project: Project
  /** Plaintext personal API key with scopes ['*'] unless given. */
  key: string
}

let counter = 0
export const unique = (prefix: string) =>
  `${prefix}-${process.pid}-${++counter}-${randomBytes(3).toString('hex')}`

/** A fresh organization with one user and one project, and a key for that user. */
export async function createTenant(
  database: Database,
  options: { scopes?: string[]; level?: MembershipLevel } = {},
): Promise<Tenant> {
  const db = database.db
  const org = await createOrganization(db, unique('org'))
  const user = await createUser(db, `${unique('user')}@example.com`)
  await addMembership(db, org.id, user.id, options.level ?? 'owner')
  const project = await createProject(db, org.id, unique('project'))
  const key = await mintKey(database, user.id, options.scopes ?? ['*'])
  return { org, user, project, key }
}

export async function mintKey(
  database: Database,
  userId: number,
  scopes: string[],
  scoped: { teams?: number[]; organizations?: string[] } = {},
): Promise<string> {
  const { plaintext } = await createPersonalApiKey(database.db, {
    userId,
    label: 'test',
    scopes,
    scopedTeams: scoped.teams,
    scopedOrganizations: scoped.organizations,
  })
  return plaintext
}

export interface Response {
  status: number
  headers: Headers
  body: any
  text: string
}

export interface RequestOptions {
  key?: string | null
  body?: unknown
  headers?: Record<string, string>
  /** Raw body (sent as is, with the given content-type header). */
  raw?: string | Buffer
}

export async function request(
  baseUrl: string,
  method: string,
  path: string,
  options: RequestOptions = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers }
  if (options.key) headers.authorization = `Bearer ${options.key}`
  let body: string | Buffer | undefined = options.raw
  if (options.body !== undefined) {
    body = JSON.stringify(options.body)
    headers['content-type'] ??= 'application/json'
  }
  const res = await fetch(baseUrl + path, { method, headers, body: body as BodyInit | undefined })
  const text = await res.text()
  let parsed: unknown = null
  try {
    parsed = text ? JSON.parse(text) : null
  } catch {
    parsed = text
  }
  return { status: res.status, headers: res.headers, body: parsed, text }
}

/** A client bound to one server and key. */
export function client(baseUrl: string, key?: string | null) {
  const call =
    (method: string) =>
    (path: string, options: Omit<RequestOptions, 'key'> & { key?: string | null } = {}) =>
      request(baseUrl, method, path, { key, ...options })
  return {
    get: call('GET'),
    post: call('POST'),
    put: call('PUT'),
    patch: call('PATCH'),
    delete: call('DELETE'),
  }
}

export const envelope = (type: string, code: string, detail: string, attr: string | null = null) => ({
  type,
  code,
  detail,
  attr,
})
export const notFoundBody = (detail = 'Not found.') => envelope('invalid_request', 'not_found', detail)
export const permissionDeniedBody = (detail: string) =>
  envelope('authentication_error', 'permission_denied', detail)

/** A project's stored events, each once, oldest first, in the SQL table's shape, from either store. */
export async function storedEvents(
  testDb: TestDatabase,
  projectId: number,
): Promise<Omit<EventsTable, 'created_at'>[]> {
  if (!(testDb.events instanceof ClickHouseEventsStore)) {
    return testDb.database.db
      .selectFrom('events')
      .selectAll()
      .where('project_id', '=', projectId)
      .orderBy('timestamp')
      .execute()
  }
  const ch = testDb.events.clickhouse
  const { rows } = await ch.query<Omit<EventsTable, 'timestamp'> & { time_ms: number }>(
    `SELECT project_id, toString(uuid) AS uuid, event, distinct_id, properties, time_ms,
       group_keys[1] AS group_0, group_keys[2] AS group_1, group_keys[3] AS group_2, group_keys[4] AS group_3, group_keys[5] AS group_4
     FROM ${ch.table(EVENTS_TABLE)} WHERE project_id = ${projectId} AND properties != '' ORDER BY time_ms, uuid LIMIT 1 BY uuid`,
  )
  return rows.map(({ time_ms, ...row }) => ({ ...row, timestamp: new Date(time_ms).toISOString() }))
}
