/** The project a public SDK request names by its project API token (phc_…), shared by capture and flags. */
import type { Database } from '../db/database.ts'
import type { Project } from '../db/schema.ts'
import { projectByToken } from '../tenancy/cache.ts'
import { PERSONAL_API_KEY_PREFIX } from '../tenancy/tokens.ts'

/** Longest token looked up; PostHog refuses longer ones too. */
export const MAX_PROJECT_TOKEN_LENGTH = 200

/** A personal API key is never a project token: refused without a lookup, as is an over-long token. */
export async function projectForToken(database: Database, token: string): Promise<Project | undefined> {
  if (token.startsWith(PERSONAL_API_KEY_PREFIX) || token.length > MAX_PROJECT_TOKEN_LENGTH) return undefined
  return projectByToken(database, token)
}
