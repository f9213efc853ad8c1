/**
 * ClickHouse's RowBinary input format, written straight into one growing buffer: what groupd
 * inserts. Beside JSONEachRow it saves ClickHouse half its parsing (no key lookups, no text
 * numbers) and groupd the row objects and JSON text it would build per row; and nothing is
 * escaped, since every string goes as its UTF-8 length and bytes. The layout is the same on 18.16
 * and current releases: little-endian numbers, LEB128 lengths, a null flag byte before a Nullable,
 * a UUID as its two 64-bit halves, each little-endian.
 */

const INITIAL_BYTES = 64 * 1024

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
/** Where each byte's two hex digits start in the text form, per 64-bit half. */
const UUID_HALVES = [
  [0, 2, 4, 6, 9, 11, 14, 16],
  [19, 21, 24, 26, 28, 30, 32, 34],
]

/** The value of a hex digit's character code (checked by UUID first). */
function hexDigit(code: number): number {
  return code <= 0x39 ? code - 0x30 : (code | 0x20) - 0x57
}

export class RowBinaryWriter {
  private buffer = Buffer.allocUnsafe(INITIAL_BYTES)
  private offset = 0

  /** Bytes written so far. */
  get length(): number {
    return this.offset
  }

  /** What was written, without copying: valid until the next write or clear. */
  view(): Buffer {
    return this.buffer.subarray(0, this.offset)
  }

  /** Starts over, keeping the memory. */
  clear(): this {
    this.offset = 0
    return this
  }

  /** Appends bytes written by another writer (a part shared by several rows). */
  raw(bytes: Uint8Array): this {
    this.reserve(bytes.length)
    this.buffer.set(bytes, this.offset)
    this.offset += bytes.length
    return this
  }

  uint8(value: number): this {
    this.reserve(1)
    this.buffer[this.offset++] = value
    return this
  }

  uint32(value: number): this {
    this.reserve(4)
    this.offset = this.buffer.writeUInt32LE(value, this.offset)
    return this
  }

  /** A safe integer as UInt64 (≥ 0) or Int64: two's complement, low word first. */
  int64(value: number): this {
    if (!Number.isSafeInteger(value)) throw new RangeError(`not a safe integer: ${value}`)
    this.reserve(8)
    const low = value % 2 ** 32
    const high = Math.floor(value / 2 ** 32)
    this.buffer.writeUInt32LE(low < 0 ? low + 2 ** 32 : low, this.offset)
    this.buffer.writeInt32LE(high, this.offset + 4)
    this.offset += 8
    return this
  }

  /** Float64; NaN stands for "no value" in groupd's property arrays. */
  float64(value: number): this {
    this.reserve(8)
    this.offset = this.buffer.writeDoubleLE(value, this.offset)
    return this
  }

  string(value: string): this {
    // At most 3 bytes per UTF-16 unit; the exact length is known only after writing.
    const max = value.length * 3
    this.reserve(10 + max)
    if (max < 128) {
      const start = this.offset++
      const written = this.buffer.write(value, this.offset, 'utf8')
      this.buffer[start] = written
      this.offset += written
      return this
    }
    const bytes = Buffer.byteLength(value, 'utf8')
    this.varint(bytes)
    this.offset += this.buffer.write(value, this.offset, 'utf8')
    return this
  }

  nullableString(value: string | null): this {
    if (value === null) return this.uint8(1)
    return this.uint8(0).string(value)
  }

  strings(values: readonly string[]): this {
    this.varint(values.length)
    for (const value of values) this.string(value)
    return this
  }

  nullableStrings(values: readonly (string | null)[]): this {
    this.varint(values.length)
    for (const value of values) this.nullableString(value)
    return this
  }

  float64s(values: readonly number[]): this {
    this.varint(values.length)
    for (const value of values) this.float64(value)
    return this
  }

  /** A UUID in its text form: its two 64-bit halves, each little-endian (bytes reversed). */
  uuid(value: string): this {
    if (!UUID.test(value)) throw new RangeError(`not a UUID: ${value}`)
    this.reserve(16)
    for (const half of UUID_HALVES) {
      for (let i = half.length - 1; i >= 0; i--) {
        const at = half[i] as number
        this.buffer[this.offset++] =
          (hexDigit(value.charCodeAt(at)) << 4) | hexDigit(value.charCodeAt(at + 1))
      }
    }
    return this
  }

  private varint(value: number): void {
    this.reserve(10)
    let rest = value
    while (rest >= 0x80) {
      this.buffer[this.offset++] = (rest % 0x80) | 0x80
      rest = Math.floor(rest / 0x80)
    }
    this.buffer[this.offset++] = rest
  }

  private reserve(bytes: number): void {
    if (this.offset + bytes <= this.buffer.length) return
    let size = this.buffer.length * 2
    while (size < this.offset + bytes) size *= 2
    const grown = Buffer.allocUnsafe(size)
    this.buffer.copy(grown, 0, 0, this.offset)
    this.buffer = grown
  }
}
