/**
 * Group commit for ClickHouse inserts. Every INSERT makes a part on disk, which costs ClickHouse
 * about 25 ms of CPU whatever its size (measured on 18.16 here) and later merges; ClickHouse
 * refuses inserts once a partition has 300 unmerged parts. So one INSERT per capture request
 * neither scales nor survives load. Here rows wait while an INSERT is in flight, and INSERTs start
 * at most once per `minIntervalMs` unless FULL_INSERT_ROWS are waiting (then up to MAX_IN_FLIGHT
 * at once); the waiting rows go together in one INSERT. An idle process sends at once; a busy one
 * sends fewer, larger INSERTs, each request waiting at most about one interval plus one INSERT.
 * Each caller's promise settles with the INSERT that carried its rows (acknowledged or failed).
 * Rows arrive encoded (row-binary.ts): an INSERT's body is its callers' buffers one after another.
 */

/** Rows one INSERT carries at most (callers' rows are never split). */
const MAX_ROWS_PER_INSERT = 100_000
/**
 * Rows worth an INSERT without waiting out the interval or for the INSERT in flight: the part's
 * fixed cost is amortised, and capture keeps encoding while ClickHouse writes.
 */
const FULL_INSERT_ROWS = 4_000
/** INSERTs one process has in flight at most. */
const MAX_IN_FLIGHT = 2

interface Waiting {
  data: Buffer
  rows: number
  resolve: () => void
  reject: (error: unknown) => void
}

export class InsertBatcher {
  private waiting: Waiting[] = []
  private waitingRows = 0
  private inFlight = 0
  private lastStart = Number.NEGATIVE_INFINITY
  private timer: NodeJS.Timeout | null = null

  constructor(
    private readonly send: (data: Buffer[]) => Promise<void>,
    private readonly minIntervalMs: number,
  ) {}

  /** `rows` encoded rows in `data`; resolves once ClickHouse acknowledged the INSERT carrying them. */
  insert(data: Buffer, rows: number): Promise<void> {
    if (rows === 0) return Promise.resolve()
    return new Promise((resolve, reject) => {
      this.waiting.push({ data, rows, resolve, reject })
      this.waitingRows += rows
      this.next()
    })
  }

  private next(): void {
    if (this.waiting.length === 0 || this.inFlight >= MAX_IN_FLIGHT) return
    if (this.waitingRows < FULL_INSERT_ROWS) {
      // Not full: after the INSERT in flight, and once the interval is out.
      if (this.inFlight > 0 || this.timer) return
      const wait = this.lastStart + this.minIntervalMs - Date.now()
      if (wait > 0) {
        this.timer = setTimeout(() => {
          this.timer = null
          this.next()
        }, wait)
        return
      }
    }
    if (this.timer) {
      clearTimeout(this.timer)
      this.timer = null
    }
    const batch: Waiting[] = []
    let count = 0
    while (this.waiting.length > 0) {
      const first = this.waiting[0] as Waiting
      if (batch.length > 0 && count + first.rows > MAX_ROWS_PER_INSERT) break
      batch.push(this.waiting.shift() as Waiting)
      count += first.rows
    }
    this.waitingRows -= count
    this.inFlight++
    this.lastStart = Date.now()
    this.send(batch.map((w) => w.data))
      .then(
        () => {
          for (const w of batch) w.resolve()
        },
        (error) => {
          for (const w of batch) w.reject(error)
        },
      )
      .finally(() => {
        this.inFlight--
        this.next()
      })
  }
}
