/**
 * Request-body validation with Django REST Framework's semantics, driven by the same TypeBox
 * (JSON Schema) definitions that type the handlers and produce the OpenAPI document.
 *
 * PostHog clients see DRF's messages and codes, so AJV's wording will not do: fields are checked
 * in declaration order and the first error wins (attr = field name, nested keys joined by `__`),
 * strings are trimmed, integers accept "7" and 7.0, choices quote the input, unknown keys are
 * dropped, and a PATCH (DRF's partial update) neither requires fields nor applies defaults.
 */
import { isPlainObject, loneSurrogate } from '../db/text.ts'
import { validationError } from './errors.ts'

interface JsonSchema {
  type?: string
  anyOf?: JsonSchema[]
  enum?: unknown[]
  const?: unknown
  properties?: Record<string, JsonSchema>
  required?: string[]
  items?: JsonSchema
  default?: unknown
  minLength?: number
  maxLength?: number
  minimum?: number
  maximum?: number
  maxItems?: number
}

/** Python's type(x).__name__, as DRF puts it into messages. */
function pyType(value: unknown): string {
  if (value === null) return 'NoneType'
  if (Array.isArray(value)) return 'list'
  if (typeof value === 'string') return 'str'
  if (typeof value === 'boolean') return 'bool'
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float'
  return 'dict'
}

/** Python's str(x) for scalars, used in "is not a valid choice" messages. */
function pyStr(value: unknown): string {
  if (typeof value === 'boolean') return value ? 'True' : 'False'
  if (typeof value === 'string') return value
  try {
    return JSON.stringify(value)
  } catch {
    // Nested too deeply for JSON.stringify (a stack overflow): name the type instead.
    return pyType(value)
  }
}

function splitNullable(schema: JsonSchema): { nullable: boolean; base: JsonSchema } {
  if (!schema.anyOf) return { nullable: false, base: schema }
  const rest = schema.anyOf.filter((s) => s.type !== 'null')
  const nullable = rest.length < schema.anyOf.length
  if (rest.length === 1) return { nullable, base: rest[0] as JsonSchema }
  return { nullable, base: { anyOf: rest } }
}

function choicesOf(schema: JsonSchema): string[] | undefined {
  if (schema.enum) return schema.enum.map(String)
  if (!schema.anyOf?.every((s) => s.const !== undefined)) return undefined
  return schema.anyOf.map((s) => String(s.const))
}

const chars = (s: string) => [...s].length

class Validator {
  constructor(private readonly partial: boolean) {}

  object(schema: JsonSchema, data: Record<string, unknown>, prefix: string): Record<string, unknown> {
    const out: Record<string, unknown> = {}
    for (const [key, prop] of Object.entries(schema.properties ?? {})) {
      const attr = prefix + key
      const value = Object.hasOwn(data, key) ? data[key] : undefined
      if (value === undefined) {
        if (this.partial) continue
        if (prop.default !== undefined) out[key] = structuredClone(prop.default)
        else if (schema.required?.includes(key))
          throw validationError('required', 'This field is required.', attr)
        continue
      }
      out[key] = this.value(prop, value, attr)
    }
    return out
  }

  value(schema: JsonSchema, value: unknown, attr: string): unknown {
    const { nullable, base } = splitNullable(schema)
    if (value === null) {
      if (nullable) return null
      throw validationError('null', 'This field may not be null.', attr)
    }
    const choices = choicesOf(base)
    if (choices) {
      const text = isPlainObject(value) || Array.isArray(value) ? undefined : pyStr(value)
      if (text !== undefined && choices.includes(text)) return text
      throw validationError('invalid_choice', `"${pyStr(value)}" is not a valid choice.`, attr)
    }
    switch (base.type) {
      case 'string':
        return this.string(base, value, attr)
      case 'integer':
        return this.integer(base, value, attr)
      case 'boolean':
        return this.boolean(value, attr)
      case 'object':
        if (!isPlainObject(value)) {
          throw validationError(
            'not_a_dict',
            `Expected a dictionary of items but got type "${pyType(value)}".`,
            attr,
          )
        }
        return base.properties ? this.object(base, value, `${attr}__`) : value
      case 'array':
        return this.array(base, value, attr)
      default:
        return value
    }
  }

  private string(schema: JsonSchema, value: unknown, attr: string): string {
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw validationError('invalid_input', 'Not a valid string.', attr)
    }
    const text = String(value).trim()
    if (text === '' && (schema.minLength ?? 0) > 0)
      throw validationError('blank', 'This field may not be blank.', attr)
    if (schema.maxLength !== undefined && chars(text) > schema.maxLength) {
      throw validationError(
        'max_length',
        `Ensure this field has no more than ${schema.maxLength} characters.`,
        attr,
      )
    }
    // DRF's ProhibitNullCharactersValidator and ProhibitSurrogateCharactersValidator, in its order.
    if (text.includes('\u0000'))
      throw validationError('null_characters_not_allowed', 'Null characters are not allowed.', attr)
    const surrogate = loneSurrogate(text)
    if (surrogate !== undefined) {
      const codePoint = surrogate.toString(16).toUpperCase()
      throw validationError(
        'surrogate_characters_not_allowed',
        `Surrogate characters are not allowed: U+${codePoint}.`,
        attr,
      )
    }
    return text
  }

  private integer(schema: JsonSchema, value: unknown, attr: string): number {
    const invalid = () => validationError('invalid_input', 'A valid integer is required.', attr)
    let n: number
    if (typeof value === 'number') {
      if (!Number.isInteger(value)) throw invalid()
      n = value
    } else if (typeof value === 'string') {
      if (value.length > 1000) throw validationError('max_string_length', 'String value too large.', attr)
      const text = value.replace(/\.0*\s*$/, '')
      if (!/^\s*[+-]?\d+\s*$/.test(text)) throw invalid()
      n = Number(text)
    } else {
      throw invalid()
    }
    if (schema.minimum !== undefined && n < schema.minimum) {
      throw validationError(
        'min_value',
        `Ensure this value is greater than or equal to ${schema.minimum}.`,
        attr,
      )
    }
    if (schema.maximum !== undefined && n > schema.maximum) {
      throw validationError(
        'max_value',
        `Ensure this value is less than or equal to ${schema.maximum}.`,
        attr,
      )
    }
    return n
  }

  private boolean(value: unknown, attr: string): boolean {
    if (value === true || value === 'true' || value === 'True' || value === 1 || value === '1') return true
    if (value === false || value === 'false' || value === 'False' || value === 0 || value === '0')
      return false
    throw validationError('invalid_input', 'Must be a valid boolean.', attr)
  }

  private array(schema: JsonSchema, value: unknown, attr: string): unknown[] {
    if (!Array.isArray(value)) {
      throw validationError('not_a_list', `Expected a list of items but got type "${pyType(value)}".`, attr)
    }
    if (schema.maxItems !== undefined && value.length > schema.maxItems) {
      throw validationError(
        'max_length',
        `Ensure this field has no more than ${schema.maxItems} elements.`,
        attr,
      )
    }
    const items = schema.items
    return items ? value.map((item, i) => this.value(items, item, `${attr}__${i}`)) : value
  }
}

/**
 * Validates a whole request body. An object schema is a serializer; an array-of-objects schema is
 * a list of rows whose errors name the bare field (as PostHog's update_metadata reports them).
 */
export function validateBody(schema: unknown, body: unknown, partial: boolean): unknown {
  const root = schema as JsonSchema
  const validator = new Validator(partial)
  if (root.type === 'array') {
    if (!Array.isArray(body)) {
      throw validationError('not_a_list', `Expected a list of items but got type "${pyType(body)}".`)
    }
    if (root.maxItems !== undefined && body.length > root.maxItems) {
      throw validationError('max_length', `Ensure this field has no more than ${root.maxItems} elements.`)
    }
    const rowSchema = root.items as JsonSchema
    return body.map((row) => validateRow(validator, rowSchema, row))
  }
  return validateRow(validator, root, body)
}

function validateRow(validator: Validator, schema: JsonSchema, data: unknown): Record<string, unknown> {
  if (!isPlainObject(data)) {
    throw validationError('invalid_input', `Invalid data. Expected a dictionary, but got ${pyType(data)}.`)
  }
  return validator.object(schema, data, '')
}

/** How deeply a JSON value nests objects/arrays, counted without recursion; stops past `limit`. */
export function nestingDepth(value: unknown, limit: number): number {
  let max = 0
  const stack: [unknown, number][] = [[value, 1]]
  while (stack.length) {
    const [node, depth] = stack.pop() as [unknown, number]
    if (typeof node !== 'object' || node === null) continue
    max = Math.max(max, depth)
    if (max > limit) return max
    for (const child of Object.values(node)) stack.push([child, depth + 1])
  }
  return max
}
