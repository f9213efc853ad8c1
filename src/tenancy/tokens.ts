/**
 * Secrets: personal API keys (`phx_…`) and project API tokens (`phc_…`).
 * Only the SHA-256 of a personal key is stored (PostHog's `sha256$<hex>` format).
 */
import { createHash, randomInt } from 'node:crypto'

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
/** 43 base62 characters carry 256 bits of entropy. */
const TOKEN_LENGTH = 43

function randomBase62(length: number): string {
  let out = ''
  for (let i = 0; i < length; i++) out += BASE62[randomInt(62)]
  return out
}

export const PERSONAL_API_KEY_PREFIX = 'phx_'
export const PROJECT_API_TOKEN_PREFIX = 'phc_'

export function newProjectApiToken(): string {
  return PROJECT_API_TOKEN_PREFIX + randomBase62(TOKEN_LENGTH)
}

export function hashPersonalApiKey(plaintext: string): string {
  return `sha256$${createHash('sha256').update(plaintext).digest('hex')}`
}

export function maskPersonalApiKey(plaintext: string): string {
  return `${plaintext.slice(0, 4)}...${plaintext.slice(-4)}`
}

export interface MintedKey {
  plaintext: string
  secure_value: string
  mask_value: string
}

export function mintPersonalApiKey(): MintedKey {
  const plaintext = PERSONAL_API_KEY_PREFIX + randomBase62(TOKEN_LENGTH)
  return { plaintext, secure_value: hashPersonalApiKey(plaintext), mask_value: maskPersonalApiKey(plaintext) }
}
