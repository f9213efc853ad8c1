/**
 * The web app (web/, built by `npm run build` into dist/web): hashed assets under /assets/ with
 * year-long immutable caching, and index.html (never cached) for the app's client-side routes.
 * Only the app's own prefixes are claimed, so /api, capture paths, /_health and /_ready are never
 * shadowed.
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance } from 'fastify'

/** Where the build lands, from src/web-app (tsx) and dist/web-app (compiled) alike. */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../dist/web/', import.meta.url))

/** Client-side routes (see web/src/app.tsx). */
const APP_PATHS = ['/', '/login', '/project', '/project/*']

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>groupd</title>
<p>The web app is not built. Run <code>npm run build</code> (or <code>npm ci</code>), then reload.</p>`

export async function webAppRoutes(app: FastifyInstance, { root }: { root: string }): Promise<void> {
  const index = path.join(root, 'index.html')
  const built = fs.existsSync(index)
  if (built) {
    await app.register(fastifyStatic, {
      root: path.join(root, 'assets'),
      prefix: '/assets/',
      immutable: true,
      maxAge: '365d',
      index: false,
      wildcard: true,
    })
  }
  // Read once: the file only changes with a new build, which means a restart.
  const html = built ? fs.readFileSync(index, 'utf8') : NOT_BUILT
  for (const url of APP_PATHS) {
    app.get(url, { schema: { hide: true } }, (_request, reply) =>
      reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(html),
    )
  }
}
