/**
 * The checks a rule file's sections share (rules.ts for TIFF, Aperio, OME,
 * images and verification; dicom-rules.ts for DICOM): each mistake is a
 * DEID_RULES_INVALID naming where it is.
 */
import { WsiError } from '../../src/core/errors.js';

export function bad(message: string): never {
  throw new WsiError('DEID_RULES_INVALID', message);
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function oneOf<T extends string>(v: unknown, allowed: readonly T[], where: string): T {
  if (typeof v !== 'string' || !allowed.includes(v as T)) bad(`${where} must be one of ${allowed.join(', ')}`);
  return v as T;
}
