/**
 * Auth matrix (issue 6, point 1): every private route × every credential kind, plus every capture
 * route × every token kind. The expected outcome of each cell is derived from the grant (the key's
 * scopes, its project/organization restrictions and its owner's membership), independently of the
 * server's code. Forbidden cells must be exactly the documented 401/403 (never 2xx or 5xx) and must
 * leave every row of every table unchanged (a checksum is taken around them); granted cells must
 * succeed, and granted writes (run afterwards) must visibly change that checksum, which shows the
 * forbidden requests would have been caught had they gone through.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import type { Database } from '../src/db/database.ts'
import type { Project } from '../src/db/schema.ts'
import { register } from '../src/group-types/service.ts'
import { deactivateUser } from '../src/sessions/accounts.ts'
import { createSession, deleteSession } from '../src/sessions/store.ts'
import { listPersonalApiKeys, revokePersonalApiKey } from '../src/tenancy/keys.ts'
import { createOrganization } from '../src/tenancy/organizations.ts'
import { createProject } from '../src/tenancy/projects.ts'
import { addMembership, createUser, setUserActive } from '../src/tenancy/users.ts'
import {
  createTenant,
  ENGINE,
  envelope,
  mintKey,
  notFoundBody,
  permissionDeniedBody,
  type Response,
  request,
  startServer,
  type Tenant,
  type TestServer,
  unique,
} from './helpers/harness.ts'

// ---------------------------------------------------------------------------------------------
// The two tables: private routes and credential kinds.
// ---------------------------------------------------------------------------------------------

type ScopeObject = 'project' | 'group' | 'usage_metric' | 'query'
type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

/** What a path template's parameters are filled with. */
interface Target {
  project_id: number | string
  group_type_index: number
  id: string
}

interface Fixture {
  server: TestServer
  victim: Tenant
  /** A second project in the victim's organization (what the scoped key is restricted to). */
  second: Project
  /** Another organization, its owner and their project. */
  other: Tenant
  /** Seeded on the victim's project: metric on index 0, group types company (0) and team (1). */
  metricId: string
  keys: Record<string, string | null>
}

interface RouteSpec {
  method: Method
  /** Path template with :project_id, :group_type_index and :id. */
  template: string
  query?: string
  /** Scope objects any one of which grants the route; null: any authenticated key (405 routes). */
  scope: readonly ScopeObject[] | null
  /** Overrides the method's read/write mapping (a POST that only reads). */
  action?: 'read' | 'write'
  /** Status of a granted, valid request. */
  ok: number
  /** A valid body; a new one per call (unique names), so that a write always changes some row. */
  body?: (f: Fixture) => unknown
  /** Parameters of the resource the request addresses (an existing one), overriding the defaults. */
  params?: Partial<Target>
  /** Granted writes only: makes a fresh resource for the request to consume. */
  prepare?: (f: Fixture) => Promise<Partial<Target>>
  /** Browser sessions only: every personal API key is refused with 403. */
  sessionOnly?: boolean
  /** Addresses the caller's own resource: a user of another organization gets 404. */
  own?: boolean
  /** Checks a granted response's body (not for HEAD). */
  verify?: (body: any, f: Fixture, kind: KindSpec) => void
}

const P = '/api/projects/:project_id'
const GT = `${P}/groups_types`
const METRICS = `${GT}/:group_type_index/metrics`
const METRIC_SCOPES = ['usage_metric', 'group'] as const

const metricBody = () => ({
  name: unique('metric'),
  format: 'currency',
  interval: 30,
  display: 'sparkline',
  filters: { events: [{ id: '$pageview', type: 'events' }] },
  math: 'count',
})

async function createMetricOverHttp(f: Fixture): Promise<string> {
  const path = `/api/projects/${f.victim.project.id}/groups_types/0/metrics/`
  const res = await request(f.server.url, 'POST', path, { key: f.victim.key, body: metricBody() })
  assert.equal(res.status, 201, res.text)
  return res.body.id
}

const ROUTES: RouteSpec[] = [
  {
    method: 'GET',
    template: '/api/projects/',
    scope: ['project'],
    ok: 200,
    verify: (body, f, kind) => {
      const ids: number[] = body.results.map((p: { id: number }) => p.id)
      // A key restricted elsewhere, or another organization's user, must not see the victim's project.
      if (kind.access === 'member') assert.ok(ids.includes(f.victim.project.id), JSON.stringify(body))
      else assert.ok(!ids.includes(f.victim.project.id), JSON.stringify(body))
      if (kind.access === 'scopedProject') assert.deepEqual(ids, [f.second.id])
    },
  },
  {
    method: 'GET',
    template: `${P}/`,
    scope: ['project'],
    ok: 200,
    verify: (body, f) => assert.equal(body.id, f.victim.project.id),
  },
  {
    method: 'GET',
    template: `${GT}/`,
    scope: ['group'],
    ok: 200,
    verify: (body) =>
      assert.deepEqual(
        body.slice(0, 2).map((g: { group_type: string }) => g.group_type),
        ['company', 'team'],
      ),
  },
  {
    method: 'DELETE',
    template: `${GT}/:group_type_index/`,
    scope: ['group'],
    ok: 204,
    params: { group_type_index: 1 },
    prepare: async (f) => {
      const registered = await register(
        f.server.database.db,
        f.victim.project.id,
        unique('scratch'),
        new Date().toISOString(),
      )
      assert.notEqual(registered.group_type_index, null, 'no free group type index')
      return { group_type_index: registered.group_type_index as number }
    },
  },
  {
    method: 'PATCH',
    template: `${GT}/update_metadata/`,
    scope: ['group'],
    ok: 200,
    body: () => [
      { group_type_index: 0, name_singular: unique('Company'), name_plural: unique('Companies') },
      { group_type_index: 1, default_columns: [unique('col')] },
    ],
  },
  {
    method: 'PUT',
    template: `${GT}/set_default_columns/`,
    scope: ['group'],
    ok: 200,
    body: () => ({ group_type_index: 0, default_columns: ['$group_0', unique('col')] }),
    verify: (body) => assert.equal(body.group_type_index, 0),
  },
  {
    method: 'GET',
    template: `${METRICS}/`,
    scope: METRIC_SCOPES,
    ok: 200,
    verify: (body, f) =>
      assert.ok(
        body.results.some((m: { id: string }) => m.id === f.metricId),
        JSON.stringify(body),
      ),
  },
  { method: 'POST', template: `${METRICS}/`, scope: METRIC_SCOPES, ok: 201, body: metricBody },
  {
    method: 'GET',
    template: `${METRICS}/:id/`,
    scope: METRIC_SCOPES,
    ok: 200,
    verify: (body, f) => assert.equal(body.id, f.metricId),
  },
  { method: 'PUT', template: `${METRICS}/:id/`, scope: METRIC_SCOPES, ok: 200, body: metricBody },
  {
    method: 'PATCH',
    template: `${METRICS}/:id/`,
    scope: METRIC_SCOPES,
    ok: 200,
    body: () => ({ name: unique('renamed'), interval: 90 }),
  },
  {
    method: 'DELETE',
    template: `${METRICS}/:id/`,
    scope: METRIC_SCOPES,
    ok: 204,
    prepare: async (f) => ({ id: await createMetricOverHttp(f) }),
  },
  {
    method: 'GET',
    template: `${P}/groups/`,
    query: '?group_type_index=0',
    scope: ['group'],
    ok: 200,
    verify: (body) =>
      assert.deepEqual(
        body.results.map((g: { group_key: string }) => g.group_key),
        ['acme'],
      ),
  },
  {
    method: 'GET',
    template: `${P}/groups/find/`,
    query: '?group_type_index=0&group_key=acme',
    scope: ['group'],
    ok: 200,
    verify: (body) => assert.equal(body.group_properties.name, 'Acme'),
  },
  {
    method: 'GET',
    template: `${P}/groups/property_values/`,
    query: '?group_type_index=0&key=name',
    scope: ['group'],
    ok: 200,
    verify: (body) => assert.deepEqual(body.results, [{ name: 'Acme', count: 1 }]),
  },
  {
    method: 'GET',
    template: `${P}/groups/property_definitions/`,
    scope: ['group'],
    ok: 200,
    verify: (body) =>
      assert.ok(
        body['0']?.some((d: { name: string }) => d.name === 'name'),
        JSON.stringify(body),
      ),
  },
  {
    method: 'POST',
    template: `${P}/groups/bulk/`,
    scope: ['group'],
    ok: 200,
    body: () => ({ operations: [{ group_type_index: 0, group_key: unique('bulk'), $set: { n: 1 } }] }),
    verify: (body) => assert.deepEqual(body.results, [{ status: 'created' }]),
  },
  {
    method: 'GET',
    template: `${P}/ingestion_warnings/`,
    scope: ['project'],
    ok: 200,
    verify: (body) => assert.ok(body.results.length > 0, JSON.stringify(body)),
  },
  {
    method: 'POST',
    template: `${P}/groups/`,
    scope: ['group'],
    ok: 201,
    body: () => ({ group_type_index: 0, group_key: unique('group'), group_properties: {} }),
  },
  {
    method: 'POST',
    template: `${P}/groups/update_property/`,
    query: '?group_type_index=0&group_key=acme',
    scope: ['group'],
    ok: 200,
    body: () => ({ key: unique('prop'), value: 1 }),
  },
  {
    method: 'POST',
    template: `${P}/groups/delete_property/`,
    query: '?group_type_index=0&group_key=acme',
    scope: ['group'],
    ok: 200,
    body: () => ({ $unset: 'plan' }),
  },
  {
    method: 'GET',
    template: `${P}/events/`,
    scope: ['query', 'group'],
    ok: 200,
    verify: (body) => assert.ok(body.results.length > 0, JSON.stringify(body)),
  },
  {
    method: 'GET',
    template: '/api/users/@me/',
    scope: null,
    ok: 200,
    verify: (body, f, kind) => {
      if (kind.access === 'notMember') assert.notEqual(body.email, f.victim.user.email)
      else assert.match(body.email, /@example\.com$/)
    },
  },
  {
    method: 'GET',
    template: '/api/personal_api_keys/',
    scope: null,
    sessionOnly: true,
    ok: 200,
    verify: (body, f, kind) => {
      const victims = body.some((k: { user_id: number }) => k.user_id === f.victim.user.id)
      assert.equal(victims, kind.access === 'member', JSON.stringify(body))
    },
  },
  {
    method: 'POST',
    template: '/api/personal_api_keys/',
    scope: null,
    sessionOnly: true,
    ok: 201,
    body: () => ({ label: 'matrix', scopes: ['group:read'] }),
  },
  {
    method: 'DELETE',
    template: '/api/personal_api_keys/:id/',
    scope: null,
    sessionOnly: true,
    own: true,
    ok: 204,
    prepare: async (f) => {
      await mintKey(f.server.database, f.victim.user.id, ['group:read'])
      return { id: (await listPersonalApiKeys(f.server.database.db, f.victim.user.id)).at(-1)?.id as string }
    },
  },
  {
    method: 'PATCH',
    template: `${P}/`,
    scope: ['project'],
    ok: 200,
    body: () => ({
      test_account_filters: [{ key: unique('$host'), operator: 'is_not', value: 'localhost' }],
    }),
    verify: (body, f) => assert.equal(body.id, f.victim.project.id),
  },
  ...[`${P}/query/`, '/api/environments/:project_id/query/'].map(
    (template): RouteSpec => ({
      method: 'POST',
      template,
      scope: ['query', 'group'],
      action: 'read',
      ok: 200,
      body: () => ({ query: { kind: 'UsageMetricsQuery', group_type_index: 0, group_key: 'acme' } }),
      verify: (body, f) =>
        assert.ok(
          body.results.some((m: { id: string }) => m.id === f.metricId),
          JSON.stringify(body),
        ),
    }),
  ),
  ...[`${P}/query/`, '/api/environments/:project_id/query/'].map(
    (template): RouteSpec => ({
      method: 'POST',
      template,
      scope: ['query', 'group'],
      action: 'read',
      ok: 200,
      body: () => ({ query: { kind: 'GroupsQuery', group_type_index: 0, search: 'acm', select: ['key'] } }),
      verify: (body) => assert.deepEqual(body.results, [['acme']]),
    }),
  ),
  // Known paths with an unsupported method: authenticated and authorized for the project, then 405.
  { method: 'POST', template: '/api/projects/', scope: null, ok: 405, body: () => ({ name: 'x' }) },
  { method: 'DELETE', template: `${P}/`, scope: null, ok: 405 },
  { method: 'POST', template: `${GT}/`, scope: null, ok: 405, body: () => ({ group_type: 'x' }) },
  { method: 'GET', template: `${GT}/:group_type_index/`, scope: null, ok: 405 },
  { method: 'DELETE', template: `${METRICS}/`, scope: null, ok: 405 },
  { method: 'POST', template: `${METRICS}/:id/`, scope: null, ok: 405, body: metricBody },
  { method: 'DELETE', template: `${P}/groups/`, scope: null, ok: 405 },
  { method: 'PUT', template: `${P}/ingestion_warnings/`, scope: null, ok: 405, body: () => ({}) },
]

// HEAD is served for every GET route and must be guarded exactly like it.
for (const route of [...ROUTES]) {
  if (route.method === 'GET' && (route.scope !== null || route.ok === 200))
    ROUTES.push({ ...route, method: 'HEAD', verify: undefined })
}

/** How a credential resolves, as the grant sees it. */
interface KindSpec {
  name: string
  /** The credential, or nothing. */
  key: (f: Fixture) => string | null
  /**
   * Where it is sent (default the Authorization header); a body key only fits a JSON-object body;
   * a session id goes in the `sessionid` cookie, with the CSRF cookie (and header unless `csrf` is false).
   */
  via?: 'header' | 'query' | 'body' | 'cookie'
  csrf?: boolean
  /**
   * none: no credential; invalid: not an active personal key (or a dead session); else a valid key
   * with these scopes, or a live session (which has no scopes).
   */
  auth: 'none' | 'invalid' | 'valid'
  scopes?: readonly string[]
  /** The key's reach over the victim's project. */
  access?: 'member' | 'scopedProject' | 'scopedOrganization' | 'notMember'
}

const READ_SCOPES = ['group:read', 'usage_metric:read', 'project:read']
const WRITE_SCOPES = ['group:write', 'usage_metric:write', 'project:write']

const KINDS: KindSpec[] = [
  { name: 'no key', key: () => null, auth: 'none' },
  { name: 'malformed key', key: () => 'not a key at all', auth: 'invalid' },
  { name: 'unknown phx_ key', key: () => `phx_${'0'.repeat(43)}`, auth: 'invalid' },
  { name: 'inactive user', key: (f) => f.keys.inactive ?? null, auth: 'invalid' },
  { name: 'revoked key', key: (f) => f.keys.revoked ?? null, auth: 'invalid' },
  { name: 'capture token as Bearer', key: (f) => f.victim.project.api_token, auth: 'invalid' },
  {
    name: 'read-only key',
    key: (f) => f.keys.read ?? null,
    auth: 'valid',
    scopes: READ_SCOPES,
    access: 'member',
  },
  {
    name: 'write key',
    key: (f) => f.keys.write ?? null,
    auth: 'valid',
    scopes: WRITE_SCOPES,
    access: 'member',
  },
  { name: '* key', key: (f) => f.victim.key, auth: 'valid', scopes: ['*'], access: 'member' },
  {
    name: 'usage_metric:write only',
    key: (f) => f.keys.metricsOnly ?? null,
    auth: 'valid',
    scopes: ['usage_metric:write'],
    access: 'member',
  },
  {
    name: 'group:read only',
    key: (f) => f.keys.groupRead ?? null,
    auth: 'valid',
    scopes: ['group:read'],
    access: 'member',
  },
  {
    name: 'member-level user, * key',
    key: (f) => f.keys.member ?? null,
    auth: 'valid',
    scopes: ['*'],
    access: 'member',
  },
  {
    name: '* key scoped to another project',
    key: (f) => f.keys.scopedProject ?? null,
    auth: 'valid',
    scopes: ['*'],
    access: 'scopedProject',
  },
  {
    name: '* key scoped to another organization',
    key: (f) => f.keys.scopedOrganization ?? null,
    auth: 'valid',
    scopes: ['*'],
    access: 'scopedOrganization',
  },
  {
    name: "another organization's user, * key",
    key: (f) => f.other.key,
    auth: 'valid',
    scopes: ['*'],
    access: 'notMember',
  },
  // The other places a personal key is read from.
  {
    name: '* key in ?personal_api_key=',
    key: (f) => f.victim.key,
    via: 'query',
    auth: 'valid',
    scopes: ['*'],
    access: 'member',
  },
  {
    name: 'revoked key in ?personal_api_key=',
    key: (f) => f.keys.revoked ?? null,
    via: 'query',
    auth: 'invalid',
  },
  {
    name: 'capture token in ?personal_api_key=',
    key: (f) => f.victim.project.api_token,
    via: 'query',
    auth: 'invalid',
  },
  {
    name: 'write key in body personal_api_key',
    key: (f) => f.keys.write ?? null,
    via: 'body',
    auth: 'valid',
    scopes: WRITE_SCOPES,
    access: 'member',
  },
  {
    name: 'inactive user key in body personal_api_key',
    key: (f) => f.keys.inactive ?? null,
    via: 'body',
    auth: 'invalid',
  },
  {
    name: "another organization's user, * key in body personal_api_key",
    key: (f) => f.other.key,
    via: 'body',
    auth: 'valid',
    scopes: ['*'],
    access: 'notMember',
  },
  // Browser sessions: no scope checks, CSRF on writes, and a key in the request overrides the cookie.
  { name: 'session', key: (f) => f.keys.session ?? null, via: 'cookie', auth: 'valid', access: 'member' },
  {
    name: 'session without CSRF header',
    key: (f) => f.keys.session ?? null,
    via: 'cookie',
    csrf: false,
    auth: 'valid',
    access: 'member',
  },
  {
    name: "another organization's user, session",
    key: (f) => f.keys.otherSession ?? null,
    via: 'cookie',
    auth: 'valid',
    access: 'notMember',
  },
  { name: 'ended session', key: (f) => f.keys.endedSession ?? null, via: 'cookie', auth: 'invalid' },
  {
    name: 'inactive user session',
    key: (f) => f.keys.inactiveSession ?? null,
    via: 'cookie',
    auth: 'invalid',
  },
]

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** A body key is only sent with a JSON-object body; elsewhere the request carries no credential. */
const carriesKey = (route: RouteSpec, kind: KindSpec, f: Fixture) =>
  kind.via !== 'body' || isObject(route.body?.(f))

const SOURCES = {
  header: 'Authorization header',
  query: 'query string',
  body: 'body',
  cookie: 'cookie',
} as const

/**
 * Someone else's resource addressed through a project the key may use (another organization's
 * own project, the project a key is restricted to) or under the wrong group type index: 404, and
 * never the resource.
 */
interface CrossCell {
  name: string
  route: RouteSpec
  kind: KindSpec
  target: (f: Fixture) => Partial<Target>
}

const kindNamed = (name: string) => KINDS.find((k) => k.name === name) as KindSpec
const CROSS_WAYS: { name: string; kind: KindSpec; target: (f: Fixture) => Partial<Target> }[] = [
  {
    name: "through another organization's own project",
    kind: kindNamed("another organization's user, * key"),
    target: (f) => ({ project_id: f.other.project.id }),
  },
  {
    name: 'through the project the key is scoped to',
    kind: kindNamed('* key scoped to another project'),
    target: (f) => ({ project_id: f.second.id }),
  },
]
const CROSS_CELLS: CrossCell[] = ROUTES.filter(
  (r) =>
    r.scope !== null &&
    !r.sessionOnly &&
    (r.template.includes(':id') || r.template.endsWith('/groups/find/')),
).flatMap((route) => [
  ...CROSS_WAYS.map((way) => ({ name: way.name, route, kind: way.kind, target: way.target })),
  ...(route.template.includes(':id') && route.template.startsWith(P)
    ? [1, 4].map((index) => ({
        name: `under group type index ${index}`,
        route,
        kind: kindNamed('* key'),
        target: () => ({ group_type_index: index }),
      }))
    : []),
])

/**
 * Project ids that name no project, for a * key: 404 `Project not found.` on every project route,
 * never a 5xx (ids beyond PostgreSQL's integer range included).
 */
const UNKNOWN_PROJECT_IDS = ['99999999', '2147483648', '999999999999999', '9999999999999999', 'abc', '-1']
const UNKNOWN_PROJECT_CELLS = ROUTES.filter((r) => r.template.includes(':project_id')).flatMap((route) =>
  UNKNOWN_PROJECT_IDS.map((id) => ({ route, id })),
)

// ---------------------------------------------------------------------------------------------
// The oracle: what a cell must answer, from the grant alone.
// ---------------------------------------------------------------------------------------------

type Expected =
  | { granted: true; status: number }
  | { granted: false; status: 401 | 403 | 404; body: ReturnType<typeof envelope> }

/** PostHog's scope rule: `*`, or the object's write scope, or (to read) its read scope. */
function allows(scopes: readonly string[], object: ScopeObject, action: 'read' | 'write'): boolean {
  return (
    scopes.includes('*') ||
    scopes.includes(`${object}:write`) ||
    (action === 'read' && scopes.includes(`${object}:read`))
  )
}

function expectedFor(route: RouteSpec, kind: KindSpec, f: Fixture): Expected {
  if (kind.auth === 'none' || !carriesKey(route, kind, f)) {
    return {
      granted: false,
      status: 401,
      body: envelope(
        'authentication_error',
        'not_authenticated',
        'Authentication credentials were not provided.',
      ),
    }
  }
  const session = kind.via === 'cookie'
  if (kind.auth === 'invalid' && session) {
    return {
      granted: false,
      status: 401,
      body: envelope(
        'authentication_error',
        'not_authenticated',
        'Authentication credentials were not provided.',
      ),
    }
  }
  if (kind.auth === 'invalid') {
    return {
      granted: false,
      status: 401,
      body: envelope(
        'authentication_error',
        'authentication_failed',
        `Personal API key found in request ${SOURCES[kind.via ?? 'header']} is invalid.`,
      ),
    }
  }
  // CSRF follows the HTTP method (a POST query/ reads data but is still a cookie-carrying POST).
  const unsafe = route.method !== 'GET' && route.method !== 'HEAD'
  if (session && unsafe && kind.csrf === false) {
    return { granted: false, status: 403, body: permissionDeniedBody('CSRF Failed: CSRF token missing.') }
  }
  if (!session && route.sessionOnly) {
    return {
      granted: false,
      status: 403,
      body: permissionDeniedBody('This action does not support Personal API Key access.'),
    }
  }
  const hasProject = route.template.includes(':project_id')
  const projectId = f.victim.project.id
  if (hasProject && kind.access === 'scopedProject') {
    return {
      granted: false,
      status: 403,
      body: permissionDeniedBody(`API key does not have access to the requested project: ID ${projectId}.`),
    }
  }
  if (hasProject && kind.access === 'scopedOrganization') {
    return {
      granted: false,
      status: 403,
      body: permissionDeniedBody(
        `API key does not have access to the requested organization: ID ${f.victim.org.id}.`,
      ),
    }
  }
  const action = route.action ?? (route.method === 'GET' || route.method === 'HEAD' ? 'read' : 'write')
  const scopes = kind.scopes ?? []
  if (!session && route.scope && !route.scope.some((object) => allows(scopes, object, action))) {
    const names = route.scope.map((object) => `'${object}:${action}'`).join(' or ')
    return {
      granted: false,
      status: 403,
      body: permissionDeniedBody(`API key missing required scope ${names}`),
    }
  }
  if (hasProject && kind.access === 'notMember') {
    return {
      granted: false,
      status: 403,
      body: permissionDeniedBody("You don't have access to the project."),
    }
  }
  if (route.own && kind.access === 'notMember') return { granted: false, status: 404, body: notFoundBody() }
  return { granted: true, status: route.ok }
}

/** A granted request that changes data: it runs after the checksum comparison. */
const mutates = (route: RouteSpec, expected: Expected) =>
  expected.granted &&
  expected.status >= 200 &&
  expected.status < 300 &&
  route.method !== 'GET' &&
  route.method !== 'HEAD' &&
  route.action !== 'read'

function fill(route: RouteSpec, target: Target): string {
  return (
    route.template
      .replace(':project_id', String(target.project_id))
      .replace(':group_type_index', String(target.group_type_index))
      .replace(':id', target.id) + (route.query ?? '')
  )
}

function defaultTarget(route: RouteSpec, f: Fixture): Target {
  return { project_id: f.victim.project.id, group_type_index: 0, id: f.metricId, ...route.params }
}

async function send(
  f: Fixture,
  route: RouteSpec,
  kind: KindSpec,
  target: Target,
): Promise<{ path: string; res: Response }> {
  const key = kind.key(f)
  let path = fill(route, target)
  let body = route.body?.(f)
  const via = kind.via ?? 'header'
  if (key && via === 'query')
    path += `${path.includes('?') ? '&' : '?'}personal_api_key=${encodeURIComponent(key)}`
  if (key && via === 'body' && isObject(body)) body = { ...body, personal_api_key: key }
  const headers: Record<string, string> = {}
  if (key && via === 'cookie') {
    headers.cookie = `sessionid=${key}; csrftoken=${f.keys.csrf}`
    if (kind.csrf !== false) headers['x-csrftoken'] = f.keys.csrf as string
  }
  const res = await request(f.server.url, route.method, path, {
    key: via === 'header' ? key : null,
    body,
    headers,
  })
  return { path, res }
}

function assertCell(
  route: RouteSpec,
  kind: KindSpec,
  expected: Expected,
  path: string,
  res: Response,
  f: Fixture,
) {
  const where = `${route.method} ${path} with ${kind.name}: ${res.status} ${res.text}`
  assert.ok(res.status < 500, `server error: ${where}`)
  if (!expected.granted) {
    assert.ok(res.status === 401 || res.status === 403 || res.status === 404, `not refused: ${where}`)
    assert.equal(res.status, expected.status, where)
    if (route.method !== 'HEAD') assert.deepEqual(res.body, expected.body, where)
    if (expected.status === 401) assert.equal(res.headers.get('www-authenticate'), 'Bearer', where)
    return
  }
  assert.equal(res.status, expected.status, where)
  if (route.method !== 'HEAD' && expected.status < 300) route.verify?.(res.body, f, kind)
}

// ---------------------------------------------------------------------------------------------
// Capture: every capture route × transport × token kind.
// ---------------------------------------------------------------------------------------------

const CAPTURE_PATHS = ['/i/v0/e/', '/e/', '/capture/', '/batch/', '/track/']

interface CaptureTransport {
  name: string
  send: (url: string, token: string | null) => Promise<Response>
}

const event = (extra: Record<string, unknown> = {}) => ({
  event: 'matrix event',
  distinct_id: unique('user'),
  properties: { $groups: { company: 'acme' } },
  ...extra,
})

async function raw(url: string, init: RequestInit): Promise<Response> {
  const res = await fetch(url, init)
  const text = await res.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {}
  return { status: res.status, headers: res.headers, body, text }
}

const postJson = (url: string, payload: unknown) =>
  raw(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) })

const CAPTURE_TRANSPORTS: CaptureTransport[] = [
  { name: 'event, token', send: (url, t) => postJson(url, event(t === null ? {} : { token: t })) },
  { name: 'event, api_key', send: (url, t) => postJson(url, event(t === null ? {} : { api_key: t })) },
  {
    name: 'event, properties.token',
    send: (url, t) =>
      postJson(url, event(t === null ? {} : { properties: { token: t, $groups: { company: 'acme' } } })),
  },
  {
    name: 'batch, api_key',
    send: (url, t) => postJson(url, { ...(t === null ? {} : { api_key: t }), batch: [event(), event()] }),
  },
  {
    name: 'query ?token=',
    send: (url, t) => postJson(t === null ? url : `${url}?token=${encodeURIComponent(t)}`, event()),
  },
  {
    name: 'GET ?data=',
    send: (url, t) => {
      const data = Buffer.from(JSON.stringify(event(t === null ? {} : { token: t }))).toString('base64')
      return raw(`${url}?data=${encodeURIComponent(data)}`, { method: 'GET' })
    },
  },
]

interface TokenKind {
  name: string
  token: (f: Fixture) => string | null
  /** Granted: the victim's own capture token. */
  granted: boolean
  code?: 'missing_api_key' | 'invalid_api_key'
}

const TOKEN_KINDS: TokenKind[] = [
  { name: 'no token', token: () => null, granted: false, code: 'missing_api_key' },
  {
    name: 'unknown phc_ token',
    token: () => `phc_${'0'.repeat(43)}`,
    granted: false,
    code: 'invalid_api_key',
  },
  { name: 'malformed token', token: () => 'not-a-token', granted: false, code: 'invalid_api_key' },
  {
    name: 'personal key (phx_, *) as capture token',
    token: (f) => f.victim.key,
    granted: false,
    code: 'invalid_api_key',
  },
  {
    name: 'revoked personal key as capture token',
    token: (f) => f.keys.revoked ?? null,
    granted: false,
    code: 'invalid_api_key',
  },
  { name: "the project's capture token", token: (f) => f.victim.project.api_token, granted: true },
]

const CAPTURE_DETAILS = {
  missing_api_key: 'API key not provided. You can find your project API key in PostHog project settings.',
  invalid_api_key: 'Project API key invalid. You can find your project API key in PostHog project settings.',
}

// ---------------------------------------------------------------------------------------------
// Checksum of every row of every table (rate limits and keys' last_used_at aside).
// ---------------------------------------------------------------------------------------------

const UNCHECKED_TABLES = new Set(['rate_limits'])

async function tableNames(database: Database): Promise<string[]> {
  const rows =
    ENGINE === 'sqlite'
      ? await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(database.db)
      : await sql<{
          name: string
        }>`select table_name as name from information_schema.tables where table_schema = current_schema()`.execute(
          database.db,
        )
  return rows.rows
    .map((r) => r.name)
    .filter((name) => !UNCHECKED_TABLES.has(name))
    .sort()
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value && typeof value === 'object' && !(value instanceof Date) && !Buffer.isBuffer(value)) {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`
  }
  if (typeof value === 'bigint') return value.toString()
  if (Buffer.isBuffer(value)) return JSON.stringify(value.toString('hex'))
  return JSON.stringify(value) ?? 'undefined'
}

/** Per table: row count and sha256 of its rows in canonical JSON, sorted. */
async function checksum(database: Database): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const table of await tableNames(database)) {
    const { rows } = await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(
      database.db,
    )
    const lines = rows
      .map((row) => {
        const copy = { ...row }
        if (table === 'personal_api_keys') delete copy.last_used_at
        return canonical(copy)
      })
      .sort()
    out[table] = `${rows.length}:${createHash('sha256').update(lines.join('\n')).digest('hex')}`
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// The suite.
// ---------------------------------------------------------------------------------------------

describe('auth matrix: every private route × every credential kind, and capture × token kinds', () => {
  const f = {} as Fixture
  let before0: Record<string, string>
  const started = Date.now()

  const privateCells = ROUTES.flatMap((route) => KINDS.map((kind) => ({ route, kind })))
  const captureCells = CAPTURE_PATHS.flatMap((path) =>
    CAPTURE_TRANSPORTS.flatMap((transport) => TOKEN_KINDS.map((token) => ({ path, transport, token }))),
  )
  // Which phase a private cell runs in depends only on the tables, so it is known before seeding.
  const phaseProbe = { victim: { project: { id: 0 }, org: { id: '' } } } as unknown as Fixture
  const readOnlyCells = privateCells.filter(
    ({ route, kind }) => !mutates(route, expectedFor(route, kind, phaseProbe)),
  )
  const writeCells = privateCells.filter(({ route, kind }) =>
    mutates(route, expectedFor(route, kind, phaseProbe)),
  )
  const total = privateCells.length + CROSS_CELLS.length + UNKNOWN_PROJECT_CELLS.length + captureCells.length

  before(async () => {
    console.log(
      `auth matrix: ${total} cells (${ROUTES.length} private routes × ${KINDS.length} credential kinds = ${privateCells.length}, ` +
        `${CROSS_CELLS.length} cross-tenant/IDOR cells, ${UNKNOWN_PROJECT_CELLS.length} unknown-project cells, ` +
        `${CAPTURE_PATHS.length} capture routes × ${CAPTURE_TRANSPORTS.length} transports × ${TOKEN_KINDS.length} token kinds = ${captureCells.length}; ` +
        `${writeCells.length + captureCells.filter((c) => c.token.granted).length} granted writes)`,
    )
    f.server = await startServer()
    const { database } = f.server
    const db = database.db
    f.victim = await createTenant(database)
    f.other = await createTenant(database)
    f.second = await createProject(db, f.victim.org.id, unique('second'))
    const uid = f.victim.user.id
    f.keys = {
      read: await mintKey(database, uid, READ_SCOPES),
      write: await mintKey(database, uid, WRITE_SCOPES),
      metricsOnly: await mintKey(database, uid, ['usage_metric:write']),
      groupRead: await mintKey(database, uid, ['group:read']),
      scopedProject: await mintKey(database, uid, ['*'], { teams: [f.second.id] }),
      scopedOrganization: await mintKey(database, uid, ['*'], { organizations: [f.other.org.id] }),
    }
    const member = await createUser(db, `${unique('member')}@example.com`)
    await addMembership(db, f.victim.org.id, member.id, 'member')
    f.keys.member = await mintKey(database, member.id, ['*'])
    // A user of the victim's organization, owner level, whose account is then deactivated.
    const inactive = await createUser(db, `${unique('inactive')}@example.com`)
    await addMembership(db, f.victim.org.id, inactive.id, 'owner')
    f.keys.inactive = await mintKey(database, inactive.id, ['*'])
    await setUserActive(db, inactive.id, false)
    // A * key of the victim owner, revoked (deleted).
    f.keys.revoked = await mintKey(database, uid, ['*'])
    const revokedId = (await listPersonalApiKeys(db, uid)).at(-1)?.id
    assert.ok(revokedId && (await revokePersonalApiKey(db, revokedId)))
    // Sessions: the victim owner's, another organization's owner's, one ended, one of a user deactivated.
    f.keys.csrf = 'matrix-csrf-token'
    f.keys.session = await createSession(db, uid)
    f.keys.otherSession = await createSession(db, f.other.user.id)
    f.keys.endedSession = await createSession(db, uid)
    await deleteSession(db, f.keys.endedSession)
    const inactiveWithSession = await createUser(db, `${unique('inactive')}@example.com`)
    await addMembership(db, f.victim.org.id, inactiveWithSession.id, 'owner')
    f.keys.inactiveSession = await createSession(db, inactiveWithSession.id)
    await deactivateUser(database, inactiveWithSession.id)
    // An organization with a project and no members: nobody's keys reach it.
    const orphan = await createOrganization(db, unique('orphan'))
    await createProject(db, orphan.id, unique('orphan-project'))

    // Victim data: group types, a metric, a group, an ingestion warning; and some in the other org.
    const now = new Date().toISOString()
    for (const [name, index] of [
      ['company', 0],
      ['team', 1],
    ] as const) {
      const registered = await register(db, f.victim.project.id, name, now)
      assert.equal(registered.group_type_index, index)
    }
    await register(db, f.other.project.id, 'company', now)
    f.metricId = await createMetricOverHttp(f)
    const identify = await postJson(`${f.server.url}/e/`, {
      api_key: f.victim.project.api_token,
      event: '$groupidentify',
      distinct_id: 'seed',
      properties: { $group_type: 'company', $group_key: 'acme', $group_set: { name: 'Acme', plan: 'pro' } },
    })
    assert.deepEqual([identify.status, identify.body], [200, { status: 1 }])
    const warned = await postJson(`${f.server.url}/batch/`, {
      api_key: f.victim.project.api_token,
      batch: [{ event: 'ok', distinct_id: 'seed' }, { distinct_id: 'seed' }],
    })
    assert.deepEqual([warned.status, warned.body], [200, { status: 1 }])

    // Every key used below must actually exist (a typo would silently test "no key").
    for (const kind of KINDS) if (kind.auth === 'valid') assert.ok(kind.key(f), kind.name)
    before0 = await checksum(database)
    assert.ok(Object.keys(before0).length >= 10, JSON.stringify(before0))
  })

  after(async () => {
    await f.server?.close()
    console.log(`auth matrix: done in ${((Date.now() - started) / 1000).toFixed(1)} s on ${ENGINE}`)
  })

  describe('phase 1: refused cells and granted reads (no row may change)', () => {
    for (const { route, kind } of readOnlyCells) {
      it(`${route.method} ${route.template}${route.query ?? ''} · ${kind.name}`, async () => {
        const expected = expectedFor(route, kind, f)
        const { path, res } = await send(f, route, kind, defaultTarget(route, f))
        assertCell(route, kind, expected, path, res, f)
      })
    }
    for (const cell of CROSS_CELLS) {
      it(`${cell.route.method} ${cell.route.template}${cell.route.query ?? ''} · ${cell.kind.name} ${cell.name}`, async () => {
        const target = { ...defaultTarget(cell.route, f), ...cell.target(f) }
        const { path, res } = await send(f, cell.route, cell.kind, target)
        const expected: Expected = { granted: false, status: 404, body: notFoundBody() }
        assertCell(cell.route, cell.kind, expected, path, res, f)
      })
    }
    for (const { route, id } of UNKNOWN_PROJECT_CELLS) {
      it(`${route.method} ${route.template}${route.query ?? ''} · * key, project id ${id}`, async () => {
        const kind = kindNamed('* key')
        const { path, res } = await send(f, route, kind, { ...defaultTarget(route, f), project_id: id })
        const expected: Expected = { granted: false, status: 404, body: notFoundBody('Project not found.') }
        assertCell(route, kind, expected, path, res, f)
      })
    }
    for (const { path, transport, token } of captureCells.filter((c) => !c.token.granted)) {
      it(`capture ${path} ${transport.name} · ${token.name}`, async () => {
        const t = token.token(f)
        assert.ok(token.name === 'no token' || t, token.name)
        const res = await transport.send(f.server.url + path, t)
        const where = `${path} ${transport.name} with ${token.name}: ${res.status} ${res.text}`
        assert.equal(res.status, 401, where)
        const code = token.code as keyof typeof CAPTURE_DETAILS
        assert.deepEqual(res.body, envelope('authentication_error', code, CAPTURE_DETAILS[code]), where)
      })
    }
    it('no row of any table changed', async () => {
      assert.deepEqual(await checksum(f.server.database), before0)
    })
  })

  it('set_default_columns: an index outside 0..4 names no group type (404, not a PostgreSQL overflow)', async () => {
    const path = `/api/projects/${f.victim.project.id}/groups_types/set_default_columns/`
    for (const index of [-1, 5, 2 ** 31, 2 ** 40]) {
      const body = { group_type_index: index, default_columns: ['x'] }
      const res = await request(f.server.url, 'PUT', path, { key: f.victim.key, body })
      assert.deepEqual([res.status, res.body], [404, notFoundBody('Group type not found')], `index ${index}`)
    }
  })

  describe('phase 2: granted writes succeed (and change rows)', () => {
    for (const { route, kind } of writeCells) {
      it(`${route.method} ${route.template} · ${kind.name}`, async () => {
        const expected = expectedFor(route, kind, f)
        const target = { ...defaultTarget(route, f), ...(await route.prepare?.(f)) }
        const sumBefore = await checksum(f.server.database)
        const { path, res } = await send(f, route, kind, target)
        assertCell(route, kind, expected, path, res, f)
        assert.notDeepEqual(await checksum(f.server.database), sumBefore, 'a granted write changed nothing')
      })
    }
    for (const { path, transport, token } of captureCells.filter((c) => c.token.granted)) {
      it(`capture ${path} ${transport.name} · ${token.name}`, async () => {
        const sumBefore = await checksum(f.server.database)
        const res = await transport.send(f.server.url + path, token.token(f))
        assert.deepEqual(
          [res.status, res.body],
          [200, { status: 1 }],
          `${path} ${transport.name}: ${res.text}`,
        )
        const sumAfter = await checksum(f.server.database)
        assert.notEqual(sumAfter.events, sumBefore.events, 'no event stored')
      })
    }
  })
})
