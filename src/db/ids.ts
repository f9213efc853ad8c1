import { randomFillSync } from 'node:crypto'

let lastMs = -1
let sequence = 0

/** Random bytes drawn from the CSPRNG 4 KiB at a time: one call per 256 ids, not one per id. */
const pool = Buffer.alloc(4096)
let poolOffset = pool.length

function random16(): Buffer {
  if (poolOffset + 16 > pool.length) {
    randomFillSync(pool)
    poolOffset = 0
  }
  const bytes = Buffer.from(pool.subarray(poolOffset, poolOffset + 16))
  poolOffset += 16
  return bytes
}

/**
 * RFC 9562 UUIDv7: 48-bit millisecond timestamp, a 12-bit sequence (§6.2 method 1), then random
 * bits. Ids made by one process sort in creation order, even within one millisecond.
 */
export function uuidv7(now: number = Date.now()): string {
  const bytes = random16()
  if (now > lastMs) {
    lastMs = now
    sequence = (bytes[6] as number) & 0x07 // a random start that leaves room to count up
  } else if (++sequence > 0xfff) {
    lastMs++ // the sequence ran out: borrow the next millisecond
    sequence = 0
  }
  bytes.writeUIntBE(lastMs, 0, 6)
  bytes[6] = 0x70 | (sequence >> 8)
  bytes[7] = sequence & 0xff
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export function isUuid(value: string): boolean {
  return UUID.test(value)
}

/**
 * A uuid in any form Python's uuid.UUID(hex) takes (Django's UUIDField in a URL): hyphens
 * anywhere, `{…}`, `urn:` and `uuid:` prefixes, any case; canonical (lowercase, hyphenated) or
 * undefined.
 */
export function parseUuid(value: string): string | undefined {
  const hex = value
    .replaceAll('urn:', '')
    .replaceAll('uuid:', '')
    .replace(/^[{}]+|[{}]+$/g, '')
    .replaceAll('-', '')
  if (!/^[0-9a-f]{32}$/i.test(hex)) return undefined
  const h = hex.toLowerCase()
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}
