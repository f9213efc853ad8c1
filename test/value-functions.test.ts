/**
 * The numeric and datetime readings of a property value: one definition (db/functions.ts) that
 * SQLite runs as user functions and PostgreSQL as groupd_num / groupd_ts (migration 006). Both
 * engines must agree on every input, never raise an error (a 500), and stay usable in parallel plans.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import { datetimeValue, numericValue } from '../src/db/functions.ts'
import { migrate } from '../src/db/migrate.ts'
import { openTestDatabase, type TestDatabase } from './helpers/harness.ts'

const NUMBERS: [string, number | null][] = [
  ['12', 12],
  ['-3.5', -3.5],
  ['.5', 0.5],
  ['12.', 12],
  ['1e3', 1000],
  ['-0', 0],
  ['0.000', 0],
  [' 12', null],
  ['12 ', null],
  ['0x10', null],
  ['Infinity', null],
  ['NaN', null],
  ['1e400', null],
  ['1e-400', null],
  ['-1e308', -1e308],
  ['9'.repeat(255), Number('9'.repeat(255))],
  ['9'.repeat(256), null],
  ['1e1000', null],
  ['', null],
  ['abc', null],
  ['+1', null],
]

const DATES: [string, string | null][] = [
  ['2024-01-15', '2024-01-15T00:00:00.000Z'],
  ['2024-01-15T10:00:00Z', '2024-01-15T10:00:00.000Z'],
  ['2024-01-15 10:00', '2024-01-15T10:00:00.000Z'],
  ['2024-01-15T10:00:00.123456Z', '2024-01-15T10:00:00.123Z'],
  ['2024-01-15T10:00:00+05:30', '2024-01-15T04:30:00.000Z'],
  ['2024-01-15T10:00:00-0800', '2024-01-15T18:00:00.000Z'],
  ['2024-01-15T10:00+01', '2024-01-15T09:00:00.000Z'],
  ['2024-02-29', '2024-02-29T00:00:00.000Z'],
  ['2023-02-29', null],
  ['2024-04-31', null],
  ['2024-13-01', null],
  ['2024-01-15T24:00:00Z', null],
  ['2024-01-15T23:59:60Z', null],
  ['0000-01-01', null],
  ['0001-01-01', '0001-01-01T00:00:00.000Z'],
  ['9999-12-31T23:59:59Z', '9999-12-31T23:59:59.000Z'],
  ['2024-1-5', null],
  ['yesterday', null],
  ['1700000000', null],
  ['2024-01-15T10:00:00+25:00', null],
]

describe('numeric and datetime readings', () => {
  it('JavaScript (the SQLite functions)', () => {
    for (const [text, expected] of NUMBERS) assert.equal(numericValue(text), expected, text)
    for (const [text, expected] of DATES) {
      const ms = datetimeValue(text)
      assert.equal(ms === null ? null : new Date(ms).toISOString(), expected, text)
    }
  })

  describe('PostgreSQL agrees', {
    skip: process.env.GROUPD_TEST_ENGINE !== 'postgres' && 'PostgreSQL pass only',
  }, () => {
    let testDb: TestDatabase
    before(async () => {
      testDb = await openTestDatabase('postgres')
      await migrate(testDb.database)
    })
    after(() => testDb.cleanup())

    it('groupd_num and groupd_ts, also inside a parallel plan', async () => {
      await testDb.database.transaction(async (tx) => {
        // Every function call runs in a parallel worker: an exception block would fail there.
        const { rows: version } = await sql<{
          v: number
        }>`SELECT current_setting('server_version_num')::int AS v`.execute(tx)
        const setting = (version[0]?.v ?? 0) >= 160000 ? 'debug_parallel_query' : 'force_parallel_mode'
        await sql`SELECT set_config(${setting}, 'on', true)`.execute(tx)
        for (const [text, expected] of NUMBERS) {
          const { rows } = await sql<{ n: number | null }>`SELECT groupd_num(${text}::text) AS n`.execute(tx)
          assert.equal(rows[0]?.n, expected, text)
        }
        for (const [text, expected] of DATES) {
          const { rows } = await sql<{ t: string | null }>`SELECT groupd_ts(${text}::text) AS t`.execute(tx)
          assert.equal(rows[0]?.t, expected, text)
        }
      })
    })
  })
})
