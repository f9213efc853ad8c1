/**
 * Read-through caches kept exact by the change feed (changes.ts): an entry is served only while
 * its topic's version is the one it was filled under. Bounded (least recently used goes first)
 * with a TTL backstop. Each Database gets its own instances, so tenants and test databases never
 * share entries.
 */
import type { ChangeFeed, Topic } from './changes.ts'
import type { Database } from './database.ts'

export interface CacheOptions {
  /** Most entries kept. */
  maxEntries: number
  /** Longest an entry is served without a reload, whatever the feed says. */
  ttlMs: number
}

interface Entry<V> {
  value: V
  version: number
  expires: number
}

export class ReadCache<V> {
  private readonly entries = new Map<string, Entry<V>>()

  constructor(
    private readonly feed: ChangeFeed,
    readonly options: CacheOptions,
  ) {}

  get size(): number {
    return this.entries.size
  }

  /**
   * The cached value of `key` if current, without a promise: the hot path's hit. Undefined when
   * it has to be loaded (a cached value is never undefined).
   */
  peek(key: string, topic: Topic): V | undefined {
    if (!this.feed.usable()) return undefined
    const entry = this.entries.get(key)
    if (!entry || entry.version !== this.feed.version(topic) || entry.expires <= Date.now()) return undefined
    // Re-insert: a Map iterates in insertion order, so the first key is the least recently used.
    this.entries.delete(key)
    this.entries.set(key, entry)
    return entry.value
  }

  /** get() for the hot path: a hit is returned as it is, not wrapped in a promise. */
  read(key: string, topic: Topic, load: () => Promise<V>): NonNullable<V> | Promise<V> {
    return this.peek(key, topic) ?? this.get(key, topic, load)
  }

  /**
   * The cached value of `key` if current, else `load()`'s, cached unless a change raced it or it
   * is undefined (not found is not remembered: whatever creates it need not announce).
   */
  async get(key: string, topic: Topic, load: () => Promise<V>): Promise<V> {
    const hit = this.peek(key, topic)
    if (hit !== undefined) return hit
    if (!this.feed.usable()) return load()
    const now = Date.now()
    const version = this.feed.version(topic)
    const epoch = this.feed.epoch
    const value = await load()
    if (value !== undefined && this.feed.epoch === epoch && this.feed.usable()) {
      this.entries.delete(key)
      if (this.entries.size >= this.options.maxEntries)
        this.entries.delete(this.entries.keys().next().value as string)
      this.entries.set(key, { value, version, expires: now + this.options.ttlMs })
    }
    return value
  }
}

/** A cache per Database, created on first use. */
export function cachePerDatabase<V>(options: CacheOptions): (database: Database) => ReadCache<V> {
  const caches = new WeakMap<Database, ReadCache<V>>()
  return (database) => {
    let cache = caches.get(database)
    if (!cache) {
      cache = new ReadCache<V>(database.changes, options)
      caches.set(database, cache)
    }
    return cache
  }
}
