import { type Static, Type } from '@sinclair/typebox'
import type { Project } from '../db/schema.ts'
import { drfDateTime } from '../http/wire.ts'

export const ProjectSchema = Type.Object({
  id: Type.Integer({ examples: [1] }),
  uuid: Type.String({ format: 'uuid' }),
  organization: Type.String({ format: 'uuid', description: 'Organization id' }),
  name: Type.String({ examples: ['Default project'] }),
  api_token: Type.String({ description: 'Project API key (phc_…) for capture', examples: ['phc_…'] }),
  created_at: Type.String({ format: 'date-time' }),
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
  }
}
