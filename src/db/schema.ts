/**
 * Row types as both engines return them after normalisation (see dialect.ts): integer ids are
 * numbers, timestamps ISO-8601 strings (UTC, milliseconds), JSON columns text, flags 0/1.
 */
import type { Generated, Insertable, Selectable } from 'kysely'

export interface OrganizationsTable {
  id: string
  name: string
  created_at: string
}

export interface UsersTable {
  id: Generated<number>
  email: string
  is_active: number
  current_project_id: number | null
  created_at: string
  /** scrypt$N$r$p$salt$hash (base64), or null when the user cannot sign in with a password */
  password_hash: string | null
  /** Set for every user (migration 008 filled in older rows) */
  uuid: string
}

export type MembershipLevel = 'member' | 'admin' | 'owner'

export interface MembershipsTable {
  organization_id: string
  user_id: number
  level: MembershipLevel
  created_at: string
}

export interface ProjectsTable {
  id: Generated<number>
  uuid: string
  organization_id: string
  name: string
  api_token: string
  created_at: string
  /** JSON array of property filters ANDed into metrics with filter_test_accounts */
  test_account_filters: Generated<string>
}

export interface PersonalApiKeysTable {
  id: string
  user_id: number
  label: string
  secure_value: string
  mask_value: string
  /** JSON array of strings */
  scopes: string
  /** JSON array of project ids, or null for any */
  scoped_teams: string | null
  /** JSON array of organization ids, or null for any */
  scoped_organizations: string | null
  created_at: string
  last_used_at: string | null
}

export interface GroupTypeMappingsTable {
  project_id: number
  group_type: string
  group_type_index: number
  name_singular: string | null
  name_plural: string | null
  detail_dashboard: number | null
  /** JSON array of strings, or null */
  default_columns: string | null
  created_at: string | null
}

export interface GroupUsageMetricsTable {
  id: string
  project_id: number
  group_type_index: number
  name: string
  format: string
  interval: number
  display: string
  /** JSON object */
  filters: string
  math: string
  math_property: string | null
  created_at: string
  updated_at: string
}

export interface EventsTable {
  project_id: number
  uuid: string
  event: string
  distinct_id: string
  /** JSON object */
  properties: string
  timestamp: string
  created_at: string
  group_0: string | null
  group_1: string | null
  group_2: string | null
  group_3: string | null
  group_4: string | null
}

export interface GroupsTable {
  project_id: number
  group_type_index: number
  group_key: string
  /** JSON object */
  group_properties: string
  created_at: string
  updated_at: string
  /** Display name (`name`, else the key), case-folded (groups/derived.ts) */
  display_fold: string
  /** The key, case-folded */
  key_fold: string
}

export interface IngestionWarningsTable {
  id: Generated<number>
  project_id: number
  type: string
  /** JSON object */
  details: string
  timestamp: string
}

export interface RateLimitsTable {
  key_id: string
  /** Epoch milliseconds */
  minute_start: number
  minute_count: number
  hour_start: number
  hour_count: number
}

export interface SessionsTable {
  /** SHA-256 of the session id in the cookie */
  id_hash: string
  user_id: number
  created_at: string
  expires_at: string
}

export interface LoginFailuresTable {
  id: Generated<number>
  email: string
  failed_at: string
}

export interface SchemaMigrationsTable {
  name: string
  applied_at: string
}

export interface DB {
  organizations: OrganizationsTable
  users: UsersTable
  memberships: MembershipsTable
  projects: ProjectsTable
  personal_api_keys: PersonalApiKeysTable
  group_type_mappings: GroupTypeMappingsTable
  group_usage_metrics: GroupUsageMetricsTable
  events: EventsTable
  groups: GroupsTable
  ingestion_warnings: IngestionWarningsTable
  rate_limits: RateLimitsTable
  sessions: SessionsTable
  login_failures: LoginFailuresTable
  groupd_migrations: SchemaMigrationsTable
}

export type Organization = Selectable<OrganizationsTable>
export type User = Selectable<UsersTable>
export type Project = Selectable<ProjectsTable>
export type PersonalApiKeyRow = Selectable<PersonalApiKeysTable>
export type NewProject = Insertable<ProjectsTable>
export type GroupTypeMappingRow = Selectable<GroupTypeMappingsTable>
export type GroupUsageMetricRow = Selectable<GroupUsageMetricsTable>
