/**
 * Sign-in throttling: failures are counted per account name (known or not,
 * so a lockout says nothing about whether the account exists) and per
 * client address over a sliding window; past the limit the key is locked
 * out for a while and every attempt is refused with 429 and Retry-After
 * before any password is checked.
 */
import { WsiError } from '../../src/core/errors.js';

export interface LimitOptions {
  /** Failures allowed per window before a lockout. */
  maxFailures: number;
  windowMs: number;
  lockoutMs: number;
}

interface Entry {
  failures: number[];
  lockedUntil: number;
}

export class FailureLimiter {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly opts: LimitOptions) {}

  /** Throws 429 TOO_MANY_ATTEMPTS while `key` is locked out. */
  check(key: string, now = Date.now()): void {
    const e = this.entries.get(key);
    if (e && e.lockedUntil > now) {
      throw new WsiError('TOO_MANY_ATTEMPTS', 'too many failed sign-in attempts; try again later', { retryAfterSeconds: Math.ceil((e.lockedUntil - now) / 1000) });
    }
  }

  /** Counts a failure; returns true when it started a lockout. */
  fail(key: string, now = Date.now()): boolean {
    const e = this.entries.get(key) ?? { failures: [], lockedUntil: 0 };
    e.failures = e.failures.filter((t) => t > now - this.opts.windowMs);
    e.failures.push(now);
    this.entries.set(key, e);
    if (e.failures.length >= this.opts.maxFailures) {
      e.lockedUntil = now + this.opts.lockoutMs;
      e.failures = [];
      return true;
    }
    return false;
  }

  succeed(key: string): void {
    this.entries.delete(key);
  }

  /** Drops entries that can no longer matter (called now and then). */
  prune(now = Date.now()): void {
    for (const [k, e] of this.entries) if (e.lockedUntil <= now && e.failures.every((t) => t <= now - this.opts.windowMs)) this.entries.delete(k);
  }
}
