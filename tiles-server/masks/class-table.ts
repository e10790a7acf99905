/**
 * Class tables that come with an imported label image: which pixel value
 * (code) means which class. Two forms:
 *
 * - JSON: {"<code>": "<class name>", ...} (or {"<code>": {"name", "color"}})
 * - a HistomicsTK GT-codes CSV: header
 *   `group,overlay_order,GT_code,is_roi,is_background_class,color,comments`;
 *   GT_code → the group name, colour `rgb(r,g,b)`. Only `group` and
 *   `GT_code` are required; the other columns are read when present
 *   (`color`) or ignored.
 *
 * A malformed table is refused with 400 naming the line and field.
 */
import { createHash } from 'node:crypto';
import { WsiError } from '../../src/core/errors.js';

export interface TableEntry {
  name: string;
  /** #rrggbb, or null for a generated one. */
  color: string | null;
}

export interface ClassTable {
  format: 'json' | 'csv';
  codes: Map<number, TableEntry>;
  warnings: string[];
}

const MAX_NAME = 100;

function bad(message: string, detail: Record<string, unknown>): never {
  throw new WsiError('BAD_REQUEST', `the class table is malformed: ${message}`, detail);
}

function code(raw: string, where: Record<string, unknown>, label: string): number {
  const s = raw.trim();
  if (!/^\d{1,3}$/.test(s) || Number(s) > 255) bad(`${label}: "${s.slice(0, 20)}" is not a pixel code 0–255`, where);
  return Number(s);
}

function name(raw: unknown, where: Record<string, unknown>, label: string): string {
  const s = typeof raw === 'string' ? raw.trim() : '';
  if (!s || s.length > MAX_NAME) bad(`${label}: the class name must be 1–${MAX_NAME} characters`, where);
  return s;
}

/** `rgb(r,g,b)`, `rgba(r,g,b,a)` or `#rrggbb` → #rrggbb; empty → null. */
export function parseColour(raw: string, where: Record<string, unknown>, label: string): string | null {
  const s = raw.trim();
  if (!s) return null;
  if (/^#[0-9a-fA-F]{6}$/.test(s)) return s.toLowerCase();
  const m = /^rgba?\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*(?:,\s*[\d.]+\s*)?\)$/i.exec(s);
  if (!m || [m[1], m[2], m[3]].some((v) => Number(v) > 255)) bad(`${label}: "${s.slice(0, 40)}" is not a colour (rgb(r,g,b) or #rrggbb)`, where);
  return `#${[m[1], m[2], m[3]].map((v) => Number(v).toString(16).padStart(2, '0')).join('')}`;
}

/** A stable colour for a class that came without one (from its name). */
export function generatedColour(className: string): string {
  const h = createHash('sha256').update(className).digest();
  const hue = ((h[0] as number) * 256 + (h[1] as number)) % 360;
  const s = 0.65;
  const l = 0.5;
  const c = (1 - Math.abs(2 * l - 1)) * s;
  const x = c * (1 - Math.abs(((hue / 60) % 2) - 1));
  const m = l - c / 2;
  const [r, g, b] = hue < 60 ? [c, x, 0] : hue < 120 ? [x, c, 0] : hue < 180 ? [0, c, x] : hue < 240 ? [0, x, c] : hue < 300 ? [x, 0, c] : [c, 0, x];
  return `#${[r, g, b].map((v) => Math.round((v + m) * 255).toString(16).padStart(2, '0')).join('')}`;
}

function parseJsonTable(text: string): ClassTable {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    bad(`not valid JSON: ${(err as Error).message}`, { field: '$' });
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) bad('the JSON table must be an object {"<code>": "<class name>"}', { field: '$' });
  const codes = new Map<number, TableEntry>();
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    const where = { field: k };
    const c = code(k, where, `key "${k}"`);
    if (c === 0) bad('code 0 means "leave as is" and cannot name a class', where);
    if (typeof v === 'string') codes.set(c, { name: name(v, where, `"${k}"`), color: null });
    else if (v && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      const colour = o['color'] === undefined || o['color'] === null ? null : typeof o['color'] === 'string' ? parseColour(o['color'], { field: `${k}.color` }, `"${k}".color`) : bad(`"${k}".color must be a string`, { field: `${k}.color` });
      codes.set(c, { name: name(o['name'], { field: `${k}.name` }, `"${k}".name`), color: colour });
    } else bad(`"${k}" must be a class name (string) or {"name", "color"}`, where);
  }
  if (codes.size === 0) bad('the table maps no codes', { field: '$' });
  return { format: 'json', codes, warnings: [] };
}

/** Splits CSV text (RFC 4180: quoted fields, "" escapes, CRLF) into records with their line numbers. */
export function parseCsv(text: string): Array<{ line: number; fields: string[] }> {
  const rows: Array<{ line: number; fields: string[] }> = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  let i = 0;
  const endRecord = (): void => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === '')) rows.push({ line: start, fields });
    fields = [];
    field = '';
  };
  while (i < text.length) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (ch === '"') quoted = false;
      else {
        if (ch === '\n') line++;
        field += ch;
      }
      i++;
      continue;
    }
    if (ch === '"') {
      if (field.trim() !== '') bad(`line ${line}: a quote inside an unquoted field`, { line });
      field = '';
      quoted = true;
    } else if (ch === ',') {
      fields.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      start = line;
    } else field += ch;
    i++;
  }
  if (quoted) bad(`line ${start}: a quoted field is not closed`, { line: start });
  endRecord();
  return rows;
}

function parseCsvTable(text: string): ClassTable {
  const rows = parseCsv(text);
  const header = rows[0];
  if (!header) bad('the CSV is empty', { line: 1 });
  const cols = header.fields.map((f) => f.trim().toLowerCase());
  const gi = cols.indexOf('group');
  const ci = cols.indexOf('gt_code');
  const ki = cols.indexOf('color');
  if (gi < 0 || ci < 0) {
    bad(`line ${header.line}: the header must name the columns group and GT_code (HistomicsTK: group,overlay_order,GT_code,is_roi,is_background_class,color,comments); found ${header.fields.join(',').slice(0, 120)}`, { line: header.line, field: 'header' });
  }
  const codes = new Map<number, TableEntry>();
  const lineOf = new Map<number, number>();
  const warnings: string[] = [];
  for (const r of rows.slice(1)) {
    if (r.fields.length !== cols.length) bad(`line ${r.line}: ${r.fields.length} fields, the header has ${cols.length}`, { line: r.line });
    const c = code(r.fields[ci] as string, { line: r.line, field: 'GT_code' }, `line ${r.line}, GT_code`);
    const n = name(r.fields[gi], { line: r.line, field: 'group' }, `line ${r.line}, group`);
    const colour = ki >= 0 ? parseColour(r.fields[ki] as string, { line: r.line, field: 'color' }, `line ${r.line}, color`) : null;
    if (c === 0) {
      warnings.push(`class table line ${r.line}: code 0 (${n}) is ignored; 0 always means "leave as is"`);
      continue;
    }
    if (codes.has(c)) bad(`line ${r.line}: GT_code ${c} is already used on line ${lineOf.get(c) as number}`, { line: r.line, field: 'GT_code' });
    codes.set(c, { name: n, color: colour });
    lineOf.set(c, r.line);
  }
  if (codes.size === 0) bad('the CSV maps no codes', { line: header.line });
  return { format: 'csv', codes, warnings };
}

/** Parses a class table in either form (JSON when it starts with "{"). */
export function parseClassTable(text: string): ClassTable {
  const t = text.replace(/^\uFEFF/, '');
  if (t.length > 1 << 20) bad('the table is larger than 1 MB', { field: '$' });
  return t.trimStart().startsWith('{') ? parseJsonTable(t) : parseCsvTable(t);
}
