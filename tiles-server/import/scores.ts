/**
 * A prediction's score, read from what its file's reader kept in the
 * object's properties: the property itself, QuPath's `measurements` (an
 * object, or the older list of {name, value}), or HistomicsTK's per-element
 * `user` data. The key is the model run's `scoreKey`, or the first of
 * SCORE_KEYS found; names match without regard to case. A score must be a
 * number in [0, 1]: anything else (a string, "NaN", 1.7, -0.1) makes the file
 * malformed, and the import is refused saying which object.
 */
import { FormatError, isPlainObject } from '../formats/types.js';

export const SCORE_KEYS: readonly string[] = ['probability', 'score', 'confidence'];

/** The value under `key` (any case) in an object, or in a list of {name, value}; undefined when absent. */
function lookup(container: unknown, key: string): unknown {
  const want = key.toLowerCase();
  if (isPlainObject(container)) {
    for (const [k, v] of Object.entries(container)) if (k.toLowerCase() === want) return v;
    return undefined;
  }
  if (Array.isArray(container)) {
    for (const m of container) if (isPlainObject(m) && typeof m['name'] === 'string' && m['name'].toLowerCase() === want) return m['value'];
  }
  return undefined;
}

/** The raw score value under one key: the property, then measurements, then user data. */
function rawScore(props: Record<string, unknown>, key: string): unknown {
  for (const where of [props, props['measurements'], props['user']]) {
    const v = lookup(where, key);
    if (v !== undefined && v !== null) return v;
  }
  return undefined;
}

/** The object's score, null when it has none; throws FormatError (naming `where`) for one out of range or not a number. */
export function scoreOf(props: Record<string, unknown>, key: string | null, where: string): number | null {
  for (const k of key === null ? SCORE_KEYS : [key]) {
    const v = rawScore(props, k);
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new FormatError(`the score "${k}" must be a number from 0 to 1, not ${JSON.stringify(v).slice(0, 40)}`, where);
    if (v < 0 || v > 1) throw new FormatError(`the score "${k}" is ${v}, outside 0 to 1`, where);
    return v;
  }
  return null;
}
