/**
 * Checks of review and reading request bodies, shared by review-service.ts
 * and reading-service.ts: a JSON object, a bounded text, a list of ids.
 * Each failure is a 400 with what was wrong (a missing comment has its own
 * code, REVIEW_COMMENT_REQUIRED).
 */
import { WsiError } from '../../src/core/errors.js';

export type Body = Record<string, unknown>;

/** Longest comment, label or name. */
export const MAX_TEXT = 4000;

export function object(body: unknown): Body {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new WsiError('BAD_REQUEST', 'the body must be a JSON object');
  return body as Body;
}

export function text(v: unknown, what: string, required: boolean): string | null {
  if (v === undefined || v === null || (typeof v === 'string' && v.trim() === '')) {
    if (required) throw new WsiError(what === 'comment' ? 'REVIEW_COMMENT_REQUIRED' : 'BAD_REQUEST', `${what} is required`);
    return null;
  }
  if (typeof v !== 'string') throw new WsiError('BAD_REQUEST', `${what} must be a string`);
  if (v.length > MAX_TEXT) throw new WsiError('BAD_REQUEST', `${what} holds at most ${MAX_TEXT} characters`);
  return v;
}

export function stringList(v: unknown, what: string, max = 1000): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x.length === 0 || x.length > 200) || v.length > max) {
    throw new WsiError('BAD_REQUEST', `${what} must be a list of at most ${max} non-empty strings of up to 200 characters`);
  }
  return v as string[];
}

