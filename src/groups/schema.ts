import { Type } from '@sinclair/typebox'
import { drfDateTime } from '../http/wire.ts'
import { type Group, MAX_GROUP_KEY_LENGTH } from './store.ts'

/** Group type indexes are 0–4 (five per project). */
export const GroupTypeIndex = Type.Integer({ minimum: 0, maximum: 4, examples: [0] })

export const GroupSchema = Type.Object({
  group_type_index: Type.Integer({ examples: [0] }),
  group_key: Type.String({ examples: ['acme-inc'] }),
  group_properties: Type.Record(Type.String(), Type.Unknown()),
  created_at: Type.String({ format: 'date-time' }),
})

export const CreateGroupBody = Type.Object({
  group_type_index: GroupTypeIndex,
  group_key: Type.String({ minLength: 1, maxLength: MAX_GROUP_KEY_LENGTH }),
  group_properties: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { default: {} })),
})

/** Bounds PostHog lacks: how deep and how large one group's properties may be. */
export const MAX_PROPERTIES_DEPTH = 32
export const MAX_PROPERTIES_BYTES = 256 * 1024

/** Longest property key set through the API. */
export const MAX_PROPERTY_KEY_LENGTH = 400

export const UpdatePropertyBody = Type.Object({
  key: Type.String({ minLength: 1, maxLength: MAX_PROPERTY_KEY_LENGTH }),
  value: Type.Unknown(),
})

export const DeletePropertyBody = Type.Object({
  $unset: Type.String({ minLength: 1, maxLength: MAX_PROPERTY_KEY_LENGTH }),
})

export const serializeGroup = (g: Group) => ({ ...g, created_at: drfDateTime(g.created_at) as string })
