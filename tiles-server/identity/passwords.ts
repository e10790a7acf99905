/**
 * Passwords: Argon2id hashes (@node-rs/argon2, OWASP's parameters), a
 * policy of at least 12 characters that are not the login name or a
 * well-known password, and a verification that costs the same whether or
 * not the account exists (a dummy hash is checked for unknown names).
 */
import { hash, verify } from '@node-rs/argon2';
import { WsiError } from '../../src/core/errors.js';

// Argon2id, m = 19 MiB, t = 2, p = 1 (OWASP Password Storage Cheat Sheet)
const OPTIONS = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const MIN_PASSWORD_LENGTH = 12;
const MAX_PASSWORD_LENGTH = 1024;

/** Passwords that meet the length rule but appear in every breach list. */
const COMMON = new Set([
  'password1234', 'password12345', 'passwordpassword', '123456789012', '1234567890123', 'qwertyuiopas', 'qwerty123456', 'iloveyou1234',
  'administrator', 'letmein12345', 'welcome12345', 'changeme1234', 'abcdefghijkl', 'aaaaaaaaaaaa', '111111111111', '000000000000',
]);

/** Refuses a password the policy does not allow, saying why. */
export function checkPasswordPolicy(password: string, username: string): void {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD_LENGTH) {
    throw new WsiError('WEAK_PASSWORD', `a password needs at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  if (password.length > MAX_PASSWORD_LENGTH) throw new WsiError('WEAK_PASSWORD', `a password may have at most ${MAX_PASSWORD_LENGTH} characters`);
  const lower = password.toLowerCase();
  if (lower.includes(username.toLowerCase()) && username.length >= 3) throw new WsiError('WEAK_PASSWORD', 'a password must not contain the login name');
  if (COMMON.has(lower) || /^(.)\1+$/.test(password)) throw new WsiError('WEAK_PASSWORD', 'this password is too common');
}

export function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

let dummy: Promise<string> | null = null;

/**
 * Checks a password against a stored hash; with no hash (an unknown name,
 * an account without a password) a dummy hash is checked instead so the
 * answer takes as long, and is false.
 */
export async function verifyPassword(stored: string | null, password: string): Promise<boolean> {
  if (typeof password !== 'string' || password.length > MAX_PASSWORD_LENGTH) password = '';
  if (!stored) {
    dummy ??= hashPassword('dummy password never matched');
    await verify(await dummy, password).catch(() => false);
    return false;
  }
  try {
    return await verify(stored, password);
  } catch {
    return false;
  }
}
