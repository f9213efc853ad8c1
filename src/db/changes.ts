/**
 * Change feed: how every groupd process learns that cached data changed, exactly.
 *
 * A writer calls `announce(executor, topic)` after its write, inside the writing transaction:
 * - PostgreSQL: `pg_notify` (delivered on commit, dropped on rollback) to one dedicated LISTEN
 *   connection per process. While that connection is down, caches are bypassed; they are flushed
 *   when it comes back.
 * - SQLite: a row of `groupd_changes` gets the next sequence number. Readers check the
 *   connection's `PRAGMA data_version` (moves only when another connection committed; read at most
 *   every few milliseconds) and read the rows past the last sequence they saw only when it moved.
 * The writing process invalidates its own caches right after commit.
 *
 * Topics: `auth` (keys, users, memberships) and `project:<id>` (group types, metrics).
 */
import type BetterSqlite3 from 'better-sqlite3'
import { sql } from 'kysely'
import type pg from 'pg'
import type { Executor } from './database.ts'

export type Topic = 'auth' | `project:${number}`

export const projectTopic = (projectId: number): Topic => `project:${projectId}`

/** The NOTIFY channel; payloads carry `current_schema()` so schemas sharing a database stay apart. */
const CHANNEL = 'groupd_changes'
/** Wait before reconnecting the LISTEN connection. */
const RECONNECT_MS = 200
/** SQLite: how often `PRAGMA data_version` is read at most (other processes' changes wait this long). */
const SQLITE_CHECK_INTERVAL_MS = 5
/** Above this many remembered topics, everything is flushed instead. */
const MAX_TOPICS = 10_000

interface Context {
  feed: ChangeFeed
  /** Topics announced in an open transaction, invalidated locally once it commits. */
  pending?: Set<Topic>
}

const contexts = new WeakMap<object, Context>()

export abstract class ChangeFeed {
  /** Bumped by every invalidation; a cache fill that saw it move drops its (maybe stale) value. */
  epoch = 0
  private floor = 0
  private readonly versions = new Map<Topic, number>()

  /** Registers the handle writes go through (the database's, or an open transaction's). */
  track(executor: object, pending?: Set<Topic>): void {
    contexts.set(executor, { feed: this, pending })
  }

  /** Whether caches may be used right now (the feed is live and up to date). */
  abstract usable(): boolean

  /** Sends the cross-process signal inside the writer's transaction. */
  protected abstract signal(executor: Executor, topic: Topic): Promise<void>

  abstract close(): Promise<void>

  /** The version a cached value of this topic must carry to be current. */
  version(topic: Topic): number {
    return Math.max(this.versions.get(topic) ?? 0, this.floor)
  }

  invalidate(topic: Topic): void {
    if (this.versions.size >= MAX_TOPICS) this.flushAll()
    else this.versions.set(topic, ++this.epoch)
  }

  flushAll(): void {
    this.versions.clear()
    this.floor = ++this.epoch
  }

  async announce(executor: Executor, topic: Topic, pending?: Set<Topic>): Promise<void> {
    if (pending?.has(topic)) return
    await this.signal(executor, topic)
    if (pending) pending.add(topic)
    else this.invalidate(topic)
  }
}

/** Announces a change of `topic` through the handle that wrote it (see the module comment). */
export async function announce(executor: Executor, topic: Topic): Promise<void> {
  const context = contexts.get(executor)
  if (!context) throw new Error('announce: executor does not belong to a Database')
  await context.feed.announce(executor, topic, context.pending)
}

export class SqliteChangeFeed extends ChangeFeed {
  private dataVersion: number | undefined
  private checkedAt = Number.NEGATIVE_INFINITY
  private seq = 0
  private statements: { dataVersion: BetterSqlite3.Statement; since: BetterSqlite3.Statement } | undefined

  constructor(private readonly sqlite: BetterSqlite3.Database) {
    super()
  }

  /** Cheap per call: one PRAGMA; the change rows are read only when another connection committed. */
  usable(): boolean {
    // Inside another request's open transaction this connection would read uncommitted rows.
    if (this.sqlite.inTransaction) return false
    const now = performance.now()
    if (now - this.checkedAt < SQLITE_CHECK_INTERVAL_MS) return true
    try {
      this.statements ??= {
        dataVersion: this.sqlite.prepare('pragma data_version').pluck(),
        since: this.sqlite.prepare('select topic, seq from groupd_changes where seq > ? order by seq'),
      }
    } catch {
      return false // not migrated yet
    }
    const version = this.statements.dataVersion.get() as number
    this.checkedAt = now
    if (version === this.dataVersion) return true
    const rows = this.statements.since.all(this.seq) as { topic: Topic; seq: number }[]
    if (this.dataVersion === undefined) this.flushAll()
    for (const row of rows) this.invalidate(row.topic)
    this.seq = rows.at(-1)?.seq ?? this.seq
    this.dataVersion = version
    return true
  }

  protected async signal(executor: Executor, topic: Topic): Promise<void> {
    // SQLite writers hold the database's one write lock, so max + 1 cannot collide.
    await sql`insert into groupd_changes (topic, seq)
      values (${topic}, (select coalesce(max(seq), 0) + 1 from groupd_changes))
      on conflict (topic) do update set seq = excluded.seq`.execute(executor)
  }

  async close(): Promise<void> {}
}

export class PostgresChangeFeed extends ChangeFeed {
  private client: pg.Client | undefined
  private state: 'idle' | 'connecting' | 'live' | 'waiting' | 'closed' = 'idle'
  private schema = ''

  constructor(private readonly connect: () => pg.Client) {
    super()
  }

  /** Starts listening on first use (the CLI never does); false until the LISTEN is in place. */
  usable(): boolean {
    if (this.state === 'idle') void this.listen()
    return this.state === 'live'
  }

  private async listen(): Promise<void> {
    this.state = 'connecting'
    const client = this.connect()
    this.client = client
    const lost = () => {
      if (this.client !== client) return
      this.client = undefined
      this.flushAll()
      client.end().catch(() => {})
      if (this.state === 'closed') return
      this.state = 'waiting'
      setTimeout(() => void this.listen(), RECONNECT_MS).unref()
    }
    client.on('error', lost)
    client.on('end', lost)
    client.on('notification', (message) => {
      const payload = message.payload ?? ''
      const space = payload.indexOf(' ')
      if (payload.slice(0, space) === this.schema) this.invalidate(payload.slice(space + 1) as Topic)
    })
    try {
      await client.connect()
      const { rows } = await client.query<{ schema: string }>(
        `select current_schema() as schema,
                set_config('application_name', 'groupd-changes ' || current_schema(), false)`,
      )
      this.schema = rows[0]?.schema ?? ''
      await client.query(`listen ${CHANNEL}`)
      if (this.client !== client) return // closed meanwhile
      // Anything may have changed while nobody listened.
      this.flushAll()
      this.state = 'live'
    } catch {
      lost()
    }
  }

  protected async signal(executor: Executor, topic: Topic): Promise<void> {
    await sql`select pg_notify(${CHANNEL}, current_schema() || ' ' || ${topic})`.execute(executor)
  }

  async close(): Promise<void> {
    this.state = 'closed'
    const client = this.client
    this.client = undefined
    await client?.end().catch(() => {})
  }
}
