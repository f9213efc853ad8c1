/** The groupd command: `groupd <command> [subcommand] [--flags] [--json]`. */
import { ConfigError, loadConfig } from '../config.ts'
import { Database } from '../db/database.ts'
import { migrate } from '../db/migrate.ts'
import { type OpenedEventsStore, openEventsStore } from '../events/open.ts'
import { parse } from './args.ts'
import * as groupTypes from './group-types-commands.ts'
import * as metrics from './metrics-commands.ts'
import { createOutput, UsageError } from './output.ts'
import * as tenancy from './tenancy-commands.ts'

const COMMANDS: Record<string, tenancy.Command> = {
  bootstrap: tenancy.bootstrap,
  'orgs create': tenancy.orgsCreate,
  'users create': tenancy.usersCreate,
  'users deactivate': tenancy.usersDeactivate,
  'users set-password': tenancy.usersSetPassword,
  'projects create': tenancy.projectsCreate,
  'keys create': tenancy.keysCreate,
  'keys list': tenancy.keysList,
  'keys revoke': tenancy.keysRevoke,
  'group-types add': groupTypes.groupTypesAdd,
  'group-types list': groupTypes.groupTypesList,
  'metrics values': metrics.metricsValues,
}

const USAGE = `usage: groupd <command> [--json]

  serve                                   start the HTTP server (HOST, PORT, DATABASE_URL, GROUPD_DATA_DIR)
  migrate                                 apply pending database (and ClickHouse) migrations
  bootstrap                               first-run setup; mints a new key for admin@localhost
                                          (and a sign-in password, the first time)
  orgs create --name <name>
  users create --email <email> --org <org id> [--level member|admin|owner] [--password-stdin]
  users set-password --email <email>      reads the password (8+ characters) from stdin
  users deactivate --email <email>        also ends their sessions
  projects create --org <org id> --name <name>
  keys create --email <email> --scopes group:read,group:write [--projects 1,2] [--orgs <org id>] [--label <text>]
  keys list --email <email>
  keys revoke <key id>
  group-types add --project <id> --name <group type> [--name …]
  group-types list --project <id>
  metrics values --project <id> --group-type-index <n> --group-key <key>

Every command applies pending migrations first. --json prints its result as JSON on stdout.`

async function run(given: string[]): Promise<number> {
  const json = given.includes('--json')
  const out = createOutput(json)
  // --json may stand anywhere, also before the command.
  const words = given.filter((a) => a !== '--json')
  const argv = [...words, ...(json ? ['--json'] : [])]
  const [first, second] = words
  if (!first || first === 'help' || argv.includes('--help') || argv.includes('-h')) {
    // Asked-for help is the result; help for a missing command is an error message.
    ;(first ? process.stdout : process.stderr).write(`${USAGE}\n`)
    return first ? 0 : 2
  }
  try {
    const config = loadConfig()
    // These two take no arguments; the other commands check theirs.
    if (first === 'serve' || first === 'migrate') parse(argv.slice(1), [])
    if (first === 'serve') {
      // Loaded on demand: the server's modules would slow every other command's start.
      const { serve } = await import('../main.ts')
      await serve(config)
      return -1
    }
    const twoWords = `${first} ${second ?? ''}`
    const command = COMMANDS[twoWords] ?? (first === 'migrate' ? undefined : COMMANDS[first])
    if (!command && first !== 'migrate')
      throw new UsageError(
        `unknown command "${[first, second].filter((w) => w && !w.startsWith('-')).join(' ')}"; see groupd --help`,
      )
    const database = Database.open(config.database)
    let opened: Promise<OpenedEventsStore> | undefined
    const events = async () => {
      opened ??= openEventsStore(config.clickhouse, database, (line) => out.info(line))
      const { store, applied } = await opened
      if (applied.length && command) out.info(`applied ClickHouse migrations: ${applied.join(', ')}`)
      return store
    }
    try {
      const applied = await migrate(database)
      if (applied.length && command) out.info(`applied migrations: ${applied.join(', ')}`)
      if (!command) {
        await events()
        const clickhouse = (await opened)?.applied ?? []
        const all = [...applied, ...clickhouse.map((name) => `clickhouse:${name}`)]
        out.result(
          {
            applied,
            engine: database.engine,
            ...(config.clickhouse ? { clickhouse_applied: clickhouse } : {}),
          },
          all.length ? `Applied ${all.join(', ')}` : 'Database is up to date',
        )
      } else {
        await command(argv.slice(COMMANDS[twoWords] ? 2 : 1), database, out, events)
      }
    } finally {
      if (opened) await (await opened.catch(() => undefined))?.store.close()
      await database.close()
    }
    return 0
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError) {
      process.stderr.write(`groupd: ${error.message}\n`)
      return 2
    }
    process.stderr.write(`groupd: ${(error as Error).message}\n`)
    return 1
  }
}

const code = await run(process.argv.slice(2))
if (code >= 0) process.exitCode = code
