/**
 * What a project's managers keep for the regulatory record (issue 15): the
 * annotation protocol (class definitions with their reference standards,
 * the magnification of each task, acceptance criteria and rules) and each
 * member's qualifications (a free text and the date they were attested).
 * Both are versioned: a change adds a row, nothing is updated or deleted,
 * so the report can name the version it was built from. The SQL is portable.
 */
import { WsiError } from '../../src/core/errors.js';
import { writeTransaction, type Db } from './database.js';

export interface Protocol {
  classes: Array<{ name: string; definition: string; referenceStandard: string }>;
  magnifications: Array<{ task: string; magnification: number }>;
  acceptanceCriteria: string;
  rules: string;
}

export interface Versioned<T> {
  version: number;
  value: T;
  setBy: string;
  setAt: string;
}

export interface Qualification {
  text: string;
  /** YYYY-MM-DD */
  date: string;
}

const MAX_TEXT = 4000;

function text(v: unknown, what: string, required: boolean): string {
  if (v === undefined && !required) return '';
  if (typeof v !== 'string') throw new WsiError('BAD_REQUEST', `${what} must be a string`);
  if (v.length > MAX_TEXT) throw new WsiError('BAD_REQUEST', `${what} is longer than ${MAX_TEXT} characters`);
  if (required && v.trim() === '') throw new WsiError('BAD_REQUEST', `${what} must not be empty`);
  return v;
}

/** A protocol as a manager sends it; anything else is a 400 naming the field. */
export function parseProtocol(body: unknown): Protocol {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new WsiError('BAD_REQUEST', 'the protocol is a JSON object');
  const b = body as Record<string, unknown>;
  const list = (v: unknown, what: string): unknown[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.length > 255) throw new WsiError('BAD_REQUEST', `${what} must be a list of at most 255 entries`);
    return v as unknown[];
  };
  const obj = (v: unknown, what: string): Record<string, unknown> => {
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new WsiError('BAD_REQUEST', `${what} must be an object`);
    return v as Record<string, unknown>;
  };
  const classes = list(b['classes'], 'classes').map((c, i) => {
    const o = obj(c, `classes[${i}]`);
    return { name: text(o['name'], `classes[${i}].name`, true), definition: text(o['definition'], `classes[${i}].definition`, true), referenceStandard: text(o['referenceStandard'], `classes[${i}].referenceStandard`, false) };
  });
  const names = new Set<string>();
  for (const c of classes) {
    if (names.has(c.name.toLowerCase())) throw new WsiError('BAD_REQUEST', `class ${c.name} is defined twice`);
    names.add(c.name.toLowerCase());
  }
  const magnifications = list(b['magnifications'], 'magnifications').map((m, i) => {
    const o = obj(m, `magnifications[${i}]`);
    const mag = o['magnification'];
    if (typeof mag !== 'number' || !Number.isFinite(mag) || mag <= 0 || mag > 400) throw new WsiError('BAD_REQUEST', `magnifications[${i}].magnification must be a number above 0 and at most 400`);
    return { task: text(o['task'], `magnifications[${i}].task`, true), magnification: mag };
  });
  for (const k of Object.keys(b)) {
    if (!['classes', 'magnifications', 'acceptanceCriteria', 'rules', 'version'].includes(k)) throw new WsiError('BAD_REQUEST', `unknown protocol field ${k.slice(0, 40)}`);
  }
  return { classes, magnifications, acceptanceCriteria: text(b['acceptanceCriteria'], 'acceptanceCriteria', false), rules: text(b['rules'], 'rules', false) };
}

/** A qualification as a manager sends it: `{text, date: "YYYY-MM-DD"}`. */
export function parseQualification(body: unknown): Qualification {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new WsiError('BAD_REQUEST', 'the qualification is a JSON object {text, date}');
  const b = body as Record<string, unknown>;
  const date = b['date'];
  if (typeof date !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(Date.parse(`${date}T00:00:00Z`)) || new Date(`${date}T00:00:00Z`).toISOString().slice(0, 10) !== date) {
    throw new WsiError('BAD_REQUEST', 'date must be a calendar date YYYY-MM-DD');
  }
  return { text: text(b['text'], 'text', true), date };
}

interface ProtocolRow {
  version: number;
  body: string;
  set_by: string;
  set_at: string;
}

interface QualificationRow {
  user_id: string;
  version: number;
  body: string;
  qualified_on: string;
  set_by: string;
  set_at: string;
}

export class ProjectRecordStore {
  constructor(private readonly db: Db) {}

  protocol(projectId: string): Versioned<Protocol> | null {
    const r = this.db.prepare('SELECT version, body, set_by, set_at FROM project_protocols WHERE project_id = ? ORDER BY version DESC LIMIT 1').get(projectId) as ProtocolRow | undefined;
    return r ? { version: r.version, value: JSON.parse(r.body) as Protocol, setBy: r.set_by, setAt: r.set_at } : null;
  }

  /** Adds a version of the protocol; `expected` is the version it was edited from (0: none), else 412. */
  setProtocol(projectId: string, p: Protocol, expected: number, by: string, now: string): Versioned<Protocol> {
    return writeTransaction(this.db, () => {
      const current = this.protocol(projectId)?.version ?? 0;
      if (expected !== current) throw new WsiError('PRECONDITION_FAILED', `the protocol is at version ${current}, not ${expected}`, { current });
      this.db.prepare('INSERT INTO project_protocols (project_id, version, body, set_by, set_at) VALUES (?, ?, ?, ?, ?)').run(projectId, current + 1, JSON.stringify(p), by, now);
      return { version: current + 1, value: p, setBy: by, setAt: now };
    });
  }

  /** The latest qualification of each member that has one, by user id. */
  qualifications(projectId: string): Map<string, Versioned<Qualification>> {
    const rows = this.db
      .prepare(
        `SELECT q.user_id, q.version, q.body, q.qualified_on, q.set_by, q.set_at FROM member_qualifications q
         WHERE q.project_id = ? AND q.version = (SELECT MAX(v.version) FROM member_qualifications v WHERE v.project_id = q.project_id AND v.user_id = q.user_id)
         ORDER BY q.user_id`,
      )
      .all(projectId) as QualificationRow[];
    return new Map(rows.map((r) => [r.user_id, { version: r.version, value: { text: r.body, date: r.qualified_on }, setBy: r.set_by, setAt: r.set_at }]));
  }

  setQualification(projectId: string, userId: string, q: Qualification, by: string, now: string): Versioned<Qualification> {
    return writeTransaction(this.db, () => {
      const current = (this.db.prepare('SELECT MAX(version) AS v FROM member_qualifications WHERE project_id = ? AND user_id = ?').get(projectId, userId) as { v: number | null }).v ?? 0;
      this.db.prepare('INSERT INTO member_qualifications (project_id, user_id, version, body, qualified_on, set_by, set_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(projectId, userId, current + 1, q.text, q.date, by, now);
      return { version: current + 1, value: q, setBy: by, setAt: now };
    });
  }
}
