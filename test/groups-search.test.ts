/**
 * Indexed search equals the scan (fast-check, every SQL engine): random groups with awkward text
 * (case variants, final sigma, dotted I, LIKE's `%` and `_`, quotes, backslashes, control
 * characters, numbers) and random searches (substrings of what is stored, near misses, one and two
 * characters). The REST list must answer exactly what its unindexed predicate answers, and
 * GroupsQuery's search exactly what its definition (a substring of the folded display name or
 * key) gives, computed here.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { sql } from 'kysely'
import { client, createTenant, ENGINE, startServer, type Tenant, type TestServer } from './helpers/harness.ts'

const ALPHABET = [
  'a',
  'B',
  'c',
  'σ',
  'Σ',
  'ς',
  'İ',
  'i',
  '%',
  '_',
  '"',
  '\\',
  '\n',
  ' ',
  '1',
  'é',
  'É',
  '😀',
  '-',
]
const text = fc.array(fc.constantFrom(...ALPHABET), { minLength: 0, maxLength: 10 }).map((cs) => cs.join(''))
const group = fc.record({
  key: text.filter((k) => k.length > 0),
  name: fc.oneof(text, fc.integer({ min: -50, max: 50 }), fc.constant(undefined), fc.constant(null)),
  note: fc.oneof(text, fc.constant(undefined)),
})

const fold = (s: string) => Array.from(s, (c) => c.toLowerCase()).join('')

describe('search: the trigram index answers what the scan answers', () => {
  let server: TestServer
  before(async () => {
    server = await startServer()
  })
  after(() => server.close())

  /** The list's predicate without the index (what groupd ran before migration 009). */
  async function scan(t: Tenant, search: string): Promise<string[]> {
    const pattern = `%${search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`
    const key = ENGINE === 'postgres' ? sql`group_key COLLATE "C"` : sql`group_key`
    const { rows } = await sql<{ group_key: string }>`
      SELECT group_key FROM groups WHERE project_id = ${t.project.id} AND group_type_index = 0
        AND (group_key = ${search} OR lower(cast(group_properties as text)) LIKE ${pattern} ESCAPE '\\')
      ORDER BY created_at DESC, ${key} DESC`.execute(server.database.db)
    return rows.map((r) => r.group_key)
  }

  it('REST list search and GroupsQuery search, for random groups and searches', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(group, { minLength: 1, maxLength: 12, selector: (g) => g.key }),
        fc.array(fc.tuple(fc.nat(), fc.nat(), fc.nat()), { minLength: 1, maxLength: 4 }),
        fc.array(text, { maxLength: 2 }),
        async (groups, picks, extra) => {
          const t = await createTenant(server.database)
          const api = client(server.url, t.key)
          const operations = groups.map((g) => ({
            group_type_index: 0,
            group_key: g.key,
            $set: {
              ...(g.name === undefined ? {} : { name: g.name }),
              ...(g.note === undefined ? {} : { note: g.note }),
            },
          }))
          const bulk = await api.post(`/api/projects/${t.project.id}/groups/bulk/`, { body: { operations } })
          assert.equal(bulk.status, 200, bulk.text)
          // Substrings of stored text (key, name, note), and other strings.
          const sources = groups.flatMap((g) => [g.key, String(g.name ?? ''), g.note ?? ''])
          // Mostly trigram-long, in the stored case and case-flipped (what the index must fold).
          const searches = picks.flatMap(([s, a, b]) => {
            const source = sources[s % sources.length] as string
            const chars = Array.from(source)
            const start = a % (chars.length + 1)
            const cut = chars.slice(start, start + (b % 5 === 0 ? 1 + (b % 2) : 3 + (b % 4))).join('')
            return [cut, cut.toUpperCase(), cut.toLowerCase()]
          })
          // Whole names too: JSON escapes quotes, backslashes and newlines in the indexed text.
          const names = groups.flatMap((g) =>
            typeof g.name === 'string' && g.name.length >= 3 ? [g.name] : [],
          )
          for (const search of [...searches, ...names, ...extra].filter((s) => s !== '')) {
            const listed = await api.get(
              `/api/projects/${t.project.id}/groups/?group_type_index=0&search=${encodeURIComponent(search)}`,
            )
            assert.equal(listed.status, 200, listed.text)
            const keys = listed.body.results.map((g: { group_key: string }) => g.group_key)
            assert.deepEqual(keys, await scan(t, search), `list search ${JSON.stringify(search)}`)
            const queried = await api.post(`/api/projects/${t.project.id}/query/`, {
              body: {
                query: {
                  kind: 'GroupsQuery',
                  group_type_index: 0,
                  select: ['key'],
                  search,
                  orderBy: ['key ASC'],
                },
              },
            })
            assert.equal(queried.status, 200, queried.text)
            const needle = fold(search)
            const expected = groups
              .filter((g) => {
                const display = g.name === undefined || g.name === null ? g.key : String(g.name)
                return fold(display).includes(needle) || fold(g.key).includes(needle)
              })
              .map((g) => g.key)
              .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
            const got = queried.body.results
              .map((r: string[]) => r[0])
              .sort((a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0))
            assert.deepEqual(got, expected, `GroupsQuery search ${JSON.stringify(search)}`)
          }
        },
      ),
      { numRuns: 30 },
    )
  })
})
