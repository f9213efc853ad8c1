import { type Static, Type } from '@sinclair/typebox'
import { fromJson } from '../db/database.ts'
import type { Project } from '../db/schema.ts'
import { drfDateTime } from '../http/wire.ts'

const TestAccountFilters = Type.Array(Type.Record(Type.String(), Type.Unknown()), {
  description:
    'Property filters ANDed into usage metrics that set filter_test_accounts (event, feature, event_metadata or group types)',
  examples: [
    [{ key: '$host', operator: 'not_regex', value: '^(localhost|127\\.0\\.0\\.1)($|:)', type: 'event' }],
  ],
})

export const ProjectSchema = Type.Object({
  id: Type.Integer({ examples: [1] }),
  uuid: Type.String({ format: 'uuid' }),
  organization: Type.String({ format: 'uuid', description: 'Organization id' }),
  name: Type.String({ examples: ['Default project'] }),
  api_token: Type.String({ description: 'Project API key (phc_…) for capture', examples: ['phc_…'] }),
  created_at: Type.String({ format: 'date-time' }),
  test_account_filters: TestAccountFilters,
})
export type ProjectResponse = Static<typeof ProjectSchema>

export function serializeProject(project: Project): ProjectResponse {
  return {
    id: project.id,
    uuid: project.uuid,
    organization: project.organization_id,
    name: project.name,
    api_token: project.api_token,
    created_at: drfDateTime(project.created_at) as string,
    test_account_filters: fromJson(project.test_account_filters),
  }
}

/** PATCH body: the settings groupd keeps per project. */
export const ProjectPatchBody = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  test_account_filters: Type.Optional(TestAccountFilters),
})
