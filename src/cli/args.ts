/** Argument helpers that turn bad input into UsageError (exit 2). */
import { parseArgs } from 'node:util'
import { UsageError } from './output.ts'

export interface Parsed {
  values: Record<string, string | undefined>
  /** Flags that may repeat (`--name a --name b`), in the order given. */
  repeated: Record<string, string[]>
  positionals: string[]
}

/**
 * Parses `--flag value` options (all strings) plus --json; unknown flags are usage errors.
 * A flag written `name...` may repeat; one written `name?` is a boolean switch ('true' when given).
 */
export function parse(argv: string[], flags: string[], allowPositionals = false): Parsed {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {
    json: { type: 'boolean' },
  }
  for (const flag of flags) {
    const multiple = flag.endsWith('...')
    if (flag.endsWith('?')) options[flag.slice(0, -1)] = { type: 'boolean' }
    else options[multiple ? flag.slice(0, -3) : flag] = { type: 'string', multiple }
  }
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals, strict: true })
    const single: Record<string, string | undefined> = {}
    const repeated: Record<string, string[]> = {}
    for (const [name, value] of Object.entries(values)) {
      if (Array.isArray(value)) repeated[name] = value.map(String)
      else if (typeof value === 'string') single[name] = value
      else if (value === true && name !== 'json') single[name] = 'true'
    }
    return { values: single, repeated, positionals }
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0])
  }
}

export function required(value: unknown, flag: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`${flag} is required`)
  return value.trim()
}

export function positiveInt(value: string, flag: string): number {
  if (!/^\d{1,15}$/.test(value) || Number(value) < 1)
    throw new UsageError(`${flag} must be a positive integer, got "${value}"`)
  return Number(value)
}

export function list(value: unknown): string[] {
  if (typeof value !== 'string') return []
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}
