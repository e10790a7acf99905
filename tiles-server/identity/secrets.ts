/**
 * Random secrets and their digests: session ids, CSRF tokens, API and
 * setup tokens are 256 random bits, shown once, and stored only as SHA-256.
 */
import { hash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

/** A fresh 256-bit secret, URL-safe, with an optional prefix that says what it is. */
export function newSecret(prefix = ''): string {
  return `${prefix}${randomBytes(32).toString('base64url')}`;
}

/** SHA-256 in hex, one-shot (every request digests its credential: a third of createHash's cost). */
export function digest(secret: string): string {
  return hash('sha256', secret, 'hex');
}

export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

export function newId(): string {
  return randomUUID();
}

export const SECRET_PREFIX = {
  apiToken: 'wsi_at_',
  embedToken: 'wsi_et_',
} as const;
