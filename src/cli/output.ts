/** CLI conventions: --json prints one JSON object on one line to stdout; humans get plain text. */

/** Bad arguments: exit code 2 with a one-line reason. */
export class UsageError extends Error {}

export interface Output {
  json: boolean
  /** One result per command: the JSON object, or the human lines. */
  result(value: Record<string, unknown> | unknown[], human: string): void
  /** Progress and notes, always on stderr. */
  info(message: string): void
}

export function createOutput(json: boolean): Output {
  return {
    json,
    result(value, human) {
      process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${human}\n`)
    },
    info(message) {
      process.stderr.write(`${message}\n`)
    },
  }
}
