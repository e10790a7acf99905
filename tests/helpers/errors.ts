/** The WsiError code a call throws ('no error' when it returns): for tests of bad input. */
import { WsiError } from '../../src/core/errors.js';

export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return e instanceof WsiError ? e.code : `not a WsiError: ${String(e)}`;
  }
  return 'no error';
}
