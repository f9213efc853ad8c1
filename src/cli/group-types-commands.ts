/** Declaring group types ahead of data, through the same registration that ingestion uses. */
import { nowIso } from '../db/database.ts'
import { serializeGroupType } from '../group-types/schema.ts'
import { isValidGroupTypeName, MAX_GROUP_TYPE_LENGTH, register } from '../group-types/service.ts'
import { listGroupTypes } from '../group-types/store.ts'
import { parse, projectId, required } from './args.ts'
import { UsageError } from './output.ts'
import { type Command, requireProject } from './tenancy-commands.ts'

async function projectFlag(database: Parameters<Command>[1], raw: string | undefined): Promise<number> {
  return (await requireProject(database, projectId(required(raw, '--project'), '--project'))).id
}

export const groupTypesAdd: Command = async (argv, database, out) => {
  const { values, repeated } = parse(argv, ['project', 'name...'])
  const projectId = await projectFlag(database, values.project)
  // A name given twice is one group type, reported once.
  const names = [...new Set(repeated.name ?? [])]
  if (names.length === 0) throw new UsageError('--name is required (repeat it for several group types)')
  for (const name of names) {
    if (!isValidGroupTypeName(name))
      throw new UsageError(`--name must be 1 to ${MAX_GROUP_TYPE_LENGTH} characters`)
  }
  const registered: { group_type: string; group_type_index: number }[] = []
  const dropped: string[] = []
  const createdAt = nowIso()
  await database.transaction(async (tx) => {
    for (const name of names) {
      const result = await register(tx, projectId, name, createdAt)
      if (result.group_type_index === null) dropped.push(name)
      else registered.push({ group_type: name, group_type_index: result.group_type_index })
    }
  })
  const lines = registered.map((r) => `${r.group_type_index}  ${r.group_type}`)
  if (dropped.length) lines.push(`dropped (the project already has 5 group types): ${dropped.join(', ')}`)
  out.result({ registered, dropped }, lines.join('\n'))
}

export const groupTypesList: Command = async (argv, database, out) => {
  const { values } = parse(argv, ['project'])
  const projectId = await projectFlag(database, values.project)
  const list = (await listGroupTypes(database.db, projectId)).map(serializeGroupType)
  const human = list.length
    ? list
        .map((g) => `${g.group_type_index}  ${g.group_type}${g.name_plural ? ` (${g.name_plural})` : ''}`)
        .join('\n')
    : `project ${projectId} has no group types`
  out.result(list, human)
}
