import type { Migration } from '../migrate.ts'
import { m001Tenancy } from './001-tenancy.ts'
import { m002GroupTypes } from './002-group-types.ts'
import { m003GroupUsageMetrics } from './003-group-usage-metrics.ts'
import { m004Capture } from './004-capture.ts'
import { m005RateLimits } from './005-rate-limits.ts'
import { m006MetricValues } from './006-metric-values.ts'
import { m007ChangeLog } from './007-change-log.ts'
import { m008Sessions } from './008-sessions.ts'
import { m009GroupsAtScale } from './009-groups-at-scale.ts'
import { m010GroupCounts } from './010-group-counts.ts'

/** In order of application; never reorder or edit an applied migration, add a new one. */
export const migrations: Migration[] = [
  m001Tenancy,
  m002GroupTypes,
  m003GroupUsageMetrics,
  m004Capture,
  m005RateLimits,
  m006MetricValues,
  m007ChangeLog,
  m008Sessions,
  m009GroupsAtScale,
  m010GroupCounts,
]
