/**
 * The de-identification rule file: which TIFF tags are kept, deleted or
 * rewritten, which Aperio ImageDescription keys survive, what happens to
 * OME-XML elements, DICOM attributes (dicom-rules.ts) and label/macro
 * images, and what the verification scan looks for. The defaults live in
 * default-rules.json (versioned); a project may override them with a file
 * that says `"extends": "default"`
 * (merged over the defaults) or gives a complete rule set of its own.
 * Anything a rule file does not cover stops the file (fail closed); the
 * strict profile deletes it instead and keeps only what is structural.
 */
import { readFile } from 'node:fs/promises';
import { WsiError } from '../../src/core/errors.js';
import DEFAULT_RULES_JSON from './default-rules.json' with { type: 'json' };
import { validateDicomRules, type DicomRules } from './dicom-rules.js';
import { bad, isObject, oneOf } from './rule-checks.js';

export type TagAction = 'keep' | 'delete' | 'year-only' | 'description' | 'offsets' | 'jpeg-tables' | 'refuse';
const TAG_ACTIONS: readonly TagAction[] = ['keep', 'delete', 'year-only', 'description', 'offsets', 'jpeg-tables', 'refuse'];

export interface TagRule {
  name: string;
  action: TagAction;
  /** Needed to read the image: the only tags the strict profile keeps. */
  structural?: boolean;
  /** Why a refusing rule refuses (shown in the report). */
  why?: string;
}

export interface DeidRules {
  name: string;
  version: string;
  tiff: {
    tags: Record<string, TagRule>;
    /** Tags no rule lists (private tags ≥ 32768 included): refuse the file, or delete them. */
    unlistedTags: 'refuse' | 'delete';
    /** ImageDescription text that is neither Aperio nor OME-XML. */
    otherDescriptions: 'refuse' | 'delete';
  };
  aperio: {
    keep: string[];
    yearOnly: string[];
    delete: string[];
    /** Keys in none of the lists (custom fields). */
    otherKeys: 'refuse' | 'delete';
  };
  ome: {
    imageNames: 'replace' | 'keep';
    acquisitionDate: 'year-only' | 'delete';
    deleteElements: string[];
    deleteAttributes: string[];
    otherElements: 'refuse' | 'delete';
  };
  /** DICOM attributes (dicom-rules.ts); null when the rule file has none (DICOM is then refused). */
  dicom: DicomRules | null;
  images: {
    label: 'remove' | 'replace';
    macro: 'remove' | 'blank-label';
    /** Which end of the macro image the slide label sits on. */
    macroLabelSide: 'left' | 'right';
    /** Fraction of the macro's width blanked. */
    macroLabelFraction: number;
  };
  verify: {
    /** Strings that must never appear in an output (checked in UTF-8 and UTF-16). */
    sentinels: string[];
    /** Removed values shorter than this are not scanned for (they would match pixel data by chance). */
    minValueLength: number;
  };
}

function strings(v: unknown, where: string): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) bad(`${where} must be a list of strings`);
  return v as string[];
}

/** Checks a complete rule set and returns it typed. */
export function validateRules(raw: unknown): DeidRules {
  if (!isObject(raw)) bad('the rule file must hold a JSON object');
  const { name, version, tiff, aperio, ome, images, verify, dicom } = raw;
  if (typeof name !== 'string' || typeof version !== 'string' || !version) bad('the rule file needs "name" and "version" strings');
  if (!isObject(tiff) || !isObject(tiff['tags'])) bad('the rule file needs tiff.tags');
  const tags: Record<string, TagRule> = {};
  for (const [key, rule] of Object.entries(tiff['tags'])) {
    const tag = Number(key);
    if (!Number.isInteger(tag) || tag < 0 || tag > 65535) bad(`tiff.tags key "${key}" is not a TIFF tag number`);
    if (!isObject(rule)) bad(`tiff.tags.${key} must be an object`);
    const action = oneOf(rule['action'], TAG_ACTIONS, `tiff.tags.${key}.action`);
    tags[String(tag)] = {
      name: typeof rule['name'] === 'string' ? rule['name'] : `tag ${tag}`,
      action,
      ...(rule['structural'] === true ? { structural: true } : {}),
      ...(typeof rule['why'] === 'string' ? { why: rule['why'] } : {}),
    };
  }
  if (!isObject(aperio) || !isObject(ome) || !isObject(images) || !isObject(verify)) bad('the rule file needs the sections aperio, ome, images and verify');
  const fraction = images['macroLabelFraction'];
  if (typeof fraction !== 'number' || !(fraction > 0 && fraction <= 1)) bad('images.macroLabelFraction must be a number in (0, 1]');
  const minLen = verify['minValueLength'];
  if (typeof minLen !== 'number' || !Number.isInteger(minLen) || minLen < 3 || minLen > 64) bad('verify.minValueLength must be an integer in 3..64');
  const sentinels = strings(verify['sentinels'], 'verify.sentinels');
  if (sentinels.some((s) => s.length < 4)) bad('verify.sentinels must be at least 4 characters each');
  return {
    name,
    version,
    tiff: {
      tags,
      unlistedTags: oneOf(tiff['unlistedTags'], ['refuse', 'delete'] as const, 'tiff.unlistedTags'),
      otherDescriptions: oneOf(tiff['otherDescriptions'], ['refuse', 'delete'] as const, 'tiff.otherDescriptions'),
    },
    aperio: {
      keep: strings(aperio['keep'], 'aperio.keep'),
      yearOnly: strings(aperio['yearOnly'], 'aperio.yearOnly'),
      delete: strings(aperio['delete'], 'aperio.delete'),
      otherKeys: oneOf(aperio['otherKeys'], ['refuse', 'delete'] as const, 'aperio.otherKeys'),
    },
    ome: {
      imageNames: oneOf(ome['imageNames'], ['replace', 'keep'] as const, 'ome.imageNames'),
      acquisitionDate: oneOf(ome['acquisitionDate'], ['year-only', 'delete'] as const, 'ome.acquisitionDate'),
      deleteElements: strings(ome['deleteElements'], 'ome.deleteElements'),
      deleteAttributes: strings(ome['deleteAttributes'], 'ome.deleteAttributes'),
      otherElements: oneOf(ome['otherElements'], ['refuse', 'delete'] as const, 'ome.otherElements'),
    },
    dicom: dicom === undefined ? null : validateDicomRules(dicom),
    images: {
      label: oneOf(images['label'], ['remove', 'replace'] as const, 'images.label'),
      macro: oneOf(images['macro'], ['remove', 'blank-label'] as const, 'images.macro'),
      macroLabelSide: oneOf(images['macroLabelSide'], ['left', 'right'] as const, 'images.macroLabelSide'),
      macroLabelFraction: fraction,
    },
    verify: { sentinels, minValueLength: minLen },
  };
}

export const DEFAULT_RULES: DeidRules = validateRules(DEFAULT_RULES_JSON);

/** Merges an override over a base: objects key by key, anything else replaced. */
function merge(base: unknown, over: unknown): unknown {
  if (!isObject(base) || !isObject(over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in base ? merge(base[k], v) : v;
  return out;
}

/** A project's rules: `"extends": "default"` merges over the defaults; otherwise the file is a complete rule set. */
export function rulesFrom(raw: unknown): DeidRules {
  if (!isObject(raw)) bad('the rule file must hold a JSON object');
  if (raw['extends'] === undefined) return validateRules(raw);
  if (raw['extends'] !== 'default') bad('"extends" may only name "default"');
  const { extends: _ignored, ...rest } = raw;
  const merged = merge(DEFAULT_RULES_JSON, rest) as Record<string, unknown>;
  if (typeof rest['version'] === 'string') merged['version'] = `${DEFAULT_RULES.version}+${rest['version']}`;
  return validateRules(merged);
}

/** Reads a rule file (JSON). */
export async function loadRulesFile(path: string): Promise<DeidRules> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new WsiError('DEID_RULES_INVALID', `the rule file cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new WsiError('DEID_RULES_INVALID', `the rule file is not valid JSON: ${(err as Error).message}`);
  }
  return rulesFrom(raw);
}

/** Keeps a date's year only: "12/29/09" → "01/01/09" (Aperio MM/DD/YY), "2009:12:29 09:59:15" → "2009:01:01 00:00:00", ISO → "YYYY-01-01T00:00:00". Null when the form is not recognised. */
export function yearOnly(value: string): string | null {
  const v = value.trim();
  let m = /^(\d{1,2})\/(\d{1,2})\/(\d{2}|\d{4})$/.exec(v);
  if (m) return `01/01/${m[3] as string}`;
  m = /^(\d{4}):(\d{2}):(\d{2})(?: (\d{2}):(\d{2}):(\d{2}))?$/.exec(v);
  if (m) return `${m[1] as string}:01:01 00:00:00`;
  m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$/.exec(v);
  if (m) return `${m[1] as string}-01-01T00:00:00`;
  return null;
}
