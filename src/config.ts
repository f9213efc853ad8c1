/**
 * The only reader of process.env. Parsed once at start; a bad value fails fast with a sentence
 * that names the variable.
 */
import os from 'node:os'
import path from 'node:path'

export type DatabaseConfig = ({ engine: 'postgres'; url: string } | { engine: 'sqlite'; dataDir: string }) & {
  /** GROUPD_QUERY_TIMEOUT_MS: the longest a query may run before it is stopped (a 504). */
  queryTimeoutMs: number
}

/** Where events live when not in the SQL database: a ClickHouse server (HTTP interface). */
export interface ClickHouseConfig {
  /** Origin of the HTTP interface, e.g. http://127.0.0.1:8123. */
  url: string
  username: string
  password: string
  /** groupd's database, created by `groupd migrate`. */
  database: string
  /** A cluster of `remote_servers`: local tables ON CLUSTER and Distributed tables over them. */
  cluster: string | null
  /** Least time between the starts of two event INSERTs of one process (insert-batcher.ts). */
  insertIntervalMs: number
}

export interface Config {
  host: string
  port: number
  database: DatabaseConfig
  /** Honour X-Forwarded-Proto/Host/For (only behind a proxy you control). */
  trustProxy: boolean
  logLevel: string
  /** How long SIGTERM waits for in-flight requests before exiting anyway. */
  shutdownTimeoutMs: number
  rateLimit: RateLimitConfig
  /** Server processes sharing the port (node:cluster); 1 serves from this process. */
  workers: number
  /** Events in ClickHouse instead of the SQL database; null keeps them in the SQL database. */
  clickhouse: ClickHouseConfig | null
}

export interface RateLimitConfig {
  enabled: boolean
  /** Requests per minute per key (PostHog: 480). */
  burst: number
  /** Requests per hour per key (PostHog: 4800). */
  sustained: number
}

export class ConfigError extends Error {}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}".`)
  }
  return value
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

function oneOf<T extends string>(
  env: NodeJS.ProcessEnv,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (!allowed.includes(raw as T))
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got "${raw}".`)
  return raw as T
}

function bool(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name]?.toLowerCase()
  if (raw === undefined || raw === '') return fallback
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true
  if (['0', 'false', 'no', 'off'].includes(raw)) return false
  throw new ConfigError(`${name} must be on or off (or true/false, 1/0, yes/no), got "${env[name]}".`)
}

/** Most server processes GROUPD_WORKERS may ask for. */
export const MAX_WORKERS = 64

function workers(env: NodeJS.ProcessEnv): number {
  if (env.GROUPD_WORKERS?.toLowerCase() === 'auto') return Math.min(os.availableParallelism(), MAX_WORKERS)
  try {
    return int(env, 'GROUPD_WORKERS', 1, 1, MAX_WORKERS)
  } catch {
    throw new ConfigError(
      `GROUPD_WORKERS must be "auto" or an integer from 1 to ${MAX_WORKERS}, got "${env.GROUPD_WORKERS}".`,
    )
  }
}

export function databaseConfig(env: NodeJS.ProcessEnv = process.env): DatabaseConfig {
  const url = env.DATABASE_URL
  if (url) {
    if (!/^postgres(ql)?:\/\//.test(url)) {
      throw new ConfigError('DATABASE_URL must be a postgres:// or postgresql:// URL.')
    }
  }
  const queryTimeoutMs = int(env, 'GROUPD_QUERY_TIMEOUT_MS', 30_000, 100, 3_600_000)
  if (url) return { engine: 'postgres', url, queryTimeoutMs }
  return { engine: 'sqlite', dataDir: path.resolve(env.GROUPD_DATA_DIR || '.groupd'), queryTimeoutMs }
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/

/** GROUPD_CLICKHOUSE_URL (`http://user:password@host:8123/database`) and GROUPD_CLICKHOUSE_CLUSTER. */
export function clickhouseConfig(env: NodeJS.ProcessEnv = process.env): ClickHouseConfig | null {
  const raw = env.GROUPD_CLICKHOUSE_URL
  const cluster = env.GROUPD_CLICKHOUSE_CLUSTER || null
  if (!raw) {
    if (cluster) throw new ConfigError('GROUPD_CLICKHOUSE_CLUSTER needs GROUPD_CLICKHOUSE_URL.')
    return null
  }
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new ConfigError('GROUPD_CLICKHOUSE_URL must be a URL such as http://127.0.0.1:8123/groupd.')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError('GROUPD_CLICKHOUSE_URL must be an http:// or https:// URL (the HTTP interface).')
  }
  const database = decodeURIComponent(url.pathname.replace(/^\/|\/$/g, '')) || 'groupd'
  if (!IDENTIFIER.test(database)) {
    throw new ConfigError(
      `GROUPD_CLICKHOUSE_URL names database "${database}"; use letters, digits and underscores.`,
    )
  }
  if (cluster !== null && !IDENTIFIER.test(cluster)) {
    throw new ConfigError(`GROUPD_CLICKHOUSE_CLUSTER "${cluster}" must be letters, digits and underscores.`)
  }
  return {
    url: url.origin,
    username: decodeURIComponent(url.username) || 'default',
    password: decodeURIComponent(url.password),
    database,
    cluster,
    insertIntervalMs: int(env, 'GROUPD_CLICKHOUSE_INSERT_INTERVAL_MS', 200, 0, 10_000),
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    host: env.HOST || '127.0.0.1',
    port: int(env, 'PORT', 8000, 0, 65535),
    database: databaseConfig(env),
    trustProxy: bool(env, 'GROUPD_TRUST_PROXY', false),
    logLevel: oneOf(env, 'GROUPD_LOG_LEVEL', LOG_LEVELS, 'info'),
    shutdownTimeoutMs: int(env, 'GROUPD_SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000),
    rateLimit: {
      enabled: bool(env, 'GROUPD_RATE_LIMIT', true),
      burst: int(env, 'GROUPD_RATE_LIMIT_BURST', 480, 1, 1_000_000),
      sustained: int(env, 'GROUPD_RATE_LIMIT_SUSTAINED', 4800, 1, 100_000_000),
    },
    workers: workers(env),
    clickhouse: clickhouseConfig(env),
  }
}
