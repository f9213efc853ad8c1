/**
 * The ClickHouse connection: @clickhouse/client over HTTP, written to what ClickHouse 18.16 accepts
 * (and current releases too). 18.16 has no query parameters, so every value reaches SQL through
 * `literal()`, the one escaping function, and every name through `identifier()`. Connection
 * failures become StoreUnavailableError here, so callers answer 503 like for the SQL database.
 */
import { Readable } from 'node:stream'
import {
  type ClickHouseClient,
  ClickHouseLogLevel,
  type ClickHouseSettings,
  createClient,
} from '@clickhouse/client'
import type { ClickHouseConfig } from '../config.ts'
import { isUnavailable, StoreUnavailableError } from '../db/errors.ts'

/** How long one request to ClickHouse may take before the store counts as unavailable. */
const REQUEST_TIMEOUT_MS = 30_000

export interface ClickHouseOptions {
  /** Longer for bulk work (loading test data), never for requests. */
  requestTimeoutMs?: number
}

/** A database, table or cluster name in backquotes; names are checked by config, never user input. */
export function identifier(name: string): string {
  return `\`${name.replace(/[\\`]/g, (c) => `\\${c}`)}\``
}

export interface QueryStatistics {
  elapsed: number
  rows_read: number
  bytes_read: number
}

/** ClickHouse error codes that mean "try again shortly": too many parts (252), shutting down (291). */
const TRANSIENT_CODES = new Set([252, 291])

/**
 * Unreachable (the socket errors the SQL database's check knows), timed out, or refusing for now.
 * 18.16's errors are plain Errors whose message starts with `Code: N`.
 */
function isTransient(error: unknown): boolean {
  if (isUnavailable(error)) return true
  const message = (error as { message?: string })?.message ?? ''
  const code = /^Code: (\d+)/.exec(message)?.[1]
  return (
    (code !== undefined && TRANSIENT_CODES.has(Number(code))) ||
    /^Timeout error|socket hang up/i.test(message)
  )
}

export class ClickHouse {
  private constructor(
    private readonly client: ClickHouseClient,
    readonly database: string,
    readonly cluster: string | null,
  ) {}

  static open(
    config: Omit<ClickHouseConfig, 'insertIntervalMs'>,
    options: ClickHouseOptions = {},
  ): ClickHouse {
    const client = createClient({
      url: config.url,
      username: config.username,
      password: config.password,
      request_timeout: options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
      log: { level: ClickHouseLogLevel.OFF },
      // 64-bit integers as JSON numbers (18.16 quotes them by default).
      clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
    })
    return new ClickHouse(client, config.database, config.cluster)
  }

  /** A table of groupd's database, qualified and quoted. */
  table(name: string): string {
    return `${identifier(this.database)}.${identifier(name)}`
  }

  /** ` ON CLUSTER c` for DDL when a cluster is configured. */
  get onCluster(): string {
    return this.cluster ? ` ON CLUSTER ${identifier(this.cluster)}` : ''
  }

  async command(query: string, settings: ClickHouseSettings = {}): Promise<void> {
    await this.call(() => this.client.command({ query, clickhouse_settings: settings }))
  }

  async query<T>(query: string): Promise<{ rows: T[]; statistics: QueryStatistics }> {
    return this.call(async () => {
      const result = await this.client.query({ query, format: 'JSON' })
      const body = await result.json<T>()
      return { rows: body.data, statistics: body.statistics as QueryStatistics }
    })
  }

  /**
   * Rows encoded in RowBinary (row-binary.ts) for these columns, in this order, in one buffer or
   * several sent one after another (never joined); resolves once ClickHouse has written them (on
   * every shard).
   */
  async insertRowBinary(
    table: string,
    columns: readonly string[],
    data: Buffer | readonly Buffer[],
  ): Promise<void> {
    const chunks = Buffer.isBuffer(data) ? [data] : data
    if (chunks.every((chunk) => chunk.length === 0)) return
    await this.call(async () => {
      const result = await this.client.exec({
        query: `INSERT INTO ${this.table(table)} (${columns.map(identifier).join(', ')}) FORMAT RowBinary`,
        values: Readable.from(chunks, { objectMode: false }),
        clickhouse_settings: this.cluster ? { insert_distributed_sync: 1 } : {},
      })
      // The (empty) answer must be read for the socket to go back to the pool.
      for await (const _ of result.stream);
    })
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1')
  }

  close(): Promise<void> {
    return this.client.close()
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (error) {
      if (isTransient(error)) throw new StoreUnavailableError('ClickHouse is unavailable', { cause: error })
      throw error
    }
  }
}
