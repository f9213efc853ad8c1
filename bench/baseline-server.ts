/**
 * The baseline: a bare Fastify server answering the same routes with the same JSON from memory
 * (no auth, no database), so ratios show what groupd's own work costs.
 * Usage: tsx bench/baseline-server.ts <fixtures.json> <port>
 */
import fs from 'node:fs'
import Fastify from 'fastify'

const [fixturesFile, port] = process.argv.slice(2)
const f = JSON.parse(fs.readFileSync(fixturesFile as string, 'utf8')) as Record<string, unknown>
const app = Fastify()
app.get('/group_types', async () => f.groupTypes)
app.patch('/group_types', async (request) => {
  if (!Array.isArray(request.body)) throw new Error('expected an array')
  return f.groupTypes
})
app.get('/metrics', async () => f.metricsPage)
app.get('/metric', async () => f.metric)
app.get('/groups', async () => f.groups)
app.get('/group', async () => f.group)
app.post('/metric', async (_request, reply) => reply.code(201).send(f.metric))
app.delete('/metric', async (_request, reply) => reply.code(204).send())
app.post('/capture', async () => ({ status: 1 }))
await app.listen({ host: '127.0.0.1', port: Number(port) })
process.stdout.write('ready\n')
