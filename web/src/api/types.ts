/** Response shapes of the REST API, as groupd (and PostHog) send them. */

export interface Me {
  uuid: string
  email: string
  first_name: string
  organization: { id: string; name: string } | null
  team: { id: number; uuid: string; name: string } | null
}

export interface Project {
  id: number
  uuid: string
  organization: string
  name: string
  api_token: string
  created_at: string
}

export interface Page<T> {
  count?: number
  next: string | null
  previous?: string | null
  results: T[]
}

export interface GroupType {
  group_type: string
  group_type_index: number
  name_singular: string | null
  name_plural: string | null
  detail_dashboard: number | null
  default_columns: string[] | null
  created_at: string | null
}

export interface Group {
  group_type_index: number
  group_key: string
  group_properties: Record<string, unknown>
  created_at: string
}

export interface PropertyFilter {
  key: string
  value?: unknown
  operator?: string
  type?: string
}

export interface MetricFilters {
  events?: { id: string; name?: string; type: 'events'; order?: number; properties?: PropertyFilter[] }[]
  actions?: unknown[]
  properties?: PropertyFilter[]
  filter_test_accounts?: boolean
  source?: string
}

export interface Metric {
  id: string
  name: string
  format: 'numeric' | 'currency'
  interval: number
  display: 'number' | 'sparkline'
  filters: MetricFilters
  math: 'count' | 'sum'
  math_property: string | null
}

export interface MetricResult {
  id: string
  name: string
  value: number | null
  previous: number | null
  change_from_previous_pct: number | null
  display: 'number' | 'sparkline'
  format: 'numeric' | 'currency'
  interval: number
  timeseries: number[] | null
  timeseries_labels: string[] | null
}

export interface Event {
  id: string
  distinct_id: string
  properties: Record<string, unknown>
  event: string
  timestamp: string
}

export interface WarningSummary {
  type: string
  lastSeen: string
  count: number
  warnings: { type: string; timestamp: string; details: Record<string, unknown> }[]
}

export interface PersonalApiKey {
  id: string
  label: string
  mask_value: string
  created_at: string
  last_used_at: string | null
  scopes: string[]
  scoped_teams: number[] | null
  value?: string
}
