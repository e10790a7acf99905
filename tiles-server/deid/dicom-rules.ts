/**
 * The DICOM section of the de-identification rule file, after the PS3.15
 * Annex E Basic Application Level Confidentiality Profile: for each
 * attribute (by tag, "GGGGEEEE") what happens to it — kept, deleted (X),
 * emptied (Z), replaced by the study code or a fixed dummy (D), its UIDs
 * re-mapped (U), its date kept to the year, its time zeroed — and what
 * happens to private tags, to attributes no rule lists (fail closed: the
 * file is refused), and to LABEL and OVERVIEW instances. Sequences a rule
 * keeps are walked and their items judged by the same table.
 */
import { bad, isObject, oneOf } from './rule-checks.js';

export type DicomAction = 'keep' | 'delete' | 'empty' | 'study-code' | 'replace' | 'uid' | 'date' | 'time' | 'datetime' | 'refuse' | 'tool';
export const DICOM_ACTIONS: readonly DicomAction[] = ['keep', 'delete', 'empty', 'study-code', 'replace', 'uid', 'date', 'time', 'datetime', 'refuse', 'tool'];

export interface DicomRule {
  name: string;
  action: DicomAction;
  /** Needed to read the slide: kept by the strict profile too. */
  structural?: boolean;
  /** The dummy of a "replace" rule. */
  value?: string;
  why?: string;
}

export interface DicomRules {
  /** By tag, eight upper-case hex digits ("00100010"). */
  attributes: Record<string, DicomRule>;
  /** Private tags (odd groups) no rule lists: deleted (the Basic Profile), or refused. */
  privateTags: 'delete' | 'refuse';
  /** Standard attributes no rule lists: refuse the slide (fail closed), or delete them. */
  unlisted: 'refuse' | 'delete';
  /** LABEL instances: dropped, or replaced by one bearing the study code (dicom-label.ts). */
  label: 'remove' | 'replace';
  /** OVERVIEW instances show the slide label: dropped (blanking their label end is not implemented). */
  overview: 'remove';
}

/** Checks the "dicom" section of a rule file. */
export function validateDicomRules(raw: unknown): DicomRules {
  if (!isObject(raw) || !isObject(raw['attributes'])) bad('dicom.attributes must be an object keyed by tag (GGGGEEEE)');
  const attributes: Record<string, DicomRule> = {};
  for (const [key, rule] of Object.entries(raw['attributes'])) {
    if (!/^[0-9A-Fa-f]{8}$/.test(key)) bad(`dicom.attributes key "${key}" is not a tag written as eight hex digits (GGGGEEEE)`);
    if (!isObject(rule)) bad(`dicom.attributes.${key} must be an object`);
    const action = oneOf(rule['action'], DICOM_ACTIONS, `dicom.attributes.${key}.action`);
    const value = rule['value'];
    if (action === 'replace' && (typeof value !== 'string' || !/^[\x20-\x7e]{1,64}$/.test(value) || value.includes('\\'))) {
      bad(`dicom.attributes.${key}: a "replace" rule needs a "value" of 1–64 printable ASCII characters without "\\"`);
    }
    attributes[key.toUpperCase()] = {
      name: typeof rule['name'] === 'string' ? rule['name'] : `(${key.slice(0, 4)},${key.slice(4)})`,
      action,
      ...(rule['structural'] === true ? { structural: true } : {}),
      ...(action === 'replace' ? { value: value as string } : {}),
      ...(typeof rule['why'] === 'string' ? { why: rule['why'] } : {}),
    };
  }
  return {
    attributes,
    privateTags: oneOf(raw['privateTags'], ['delete', 'refuse'] as const, 'dicom.privateTags'),
    unlisted: oneOf(raw['unlisted'], ['refuse', 'delete'] as const, 'dicom.unlisted'),
    label: oneOf(raw['label'], ['remove', 'replace'] as const, 'dicom.label'),
    overview: oneOf(raw['overview'], ['remove'] as const, 'dicom.overview'),
  };
}
