/** Personal API keys: minted once, stored as a hash, looked up by the hash of what a caller sends. */
import { announce } from '../db/changes.ts'
import { compiled } from '../db/compiled.ts'
import { type Executor, fromJson, nowIso, toJson } from '../db/database.ts'
import { uuidv7 } from '../db/ids.ts'
import { mintPersonalApiKey } from './tokens.ts'

export interface PersonalApiKey {
  id: string
  user_id: number
  label: string
  mask_value: string
  scopes: string[]
  scoped_teams: number[] | null
  scoped_organizations: string[] | null
  created_at: string
  last_used_at: string | null
}

export interface NewKey {
  userId: number
  label: string
  scopes: string[]
  scopedTeams?: number[] | null
  scopedOrganizations?: string[] | null
}

/** `last_used_at` is refreshed when older than this, as PostHog does. */
const LAST_USED_RESOLUTION_MS = 60 * 60 * 1000

/** Parsed `last_used_at` of keys seen, so the hot path does not parse it on every request. */
const lastUsedMs = new WeakMap<PersonalApiKey, { text: string; ms: number }>()

/** Whether `last_used_at` is due a refresh. */
function lastUseIsStale(key: PersonalApiKey, now = Date.now()): boolean {
  if (!key.last_used_at) return true
  let parsed = lastUsedMs.get(key)
  if (parsed?.text !== key.last_used_at) {
    parsed = { text: key.last_used_at, ms: Date.parse(key.last_used_at) }
    lastUsedMs.set(key, parsed)
  }
  return now - parsed.ms >= LAST_USED_RESOLUTION_MS
}

export async function createPersonalApiKey(
  db: Executor,
  input: NewKey,
): Promise<{ key: PersonalApiKey; plaintext: string }> {
  const minted = mintPersonalApiKey()
  const key: PersonalApiKey = {
    id: uuidv7(),
    user_id: input.userId,
    label: input.label,
    mask_value: minted.mask_value,
    scopes: input.scopes,
    scoped_teams: input.scopedTeams?.length ? input.scopedTeams : null,
    scoped_organizations: input.scopedOrganizations?.length ? input.scopedOrganizations : null,
    created_at: nowIso(),
    last_used_at: null,
  }
  await db
    .insertInto('personal_api_keys')
    .values({
      ...key,
      secure_value: minted.secure_value,
      scopes: toJson(key.scopes),
      scoped_teams: key.scoped_teams && toJson(key.scoped_teams),
      scoped_organizations: key.scoped_organizations && toJson(key.scoped_organizations),
    })
    .execute()
  return { key, plaintext: minted.plaintext }
}

const keyColumns = [
  'k.id',
  'k.user_id',
  'k.label',
  'k.mask_value',
  'k.scopes',
  'k.scoped_teams',
  'k.scoped_organizations',
  'k.created_at',
  'k.last_used_at',
] as const

type KeyRow = Omit<PersonalApiKey, 'scopes' | 'scoped_teams' | 'scoped_organizations'> & {
  scopes: string
  scoped_teams: string | null
  scoped_organizations: string | null
}

function decode(row: KeyRow): PersonalApiKey {
  return {
    ...row,
    scopes: fromJson<string[]>(row.scopes),
    scoped_teams: fromJson<number[]>(row.scoped_teams),
    scoped_organizations: fromJson<string[]>(row.scoped_organizations),
  }
}

const activeKeyByHash = compiled((db, secureValue: string) =>
  db
    .selectFrom('personal_api_keys as k')
    .innerJoin('users as u', 'u.id', 'k.user_id')
    .select(keyColumns)
    .where('k.secure_value', '=', secureValue)
    .where('u.is_active', '=', 1),
)

/** The key with this hash (see tokens.ts), if it exists and its user is active. */
export async function findActiveKey(db: Executor, secureValue: string): Promise<PersonalApiKey | undefined> {
  const [row] = await activeKeyByHash(db, secureValue)
  return row && decode(row)
}

export async function listPersonalApiKeys(db: Executor, userId: number): Promise<PersonalApiKey[]> {
  const rows = await db
    .selectFrom('personal_api_keys as k')
    .select(keyColumns)
    .where('k.user_id', '=', userId)
    .orderBy('k.id')
    .execute()
  return rows.map(decode)
}

export async function revokePersonalApiKey(db: Executor, id: string): Promise<boolean> {
  const result = await db.deleteFrom('personal_api_keys').where('id', '=', id).executeTakeFirst()
  await announce(db, 'auth')
  return Number(result.numDeletedRows) > 0
}

/** Replaces a key's scopes and project/organization restrictions. */
export async function setKeyScopes(
  db: Executor,
  id: string,
  input: Pick<NewKey, 'scopes' | 'scopedTeams' | 'scopedOrganizations'>,
): Promise<boolean> {
  const result = await db
    .updateTable('personal_api_keys')
    .set({
      scopes: toJson(input.scopes),
      scoped_teams: input.scopedTeams?.length ? toJson(input.scopedTeams) : null,
      scoped_organizations: input.scopedOrganizations?.length ? toJson(input.scopedOrganizations) : null,
    })
    .where('id', '=', id)
    .executeTakeFirst()
  await announce(db, 'auth')
  return Number(result.numUpdatedRows) > 0
}

/**
 * Best effort and at most hourly, so reads do not turn into writes. Not announced: no cache
 * depends on it; the (possibly cached) key is updated in place. Runs on every authenticated
 * request: when there is nothing to write it returns undefined, not a promise.
 */
export function touchLastUsed(
  db: Executor,
  key: PersonalApiKey,
  now = new Date(),
): Promise<void> | undefined {
  if (!lastUseIsStale(key, now.getTime())) return undefined
  key.last_used_at = now.toISOString()
  return db
    .updateTable('personal_api_keys')
    .set({ last_used_at: key.last_used_at })
    .where('id', '=', key.id)
    .execute()
    .then(() => undefined)
}
