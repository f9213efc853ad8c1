/** Argument helpers that turn bad input into UsageError (exit 2). */
import { parseArgs } from 'node:util'
import { MAX_PROJECT_ID } from '../tenancy/projects.ts'
import { UsageError } from './output.ts'

export interface Parsed {
  values: Record<string, string | undefined>
  /** Flags that may repeat (`--name a --name b`), in the order given. */
  repeated: Record<string, string[]>
  positionals: string[]
}

/**
 * Parses `--flag value` options (all strings) plus --json; unknown flags, a flag given twice and
 * more positional arguments than `positionals` are usage errors. A flag written `name...` may
 * repeat; one written `name?` is a boolean switch ('true' when given).
 */
export function parse(argv: string[], flags: string[], positionals = 0): Parsed {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {
    json: { type: 'boolean' },
  }
  for (const flag of flags) {
    const multiple = flag.endsWith('...')
    if (flag.endsWith('?')) options[flag.slice(0, -1)] = { type: 'boolean' }
    else options[multiple ? flag.slice(0, -3) : flag] = { type: 'string', multiple }
  }
  let parsed: ReturnType<typeof parseArgs<{ options: typeof options; tokens: true; allowPositionals: true }>>
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true, tokens: true })
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0])
  }
  const { values, tokens } = parsed
  const extra = parsed.positionals[positionals]
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`)
  const seen = new Set<string>()
  for (const token of tokens) {
    if (token.kind !== 'option' || token.name === 'json' || options[token.name]?.multiple) continue
    if (seen.has(token.name)) throw new UsageError(`--${token.name} is given more than once`)
    seen.add(token.name)
  }
  const single: Record<string, string | undefined> = {}
  const repeated: Record<string, string[]> = {}
  for (const [name, value] of Object.entries(values)) {
    if (Array.isArray(value)) repeated[name] = value.map(String)
    else if (typeof value === 'string') single[name] = value
    else if (value === true && name !== 'json') single[name] = 'true'
  }
  return { values: single, repeated, positionals: parsed.positionals }
}

export function required(value: unknown, flag: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`${flag} is required`)
  return value.trim()
}

function positiveInt(value: string, flag: string): number {
  if (!/^\d{1,15}$/.test(value) || Number(value) < 1)
    throw new UsageError(`${flag} must be a positive integer, got "${value}"`)
  return Number(value)
}

/** A project id as a flag gives it: a positive integer a project can have. */
export function projectId(value: string, flag: string): number {
  const id = positiveInt(value, flag)
  if (id > MAX_PROJECT_ID) throw new UsageError(`project ${id} not found`)
  return id
}

/** A comma-separated flag value; given but naming nothing is a usage error. */
export function nonEmptyList(value: string, flag: string): string[] {
  const items = list(value)
  if (items.length === 0) throw new UsageError(`${flag} must list at least one value`)
  return items
}

function list(value: unknown): string[] {
  if (typeof value !== 'string') return []
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}
