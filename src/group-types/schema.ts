import { type Static, Type } from '@sinclair/typebox'
import { Nullable } from '../http/schemas.ts'
import { drfDateTime } from '../http/wire.ts'
import { MAX_GROUP_TYPE_LENGTH, MAX_GROUP_TYPES_PER_PROJECT } from './service.ts'
import type { GroupType } from './store.ts'

/** Bounds PostHog leaves open. */
export const MAX_DEFAULT_COLUMNS = 200
export const MAX_COLUMN_LENGTH = 400
export const MAX_METADATA_ROWS = 100

const Index = Type.Integer({ minimum: 0, maximum: MAX_GROUP_TYPES_PER_PROJECT - 1, examples: [0] })
const DisplayName = Nullable(Type.String({ maxLength: MAX_GROUP_TYPE_LENGTH }))
const DefaultColumns = Nullable(
  Type.Array(Type.String({ maxLength: MAX_COLUMN_LENGTH }), {
    maxItems: MAX_DEFAULT_COLUMNS,
    examples: [['$group_0']],
  }),
)
const DetailDashboard = Nullable(Type.Integer({ minimum: 1, maximum: 2_147_483_647 }))

/** Response keys in PostHog's order. */
export const GroupTypeSchema = Type.Object({
  group_type: Type.String({ examples: ['company'] }),
  group_type_index: Index,
  name_singular: DisplayName,
  name_plural: DisplayName,
  detail_dashboard: DetailDashboard,
  default_columns: DefaultColumns,
  created_at: Nullable(Type.String({ format: 'date-time', examples: ['2019-08-24T14:15:22Z'] })),
})
export type GroupTypeResponse = Static<typeof GroupTypeSchema>

export const GroupTypeList = Type.Array(GroupTypeSchema)

/** A row of update_metadata; group_type and created_at are read-only and ignored. */
export const MetadataRowSchema = Type.Object({
  group_type_index: Type.Optional(
    Type.Integer({ description: 'Identifies the group type; read-only otherwise' }),
  ),
  name_singular: Type.Optional(DisplayName),
  name_plural: Type.Optional(DisplayName),
  detail_dashboard: Type.Optional(DetailDashboard),
  default_columns: Type.Optional(DefaultColumns),
})
export const UpdateMetadataBody = Type.Array(MetadataRowSchema, {
  maxItems: MAX_METADATA_ROWS,
  description: 'Rows applied in order, all or none',
})

export const SetDefaultColumnsBody = Type.Object({
  group_type_index: Type.Integer(),
  default_columns: DefaultColumns,
})

export function serializeGroupType(g: GroupType): GroupTypeResponse {
  return { ...g, created_at: drfDateTime(g.created_at) }
}
