import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isUuid, uuidv7 } from '../src/db/ids.ts'

describe('uuidv7', () => {
  it('is a valid version-7 UUID that sorts in creation order, even within one millisecond', () => {
    const ids = Array.from({ length: 10_000 }, () => uuidv7())
    assert.deepEqual([...ids].sort(), ids)
    assert.equal(new Set(ids).size, ids.length)
    for (const id of ids.slice(0, 100)) {
      assert.ok(isUuid(id))
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    }
  })

  it('carries the millisecond timestamp in its first 48 bits', () => {
    const now = Date.now() + 10_000
    const id = uuidv7(now)
    assert.equal(Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16), now)
  })
})
