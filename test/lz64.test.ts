/** The bounded lz64 decoder agrees with lz-string (what posthog-js uses) and stops at its bound. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import LZString from 'lz-string'
import { decompressLz64, OutputTooLarge } from '../src/capture/lz64.ts'

/** A small deterministic PRNG so failures reproduce. */
function rng(seed: number) {
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
    return seed / 2 ** 31
  }
}

describe('lz64 decoder', () => {
  it('round-trips lz-string compressToBase64 output, including non-ASCII and repetitive text', () => {
    const random = rng(42)
    const samples = [
      'a',
      'hello world',
      JSON.stringify({ event: '$pageview', properties: { $groups: { company: 'ü€😀' } } }),
      'ab'.repeat(5000),
    ]
    for (let i = 0; i < 300; i++) {
      const wide = random() < 0.5
      samples.push(
        Array.from({ length: Math.floor(random() * 2000) + 1 }, () =>
          String.fromCharCode(Math.floor(random() * (wide ? 60_000 : 128))),
        ).join(''),
      )
    }
    for (const text of samples) assert.equal(decompressLz64(LZString.compressToBase64(text), 1e7), text)
  })

  it('stops at the output bound instead of inflating a bomb', () => {
    const bomb = LZString.compressToBase64('a'.repeat(200_000))
    assert.ok(bomb.length < 2_000, 'a tiny input')
    assert.throws(() => decompressLz64(bomb, 100_000), OutputTooLarge)
    assert.equal(decompressLz64(bomb, 200_000)?.length, 200_000)
  })

  it('rejects input outside the base64 alphabet or truncated streams', () => {
    assert.equal(decompressLz64('%%%%', 1000), undefined)
    const stream = LZString.compressToBase64('some text that is long enough to be cut')
    assert.notEqual(decompressLz64(stream.slice(0, 5), 1000), 'some text that is long enough to be cut')
  })
})
