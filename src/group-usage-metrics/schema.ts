import { type Static, Type } from '@sinclair/typebox'
import { Choice, Nullable } from '../http/schemas.ts'
import type { Metric } from './store.ts'

export const FORMATS = ['numeric', 'currency'] as const
export const DISPLAYS = ['number', 'sparkline'] as const
export const MATHS = ['count', 'sum'] as const

/** Bounds PostHog lacks: it accepts any int32 interval and 500s beyond. */
export const MIN_INTERVAL_DAYS = 1
export const MAX_INTERVAL_DAYS = 3650

const Filters = Type.Record(Type.String(), Type.Unknown(), {
  description:
    'HogQL filter definition: {events?, actions?, properties?, filter_test_accounts?} for events, or {source: "data_warehouse", table_name, timestamp_field, key_field}',
  examples: [{ events: [{ id: '$pageview', type: 'events' }] }],
})

const fields = {
  name: Type.String({
    minLength: 1,
    maxLength: 255,
    description: 'Must be unique per group type within the project',
    examples: ['Events'],
  }),
  format: Type.Optional(Choice(FORMATS, { default: 'numeric' })),
  interval: Type.Optional(
    Type.Integer({
      minimum: MIN_INTERVAL_DAYS,
      maximum: MAX_INTERVAL_DAYS,
      default: 7,
      description: 'In days',
    }),
  ),
  display: Type.Optional(Choice(DISPLAYS, { default: 'number' })),
  filters: Filters,
  math: Type.Optional(Choice(MATHS, { default: 'count' })),
  math_property: Type.Optional(
    Nullable(Type.String({ maxLength: 255, description: "Property to sum when math is 'sum'" })),
  ),
}

/** POST and PUT body (PATCH validates the same schema partially). */
export const MetricBody = Type.Object(fields)
export type MetricInput = Partial<Static<typeof MetricBody>>

/** Response keys in PostHog's order. */
export const MetricSchema = Type.Object({
  id: Type.String({ format: 'uuid', examples: ['0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b'] }),
  name: fields.name,
  format: Choice(FORMATS),
  interval: Type.Integer({ description: 'In days' }),
  display: Choice(DISPLAYS),
  filters: Filters,
  math: Choice(MATHS),
  math_property: Nullable(Type.String()),
})
export type MetricResponse = Static<typeof MetricSchema>

export const MetricParams = Type.Object({
  project_id: Type.String(),
  group_type_index: Type.String({ description: 'Group type index, 0 to 4', examples: ['0'] }),
})
export const MetricItemParams = Type.Object({
  ...MetricParams.properties,
  id: Type.String({ format: 'uuid', description: 'A UUID string identifying this group usage metric.' }),
})

export function serializeMetric(m: Metric): MetricResponse {
  return {
    id: m.id,
    name: m.name,
    format: m.format,
    interval: m.interval,
    display: m.display,
    filters: m.filters,
    math: m.math,
    math_property: m.math_property,
  }
}
