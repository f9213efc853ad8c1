/**
 * Group commit for ClickHouse inserts. Every INSERT makes a part on disk, and ClickHouse refuses
 * inserts once a partition has 300 unmerged parts, so one INSERT per capture request does not
 * survive load. Here, while an INSERT is in flight the next requests' rows wait and then go
 * together in one INSERT: no added latency when idle, fewer and larger INSERTs the busier it is.
 * Each caller's promise settles with the INSERT that carried its rows (acknowledged or failed).
 */

/** Rows one INSERT carries at most (callers' rows are never split). */
const MAX_ROWS_PER_INSERT = 100_000

interface Waiting {
  rows: object[]
  resolve: () => void
  reject: (error: unknown) => void
}

export class InsertBatcher {
  private waiting: Waiting[] = []
  private busy = false

  constructor(private readonly send: (rows: object[]) => Promise<void>) {}

  insert(rows: object[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve()
    return new Promise((resolve, reject) => {
      this.waiting.push({ rows, resolve, reject })
      this.next()
    })
  }

  private next(): void {
    if (this.busy || this.waiting.length === 0) return
    const batch: Waiting[] = []
    let count = 0
    while (this.waiting.length > 0) {
      const first = this.waiting[0] as Waiting
      if (batch.length > 0 && count + first.rows.length > MAX_ROWS_PER_INSERT) break
      batch.push(this.waiting.shift() as Waiting)
      count += first.rows.length
    }
    this.busy = true
    this.send(batch.flatMap((w) => w.rows))
      .then(
        () => {
          for (const w of batch) w.resolve()
        },
        (error) => {
          for (const w of batch) w.reject(error)
        },
      )
      .finally(() => {
        this.busy = false
        this.next()
      })
  }
}
