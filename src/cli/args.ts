/** Argument helpers that turn bad input into UsageError (exit 2). */
import { parseArgs } from 'node:util'
import { UsageError } from './output.ts'

export interface Parsed {
  values: Record<string, string | undefined>
  positionals: string[]
}

/** Parses `--flag value` options (all strings) plus --json; unknown flags are usage errors. */
export function parse(argv: string[], flags: string[], allowPositionals = false): Parsed {
  const options: Record<string, { type: 'string' | 'boolean' }> = { json: { type: 'boolean' } }
  for (const flag of flags) options[flag] = { type: 'string' }
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals, strict: true })
    return { values: values as Record<string, string | undefined>, positionals }
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
