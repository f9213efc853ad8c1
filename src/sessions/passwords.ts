/**
 * Password hashing with scrypt from node:crypto at OWASP's parameters (N=2^17, r=8, p=1: 128 MiB
 * per hash). The parameters are stored with each hash so they can be raised later without
 * invalidating existing passwords.
 */
import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto'

/** Shortest password accepted (PostHog's minimum). */
export const MIN_PASSWORD_LENGTH = 8
/** Longest password accepted: bounds the work one request can ask of the KDF. */
export const MAX_PASSWORD_LENGTH = 256

const PARAMS = { N: 2 ** 17, r: 8, p: 1 }
const KEY_LENGTH = 32
const SALT_LENGTH = 16

function derive(password: string, salt: Buffer, params: typeof PARAMS): Promise<Buffer> {
  // scrypt needs 128·N·r bytes; Node's default maxmem (32 MiB) is below OWASP's N.
  const options: ScryptOptions = { ...params, maxmem: 256 * params.N * params.r }
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, options, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  )
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_LENGTH)
  const key = await derive(password, salt, PARAMS)
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64'), key.toString('base64')].join('$')
}

/** A hash that never matches, used so an unknown email costs as much as a wrong password. */
let dummyHash: Promise<string> | undefined
const dummy = () => {
  dummyHash ??= hashPassword(randomBytes(16).toString('hex'))
  return dummyHash
}

/** Constant-time check; a null hash (no password set) still spends one derivation. */
export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  const parts = (stored ?? (await dummy())).split('$')
  const [scheme, n, r, p, salt, expected] = parts
  if (scheme !== 'scrypt' || !salt || !expected) return false
  const params = { N: Number(n), r: Number(r), p: Number(p) }
  const key = await derive(password, Buffer.from(salt, 'base64'), params)
  const wanted = Buffer.from(expected, 'base64')
  return key.length === wanted.length && timingSafeEqual(key, wanted) && stored !== null
}

/** Why a new password is refused, or null when it is acceptable. */
export function passwordProblem(password: string): string | null {
  if (password.length < MIN_PASSWORD_LENGTH)
    return `This password is too short. It must contain at least ${MIN_PASSWORD_LENGTH} characters.`
  if (password.length > MAX_PASSWORD_LENGTH)
    return `This password is too long. It must contain at most ${MAX_PASSWORD_LENGTH} characters.`
  return null
}

/** A random password for bootstrap: 20 base64url characters (120 bits). */
export function generatePassword(): string {
  return randomBytes(15).toString('base64url')
}
