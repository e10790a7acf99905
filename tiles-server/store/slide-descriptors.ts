/**
 * The site and stain of each project slide (issue 15: the report's dataset
 * composition groups slides by them). A manager sets them; they are not in
 * the file. Versioned: a change adds a row naming who and when, so the
 * report and the audit can name the version. The values may be
 * sensitive-ish (a site can narrow down a patient), so callers keep them out
 * of URLs and logs; audit records name the fields, never their text.
 * The SQL is portable.
 */
import { WsiError } from '../../src/core/errors.js';
import { writeTransaction, type Db } from './database.js';

export const DESCRIPTOR_FIELDS = ['site', 'stain'] as const;
export type DescriptorField = (typeof DESCRIPTOR_FIELDS)[number];
export type Descriptors = Record<DescriptorField, string | null>;

export interface VersionedDescriptors {
  version: number;
  value: Descriptors;
  setBy: string | null;
  setAt: string | null;
}

/** Longest site or stain, in characters. */
export const MAX_DESCRIPTOR = 120;
// C0 and C1 control characters, DEL, line and paragraph separators, bidi overrides
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

function field(v: unknown, name: DescriptorField): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string') throw new WsiError('BAD_REQUEST', `${name} must be a string or null`);
  if (CONTROL.test(v)) throw new WsiError('BAD_REQUEST', `${name} must not contain control characters`);
  const t = v.normalize('NFC').trim();
  if (t.length > MAX_DESCRIPTOR) throw new WsiError('BAD_REQUEST', `${name} is longer than ${MAX_DESCRIPTOR} characters`);
  return t === '' ? null : t;
}

/**
 * A change as a manager sends it: `{version, site?, stain?}`; a field left
 * out keeps its value, null or "" clears it. Anything else is a 400 naming
 * the field (never echoing its value).
 */
export function parseDescriptorChange(body: unknown): { version: number; change: Partial<Descriptors> } {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new WsiError('BAD_REQUEST', 'the descriptors are a JSON object {version, site, stain}');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) {
    if (k !== 'version' && !(DESCRIPTOR_FIELDS as readonly string[]).includes(k)) throw new WsiError('BAD_REQUEST', `unknown field ${k.slice(0, 40).replace(CONTROL, '?')}`);
  }
  const version = b['version'];
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 0) throw new WsiError('PRECONDITION_REQUIRED', 'send the version the descriptors were edited from (`version`, 0 for the first)');
  const change: Partial<Descriptors> = {};
  for (const f of DESCRIPTOR_FIELDS) if (f in b) change[f] = field(b[f], f);
  if (Object.keys(change).length === 0) throw new WsiError('BAD_REQUEST', `send at least one of ${DESCRIPTOR_FIELDS.join(', ')}`);
  return { version, change };
}

interface Row {
  project_slide_id: string;
  version: number;
  site: string | null;
  stain: string | null;
  set_by: string;
  set_at: string;
}

const NONE: VersionedDescriptors = { version: 0, value: { site: null, stain: null }, setBy: null, setAt: null };

export class SlideDescriptorStore {
  constructor(private readonly db: Db) {}

  /** The latest descriptors of a project slide (version 0 and nulls: never set). */
  get(projectId: string, projectSlideId: string): VersionedDescriptors {
    const r = this.db
      .prepare('SELECT project_slide_id, version, site, stain, set_by, set_at FROM slide_descriptors WHERE project_id = ? AND project_slide_id = ? ORDER BY version DESC LIMIT 1')
      .get(projectId, projectSlideId) as Row | undefined;
    return r ? { version: r.version, value: { site: r.site, stain: r.stain }, setBy: r.set_by, setAt: r.set_at } : NONE;
  }

  /** Adds a version; `expected` is the version it was edited from, else 412 with the current one. */
  set(projectId: string, projectSlideId: string, change: Partial<Descriptors>, expected: number, by: string, now: string): { before: VersionedDescriptors; after: VersionedDescriptors } {
    return writeTransaction(this.db, () => {
      const before = this.get(projectId, projectSlideId);
      if (expected !== before.version) throw new WsiError('PRECONDITION_FAILED', `the descriptors are at version ${before.version}, not ${expected}`, { current: before.version });
      const value: Descriptors = { ...before.value, ...change };
      this.db
        .prepare('INSERT INTO slide_descriptors (project_id, project_slide_id, version, site, stain, set_by, set_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(projectId, projectSlideId, before.version + 1, value.site, value.stain, by, now);
      return { before, after: { version: before.version + 1, value, setBy: by, setAt: now } };
    });
  }
}
