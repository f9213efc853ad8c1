/**
 * Bundles the server and CLI (src/cli/main.ts and everything it imports, dependencies included)
 * into dist/server/ with esbuild: `bin/groupd` runs it. One file per chunk instead of hundreds of
 * modules cut groupd's start (serve → /_ready) by more than half, most of it module resolution
 * and loading. Code splitting keeps `serve`'s HTTP stack out of the other commands' start.
 * Left as packages: better-sqlite3 (a native addon), pg-native (pg's optional native driver,
 * never installed), and the API docs' @fastify/swagger and @fastify/swagger-ui (loaded on the
 * first /api/docs/ request; swagger-ui serves files from its own package directory).
 * Type checking is `npm run typecheck`; this only transpiles.
 */
import { rmSync } from 'node:fs'
import { build } from 'esbuild'

// Chunk names carry content hashes: without this, every build would leave the previous ones behind.
rmSync('dist/server', { recursive: true, force: true })

await build({
  entryPoints: { groupd: 'src/cli/main.ts', 'read-worker': 'src/db/read-worker.ts' },
  outdir: 'dist/server',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  external: ['better-sqlite3', 'pg-native', '@fastify/swagger', '@fastify/swagger-ui'],
  // Bundled CommonJS packages call require() for Node's own modules; ESM has no require.
  banner: {
    js: "import { createRequire as __groupdRequire } from 'node:module'; const require = __groupdRequire(import.meta.url);",
  },
  logLevel: 'warning',
})
