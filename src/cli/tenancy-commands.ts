/** Admin commands for organizations, users, projects and personal API keys. */

import { loadConfig } from '../config.ts'
import type { Database } from '../db/database.ts'
import { isUuid } from '../db/ids.ts'
import type { MembershipLevel } from '../db/schema.ts'
import type { EventsStore } from '../events/store.ts'
import { deactivateUser, setPassword } from '../sessions/accounts.ts'
import { generatePassword, passwordProblem } from '../sessions/passwords.ts'
import { createPersonalApiKey, listPersonalApiKeys, revokePersonalApiKey } from '../tenancy/keys.ts'
import { countOrganizations, createOrganization, getOrganization } from '../tenancy/organizations.ts'
import { createProject, currentProjectId, getProject } from '../tenancy/projects.ts'
import { isValidScope, SCOPE_OBJECTS } from '../tenancy/scopes.ts'
import {
  addMembership,
  createUser,
  findUserByEmail,
  MEMBERSHIP_LEVELS,
  organizationIdsOf,
} from '../tenancy/users.ts'
import { nonEmptyList, parse, projectId, required } from './args.ts'
import { type Output, UsageError } from './output.ts'

export type Command = (
  argv: string[],
  database: Database,
  out: Output,
  /** The events store, opened (and migrated) on first use, for the commands that read events. */
  events: () => Promise<EventsStore>,
) => Promise<void>

/** PostHog's limit on a key's label. */
const MAX_LABEL_LENGTH = 40
const BOOTSTRAP_EMAIL = 'admin@localhost'

async function requireOrganization(database: Database, id: string) {
  const org = isUuid(id) ? await getOrganization(database.db, id) : undefined
  if (!org)
    throw new UsageError(`organization ${id} not found (see the id printed by \`groupd orgs create\`)`)
  return org
}

export async function requireProject(database: Database, id: number) {
  const project = await getProject(database.db, id)
  if (!project) throw new UsageError(`project ${id} not found`)
  return project
}

async function requireUser(database: Database, email: string) {
  const user = await findUserByEmail(database.db, email)
  if (!user) throw new UsageError(`no user with email ${email}`)
  return user
}

function checkEmail(email: string): string {
  if (!/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 254) throw new UsageError(`invalid email "${email}"`)
  return email.toLowerCase()
}

/** A password piped on stdin (one trailing newline dropped), checked like PostHog's minimum. */
async function passwordFromStdin(): Promise<string> {
  if (process.stdin.isTTY)
    throw new UsageError('pipe the password on stdin, e.g. `read -rs P; echo "$P" | groupd …`')
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  const password = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '')
  const problem = passwordProblem(password)
  if (problem) throw new UsageError(problem)
  return password
}

/** Where `groupd serve` listens with the same environment; a wildcard HOST is reached on loopback. */
function serverUrl(): string {
  const { host, port } = loadConfig()
  if (['0.0.0.0', '::', ''].includes(host)) return `http://127.0.0.1:${port}/`
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}/`
}

export const bootstrap: Command = async (argv, database, out) => {
  parse(argv, [])
  const result = await database.transaction(async (tx) => {
    let user = await findUserByEmail(tx, BOOTSTRAP_EMAIL)
    let created = false
    if (!user) {
      if ((await countOrganizations(tx)) > 0) {
        throw new UsageError(
          `the database has organizations but no ${BOOTSTRAP_EMAIL}; use \`groupd users create\``,
        )
      }
      const org = await createOrganization(tx, 'Default')
      user = await createUser(tx, BOOTSTRAP_EMAIL)
      await addMembership(tx, org.id, user.id, 'owner')
      await createProject(tx, org.id, 'Default project')
      created = true
    }
    const projectId = await currentProjectId(tx, user.id)
    const project = projectId === undefined ? undefined : await getProject(tx, projectId)
    if (!project) throw new UsageError(`${BOOTSTRAP_EMAIL} has no project; use \`groupd projects create\``)
    const { plaintext } = await createPersonalApiKey(tx, {
      userId: user.id,
      label: 'bootstrap',
      scopes: ['*'],
    })
    return { created, project, plaintext, userId: user.id, hasPassword: user.password_hash !== null }
  })
  const base = serverUrl()
  // A password is set once; a later bootstrap leaves one the admin may have changed alone.
  const password = result.hasPassword ? null : generatePassword()
  if (password) await setPassword(database, result.userId, password)
  const value = {
    organization_id: result.project.organization_id,
    project_id: result.project.id,
    project_api_token: result.project.api_token,
    personal_api_key: result.plaintext,
    admin_email: BOOTSTRAP_EMAIL,
    admin_password: password,
  }
  out.result(
    value,
    [
      result.created
        ? `Created organization "Default", user ${BOOTSTRAP_EMAIL} and project "Default project".`
        : `Using existing user ${BOOTSTRAP_EMAIL}.`,
      `Organization id:    ${value.organization_id}`,
      `Project id:         ${value.project_id}`,
      `Project API token:  ${value.project_api_token}`,
      `Personal API key:   ${value.personal_api_key}   (shown once; store it now)`,
      password
        ? `Sign-in password:   ${password}   for ${BOOTSTRAP_EMAIL} (shown once; store it now)`
        : `Sign-in password:   unchanged (set a new one with \`groupd users set-password --email ${BOOTSTRAP_EMAIL}\`)`,
      '',
      `Open ${base} and sign in, or`,
      `Try: curl -H "Authorization: Bearer ${value.personal_api_key}" ${base}api/projects/`,
    ].join('\n'),
  )
}

export const orgsCreate: Command = async (argv, database, out) => {
  const { values } = parse(argv, ['name'])
  const name = required(values.name, '--name')
  const org = await createOrganization(database.db, name)
  out.result({ id: org.id, name: org.name }, `Created organization "${org.name}" with id ${org.id}`)
}

export const usersCreate: Command = async (argv, database, out) => {
  const { values } = parse(argv, ['email', 'org', 'level', 'password-stdin?'])
  const password = values['password-stdin'] ? await passwordFromStdin() : null
  const email = checkEmail(required(values.email, '--email'))
  const orgId = required(values.org, '--org')
  const level = (values.level ?? 'member') as MembershipLevel
  if (!MEMBERSHIP_LEVELS.includes(level))
    throw new UsageError(`--level must be one of ${MEMBERSHIP_LEVELS.join(', ')}`)
  await requireOrganization(database, orgId)
  const user = await database.transaction(async (tx) => {
    const existing = await findUserByEmail(tx, email)
    if (existing && (await organizationIdsOf(tx, existing.id)).includes(orgId)) {
      throw new UsageError(`${email} is already a member of organization ${orgId}`)
    }
    const user = existing ?? (await createUser(tx, email))
    await addMembership(tx, orgId, user.id, level)
    return user
  })
  if (password) await setPassword(database, user.id, password)
  out.result(
    { id: user.id, email: user.email },
    `User ${user.email} (id ${user.id}) is now ${level} of organization ${orgId}`,
  )
}

export const usersDeactivate: Command = async (argv, database, out) => {
  const { values } = parse(argv, ['email'])
  const user = await requireUser(database, checkEmail(required(values.email, '--email')))
  await deactivateUser(database, user.id)
  out.result(
    { id: user.id, email: user.email, is_active: false },
    `Deactivated ${user.email}; their keys and sessions no longer work`,
  )
}

export const usersSetPassword: Command = async (argv, database, out) => {
  const { values } = parse(argv, ['email'])
  const user = await requireUser(database, checkEmail(required(values.email, '--email')))
  await setPassword(database, user.id, await passwordFromStdin())
  out.result({ id: user.id, email: user.email }, `Password set for ${user.email}; their sessions were ended`)
}

export const projectsCreate: Command = async (argv, database, out) => {
  const { values } = parse(argv, ['org', 'name'])
  const org = await requireOrganization(database, required(values.org, '--org'))
  const name = required(values.name, '--name')
  const project = await createProject(database.db, org.id, name)
  out.result(
    { id: project.id, uuid: project.uuid, api_token: project.api_token, name: project.name },
    `Created project "${project.name}" with id ${project.id}\nProject API token: ${project.api_token}`,
  )
}

export const keysCreate: Command = async (argv, database, out) => {
  const { values } = parse(argv, ['email', 'scopes', 'projects', 'orgs', 'label'])
  const user = await requireUser(database, checkEmail(required(values.email, '--email')))
  // Such a key would be refused on every request (401).
  if (!user.is_active) throw new UsageError(`${user.email} is deactivated`)
  const scopes = nonEmptyList(required(values.scopes, '--scopes'), '--scopes')
  for (const scope of scopes) {
    if (!isValidScope(scope)) {
      throw new UsageError(
        `invalid scope "${scope}": use *, or <object>:read|write with object one of ${SCOPE_OBJECTS.join(', ')}`,
      )
    }
  }
  // Given but empty would mint a key without the restriction its creator asked for.
  const given = (value: string | undefined, flag: string) =>
    value === undefined ? [] : nonEmptyList(value, flag)
  const scopedTeams = given(values.projects, '--projects').map((p) => projectId(p, '--projects'))
  for (const id of scopedTeams) await requireProject(database, id)
  const scopedOrganizations = given(values.orgs, '--orgs')
  for (const id of scopedOrganizations) await requireOrganization(database, id)
  const label = values.label ?? 'groupd CLI'
  if (label.length > MAX_LABEL_LENGTH)
    throw new UsageError(`--label must be at most ${MAX_LABEL_LENGTH} characters`)
  const { key, plaintext } = await createPersonalApiKey(database.db, {
    userId: user.id,
    label,
    scopes,
    scopedTeams,
    scopedOrganizations,
  })
  out.result(
    { id: key.id, personal_api_key: plaintext, mask_value: key.mask_value, scopes: key.scopes },
    `Created key ${key.id} for ${user.email} with scopes ${scopes.join(',')}\nPersonal API key: ${plaintext}   (shown once; store it now)`,
  )
}

export const keysList: Command = async (argv, database, out) => {
  const { values } = parse(argv, ['email'])
  const user = await requireUser(database, checkEmail(required(values.email, '--email')))
  const keys = await listPersonalApiKeys(database.db, user.id)
  const human = keys.length
    ? keys
        .map(
          (k) =>
            `${k.id}  ${k.mask_value}  ${k.label}  scopes=${k.scopes.join(',')}  last_used=${k.last_used_at ?? 'never'}`,
        )
        .join('\n')
    : `${user.email} has no keys`
  out.result({ keys }, human)
}

export const keysRevoke: Command = async (argv, database, out) => {
  const { positionals } = parse(argv, [], 1)
  const id = required(positionals[0], 'the key id')
  if (!(await revokePersonalApiKey(database.db, id))) throw new UsageError(`no key with id ${id}`)
  out.result({ id, revoked: true }, `Revoked key ${id}`)
}
