/**
 * Decoder for lz-string's `compressToBase64` format (posthog-js `?compression=lz64`), with a bound
 * on the output. lz-string's own decoder has none, and a crafted stream can expand quadratically:
 * a few kilobytes would become gigabytes.
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/='

export class OutputTooLarge extends Error {}

/** The decompressed text, or undefined when the input is not a valid stream. */
export function decompressLz64(input: string, maxChars: number): string | undefined {
  if (input.length === 0) return ''
  const values = new Int8Array(input.length)
  for (let i = 0; i < input.length; i++) {
    const v = ALPHABET.indexOf(input[i] as string)
    if (v < 0) return undefined
    values[i] = v
  }
  let index = 1
  let value = values[0] as number
  let position = 32
  const readBits = (count: number): number => {
    let bits = 0
    for (let power = 1, end = 1 << count; power !== end; power <<= 1) {
      const bit = value & position
      position >>= 1
      if (position === 0) {
        position = 32
        value = values[index++] ?? 0
      }
      if (bit) bits |= power
    }
    return bits
  }

  const dictionary: string[] = ['', '', '']
  let enlargeIn = 4
  let numBits = 3
  let first: string
  switch (readBits(2)) {
    case 0:
      first = String.fromCharCode(readBits(8))
      break
    case 1:
      first = String.fromCharCode(readBits(16))
      break
    default:
      return ''
  }
  dictionary.push(first)
  let previous = first
  const out: string[] = [first]
  let length = first.length
  for (;;) {
    if (index > input.length) return undefined
    let code = readBits(numBits)
    if (code === 0 || code === 1) {
      dictionary.push(String.fromCharCode(readBits(code === 0 ? 8 : 16)))
      code = dictionary.length - 1
      enlargeIn--
    } else if (code === 2) {
      return out.join('')
    }
    if (enlargeIn === 0) {
      enlargeIn = 2 ** numBits
      numBits++
    }
    let entry: string
    if (code < dictionary.length && code > 2) entry = dictionary[code] as string
    else if (code === dictionary.length) entry = previous + previous.charAt(0)
    else return undefined
    length += entry.length
    if (length > maxChars) throw new OutputTooLarge()
    out.push(entry)
    dictionary.push(previous + entry.charAt(0))
    enlargeIn--
    previous = entry
    if (enlargeIn === 0) {
      enlargeIn = 2 ** numBits
      numBits++
    }
  }
}
