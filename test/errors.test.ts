/**
 * PostHog's error envelope for every failure that is not a validation error (issue 2, point 6),
 * trailing-slash routing, and the public operational routes (point 8), over real HTTP.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import {
  createTenant,
  ENGINE,
  envelope,
  mintKey,
  notFoundBody,
  request,
  startServer,
  type Tenant,
  type TestServer,
} from './helpers/harness.ts'

const MiB = 1024 * 1024
const invalidRequest = (code: string, detail: string) => envelope('invalid_request', code, detail)

/** A raw HTTP exchange, for bodies fetch cannot send (chunked, without Content-Length). */
function rawRequest(
  url: string,
  options: http.RequestOptions,
  chunks: Buffer[],
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, options, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        text += chunk
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }))
    })
    // The server may answer (and stop reading) before the whole body is sent.
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error)
    })
    for (const chunk of chunks) req.write(chunk)
    req.end()
  })
}

describe('error envelope', () => {
  let server: TestServer
  let tenant: Tenant
  let projectPath: string

  before(async () => {
    server = await startServer()
    tenant = await createTenant(server.database)
    projectPath = `/api/projects/${tenant.project.id}/`
  })
  after(() => server.close())

  it('malformed JSON is 400 parse_error', async () => {
    const res = await request(server.url, 'POST', projectPath, {
      key: tenant.key,
      raw: '{"name": ',
      headers: { 'content-type': 'application/json' },
    })
    assert.equal(res.status, 400, res.text)
    assert.deepEqual(Object.keys(res.body), ['type', 'code', 'detail', 'attr'])
    assert.equal(res.body.type, 'invalid_request')
    assert.equal(res.body.code, 'parse_error')
    assert.equal(res.body.attr, null)
    assert.ok(res.body.detail.startsWith('JSON parse error - '), res.body.detail)
    assert.ok(res.body.detail.length > 'JSON parse error - '.length)
  })

  it('malformed JSON is a parse error even without a key (the body is parsed before authenticating)', async () => {
    const res = await request(server.url, 'POST', projectPath, {
      raw: 'not json',
      headers: { 'content-type': 'application/json; charset=utf-8' },
    })
    assert.equal(res.status, 400, res.text)
    assert.equal(res.body.code, 'parse_error')
  })

  it('an empty body is no data, as DRF reads it: {} with or without a content type; JSON null is not', async () => {
    const metrics = `/api/projects/${tenant.project.id}/groups_types/0/metrics/`
    const required = envelope('validation_error', 'required', 'This field is required.', 'name')
    const json = { 'content-type': 'application/json' }
    for (const options of [{}, { raw: '', headers: json }, { raw: ' \n', headers: json }]) {
      const res = await request(server.url, 'POST', metrics, { key: tenant.key, ...options })
      assert.deepEqual([res.status, res.body], [400, required], JSON.stringify(options))
    }
    const nullBody = await request(server.url, 'POST', metrics, { key: tenant.key, body: null })
    assert.deepEqual(
      [nullBody.status, nullBody.body],
      [
        400,
        envelope(
          'validation_error',
          'invalid_input',
          'Invalid data. Expected a dictionary, but got NoneType.',
        ),
      ],
    )
    const created = await request(server.url, 'POST', metrics, {
      key: tenant.key,
      body: { name: 'n', filters: {} },
    })
    assert.equal(created.status, 201, created.text)
    const patched = await request(server.url, 'PATCH', `${metrics}${created.body.id}/`, { key: tenant.key })
    assert.deepEqual([patched.status, patched.body], [200, created.body])
    const list = await request(
      server.url,
      'PATCH',
      `/api/projects/${tenant.project.id}/groups_types/update_metadata/`,
      {
        key: tenant.key,
      },
    )
    assert.deepEqual(
      [list.status, list.body],
      [400, envelope('validation_error', 'not_a_list', 'Expected a list of items but got type "dict".')],
    )
  })

  for (const path of ['/nope', '/api/nope/', '/api/projects/1/nope/', '/api/']) {
    it(`unknown route ${path} is 404 not_found, with or without a key`, async () => {
      for (const key of [null, tenant.key]) {
        const res = await request(server.url, 'GET', path, { key })
        assert.equal(res.status, 404, res.text)
        assert.deepEqual(res.body, notFoundBody())
        assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
      }
    })
  }

  for (const [method, path] of [
    ['DELETE', 'detail'],
    ['PUT', 'detail'],
    ['POST', 'detail'],
    ['POST', 'list'],
    ['DELETE', 'list'],
  ] as const) {
    it(`${method} on the project ${path} route is 405`, async () => {
      const path_ = path === 'list' ? '/api/projects/' : projectPath
      const res = await request(server.url, method, path_, { key: tenant.key })
      assert.equal(res.status, 405, res.text)
      assert.deepEqual(res.body, invalidRequest('method_not_allowed', `Method "${method}" not allowed.`))
      // DRF's Allow: the view's methods in Django's order, HEAD with GET, OPTIONS always.
      assert.equal(
        res.headers.get('allow'),
        path === 'list' ? 'GET, HEAD, OPTIONS' : 'GET, PATCH, HEAD, OPTIONS',
      )
    })
  }

  it('OPTIONS describes the view after authenticating, with the path read scope (PostHog 4.1)', async () => {
    const path = `/api/projects/${tenant.project.id}/groups_types/0/metrics/`
    const res = await request(server.url, 'OPTIONS', path, { key: tenant.key })
    assert.equal(res.status, 200, res.text)
    assert.equal(res.headers.get('allow'), 'GET, POST, HEAD, OPTIONS')
    assert.deepEqual(res.body, {
      name: 'Metrics List',
      description: '',
      renders: ['application/json'],
      parses: ['application/json', 'application/x-www-form-urlencoded'],
    })
    const reader = await mintKey(server.database, tenant.user.id, ['usage_metric:read'])
    assert.equal((await request(server.url, 'OPTIONS', path, { key: reader })).status, 200)
    const other = await mintKey(server.database, tenant.user.id, ['project:read'])
    const refused = await request(server.url, 'OPTIONS', path, { key: other })
    assert.deepEqual(
      [refused.status, refused.body],
      [
        403,
        envelope(
          'authentication_error',
          'permission_denied',
          "API key missing required scope 'usage_metric:read' or 'group:read'",
        ),
      ],
    )
    assert.equal((await request(server.url, 'OPTIONS', path)).status, 401)
  })

  it('a wrong method without a key is 401 (DRF authenticates before checking the method)', async () => {
    const res = await request(server.url, 'DELETE', projectPath)
    assert.equal(res.status, 401, res.text)
    assert.equal(res.headers.get('www-authenticate'), 'Bearer')
    assert.deepEqual(
      res.body,
      envelope('authentication_error', 'not_authenticated', 'Authentication credentials were not provided.'),
    )
  })

  it('an unsupported media type is 415', async () => {
    const res = await request(server.url, 'POST', projectPath, {
      key: tenant.key,
      raw: 'hello',
      headers: { 'content-type': 'text/plain' },
    })
    assert.equal(res.status, 415, res.text)
    assert.deepEqual(
      res.body,
      invalidRequest('unsupported_media_type', 'Unsupported media type "text/plain" in request.'),
    )
  })

  it('an unparseable content type is 415', async () => {
    const res = await request(server.url, 'POST', '/api/projects/', {
      key: tenant.key,
      raw: '{}',
      headers: { 'content-type': 'nonsense' },
    })
    assert.equal(res.status, 415, res.text)
    assert.deepEqual(
      res.body,
      invalidRequest('unsupported_media_type', 'Unsupported media type "nonsense" in request.'),
    )
  })

  it('form-encoded bodies are accepted (DRF parses them)', async () => {
    const res = await request(server.url, 'POST', projectPath, {
      key: null,
      raw: `personal_api_key=${tenant.key}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    // Authenticated from the form field, then refused for the method.
    assert.deepEqual(
      [res.status, res.body],
      [405, invalidRequest('method_not_allowed', 'Method "POST" not allowed.')],
    )
  })

  const tooLarge = invalidRequest(
    'request_too_large',
    'Request body is larger than the limit for this endpoint.',
  )

  it('a body over 1 MiB is 413 (Content-Length)', async () => {
    const raw = JSON.stringify({ name: 'x'.repeat(MiB) })
    assert.ok(Buffer.byteLength(raw) > MiB)
    const res = await request(server.url, 'POST', projectPath, {
      key: tenant.key,
      raw,
      headers: { 'content-type': 'application/json' },
    })
    assert.deepEqual([res.status, res.body], [413, tooLarge])
  })

  it('a body over the limit is read to its end before the 413, so the client still sending gets it', async () => {
    // Closing mid-upload (Fastify's way) reset about one such request in three: fetch failed.
    const capture = Buffer.alloc(21 * MiB, 'a')
    for (let attempt = 0; attempt < 5; attempt++) {
      const res = await fetch(`${server.url}/e/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: capture,
      })
      assert.deepEqual([res.status, await res.json()], [413, tooLarge], `attempt ${attempt}`)
      assert.notEqual(res.headers.get('connection'), 'close')
    }
    const res = await request(server.url, 'POST', '/api/projects/', {
      key: tenant.key,
      raw: Buffer.alloc(3 * MiB, 'a'),
      headers: { 'content-type': 'application/json' },
    })
    assert.deepEqual([res.status, res.body], [413, tooLarge])
  })

  it('a body over 1 MiB is 413 (chunked, no Content-Length)', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'a')
    const chunks = [Buffer.from('{"name":"'), ...Array.from({ length: 17 }, () => chunk), Buffer.from('"}')]
    const res = await rawRequest(
      server.url + projectPath,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${tenant.key}` },
      },
      chunks,
    )
    assert.deepEqual([res.status, res.body], [413, tooLarge])
  })

  it('a body of exactly 1 MiB is accepted', async () => {
    const prefix = '{"name":"'
    const suffix = '"}'
    const raw = prefix + 'x'.repeat(MiB - prefix.length - suffix.length) + suffix
    assert.equal(Buffer.byteLength(raw), MiB)
    const res = await request(server.url, 'POST', projectPath, {
      key: tenant.key,
      raw,
      headers: { 'content-type': 'application/json' },
    })
    assert.deepEqual(
      [res.status, res.body],
      [405, invalidRequest('method_not_allowed', 'Method "POST" not allowed.')],
    )
  })

  it('the trailing slash is optional', async () => {
    const withSlash = await request(server.url, 'GET', projectPath, { key: tenant.key })
    const without = await request(server.url, 'GET', `/api/projects/${tenant.project.id}`, {
      key: tenant.key,
    })
    assert.equal(withSlash.status, 200, withSlash.text)
    assert.equal(without.status, 200, without.text)
    assert.equal(withSlash.body.id, tenant.project.id)
    assert.deepEqual(without.body, withSlash.body)
    const list = await request(server.url, 'GET', '/api/projects', { key: tenant.key })
    assert.equal(list.status, 200, list.text)
    assert.deepEqual(list.body.results, [withSlash.body])
    const notAllowed = await request(server.url, 'DELETE', `/api/projects/${tenant.project.id}`, {
      key: tenant.key,
    })
    assert.equal(notAllowed.status, 405, notAllowed.text)
  })
})

describe('server errors', () => {
  let server: TestServer
  let tenant: Tenant

  before(async () => {
    server = await startServer()
    tenant = await createTenant(server.database)
    // Break the database under the running app: the key (and its user) still resolve, the
    // projects table does not.
    await sql`alter table projects rename to projects_gone`.execute(server.database.db)
  })
  after(() => server.close())

  const serverError = { type: 'server_error', code: 'error', detail: 'A server error occurred.', attr: null }

  for (const path of ['/api/projects/', (t: Tenant) => `/api/projects/${t.project.id}/`]) {
    const name = typeof path === 'string' ? path : '/api/projects/:id/'
    it(`an unexpected failure on ${name} is 500 without internals`, async () => {
      const res = await request(server.url, 'GET', typeof path === 'string' ? path : path(tenant), {
        key: tenant.key,
      })
      assert.equal(res.status, 500, res.text)
      assert.deepEqual(res.body, serverError)
      assert.equal(res.text, JSON.stringify(serverError))
      assert.equal(res.headers.get('retry-after'), null)
    })
  }

  it('the process keeps serving after a 500', async () => {
    const res = await request(server.url, 'GET', '/_health')
    assert.deepEqual([res.status, res.body], [200, { status: 'ok' }])
  })
})

describe('public operational routes', () => {
  let server: TestServer

  before(async () => {
    server = await startServer()
  })
  after(() => server.close())

  it('GET /_health is 200 JSON without a key', async () => {
    const res = await request(server.url, 'GET', '/_health')
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
    assert.deepEqual(res.body, { status: 'ok' })
  })

  it('GET /_ready is 200 JSON naming the engine, without a key', async () => {
    const res = await request(server.url, 'GET', '/_ready')
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
    assert.deepEqual(res.body, { status: 'ready', engine: ENGINE })
  })

  it('GET /api/schema/ is an OpenAPI 3.1 document, without a key', async () => {
    const res = await request(server.url, 'GET', '/api/schema/')
    assert.equal(res.status, 200, res.text)
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
    const doc = res.body
    assert.match(doc.openapi, /^3\.1\.\d+$/)
    assert.equal(typeof doc.info.title, 'string')
    assert.equal(typeof doc.info.version, 'string')

    const schemes = doc.components.securitySchemes as Record<string, { type: string; scheme?: string }>
    const bearer = Object.entries(schemes).filter(([, s]) => s.type === 'http' && s.scheme === 'bearer')
    assert.equal(bearer.length, 1, JSON.stringify(schemes))
    const schemeName = bearer[0]?.[0] as string

    assert.ok(doc.paths['/api/projects/'], Object.keys(doc.paths).join(', '))
    assert.ok(doc.paths['/api/projects/{project_id}/'])

    // Private operations: secured by the bearer scheme and declaring every error they can answer.
    for (const path of ['/api/projects/', '/api/projects/{project_id}/']) {
      const op = doc.paths[path].get
      const security = op.security ?? doc.security
      assert.deepEqual(security, [{ [schemeName]: [] }], path)
      for (const status of ['200', '401', '403', '404', '500', '503']) {
        assert.ok(op.responses[status], `${path} declares no ${status}`)
      }
      const error = op.responses['401'].content['application/json'].schema
      assert.deepEqual(Object.keys(error.properties).sort(), ['attr', 'code', 'detail', 'type'])
    }
    // Public ones opt out of security.
    for (const path of ['/_health', '/_ready', '/api/schema/']) {
      assert.deepEqual(doc.paths[path]?.get?.security, [], path)
    }
    // Every operation answers something, and every path parameter is declared.
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const [method, op] of Object.entries(item)) {
        assert.ok(Object.keys(op.responses ?? {}).length > 0, `${method} ${path} has no responses`)
        for (const [, name] of path.matchAll(/\{(\w+)\}/g)) {
          assert.ok(
            (op.parameters ?? []).some(
              (p: { in: string; name: string }) => p.in === 'path' && p.name === name,
            ),
            `${method} ${path} does not declare path parameter ${name}`,
          )
        }
      }
    }
    // The 405 routes the app adds for missing methods are not documented.
    assert.deepEqual(Object.keys(doc.paths['/api/projects/']), ['get'])
  })

  it('GET /api/docs/ is an HTML page, without a key', async () => {
    const res = await request(server.url, 'GET', '/api/docs/')
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/)
    assert.match(res.text, /<html/i)
    assert.match(res.text, /swagger-ui/i)
  })
})
