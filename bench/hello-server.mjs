/**
 * The cold-start baseline: a bare Fastify hello world, started with plain node like groupd's
 * compiled bin. Usage: node bench/hello-server.mjs <port>
 */
import Fastify from 'fastify'

const app = Fastify()
app.get('/', async () => ({ hello: 'world' }))
await app.listen({ host: '127.0.0.1', port: Number(process.argv[2]) })
