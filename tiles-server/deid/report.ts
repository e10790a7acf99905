/**
 * What a de-identification run found and did, collected while it runs and
 * kept as the per-file report (JSON, and an HTML page for people). The
 * report names fields and their actions but never holds a removed value:
 * those go only to the verification scan, in memory.
 */
import { WsiError } from '../../src/core/errors.js';

export type FieldAction = 'kept' | 'deleted' | 'rewritten' | 'refused';
export type ImageAction = 'kept' | 'removed' | 'replaced' | 'blanked' | 'not present';

export interface FieldRecord {
  /** Where the field is: "IFD 0", "IFD 0 ImageDescription", "OME-XML". */
  where: string;
  field: string;
  action: FieldAction;
  note?: string;
}

export interface ImageRecord {
  where: string;
  kind: 'label' | 'macro' | 'thumbnail';
  action: ImageAction;
  note?: string;
}

export interface VerificationRecord {
  bytesScanned: number;
  /** How many distinct strings were looked for, each in UTF-8, UTF-16LE and UTF-16BE. */
  needles: number;
  /** Removed values too short to scan for without matching pixel data by chance. */
  skippedShort: number;
  /** Removed values that also appear in metadata the rules keep (not PHI by the rules' own account). */
  skippedKept: number;
  /** Hits as "<what> at <offset> (<encoding>)"; never the value itself. */
  hits: string[];
  result: 'pass' | 'fail';
}

export interface DeidReport {
  tool: 'wsi-annotate deid';
  rules: { name: string; version: string };
  profile: 'default' | 'strict';
  studyCode: string;
  format: string | null;
  input: { bytes: number };
  output: { bytes: number; sha256: string } | null;
  fields: FieldRecord[];
  images: ImageRecord[];
  label: ImageAction;
  macro: ImageAction;
  /** Fields deleted or rewritten, images removed, replaced or blanked. */
  fieldsModified: number;
  imagesModified: number;
  /** Fields and keys no rule covers (the reason a file is refused). */
  uncovered: string[];
  pyramidBlocksCopied: number;
  verification: VerificationRecord | null;
  result: 'de-identified' | 'refused' | 'failed';
  error: { code: string; message: string } | null;
  startedAt: string;
  finishedAt: string | null;
}

/** Collects findings during a run. */
export class Findings {
  readonly fields: FieldRecord[] = [];
  readonly images: ImageRecord[] = [];
  readonly uncovered: string[] = [];
  /** Removed values (what the output must not contain) and the field each came from. In memory only. */
  readonly removedValues = new Map<string, string>();
  /** Text the output keeps (rewritten descriptions, kept tags), to tell PHI from kept metadata. */
  readonly keptText: string[] = [];

  field(where: string, field: string, action: FieldAction, note?: string): void {
    this.fields.push(note === undefined ? { where, field, action } : { where, field, action, note });
  }

  /** A field that goes away or changes: recorded, and its old value kept for the scan. */
  removed(where: string, field: string, action: 'deleted' | 'rewritten', value: string | null, note?: string): void {
    this.field(where, field, action, note);
    if (value !== null) for (const v of scanValuesOf(value)) if (!this.removedValues.has(v)) this.removedValues.set(v, `${where} ${field}`);
  }

  refuse(where: string, field: string, why: string): void {
    this.field(where, field, 'refused', why);
    this.uncovered.push(`${where}: ${field} (${why})`);
  }

  image(where: string, kind: ImageRecord['kind'], action: ImageAction, note?: string): void {
    this.images.push(note === undefined ? { where, kind, action } : { where, kind, action, note });
  }

  get fieldsModified(): number {
    return this.fields.filter((f) => f.action === 'deleted' || f.action === 'rewritten').length;
  }

  get imagesModified(): number {
    return this.images.filter((i) => i.action === 'removed' || i.action === 'replaced' || i.action === 'blanked').length;
  }

  /** Stops the file when anything was not covered by a rule (fail closed). */
  throwIfUncovered(): void {
    if (this.uncovered.length === 0) return;
    const shown = this.uncovered.slice(0, 8).join('; ');
    const more = this.uncovered.length > 8 ? ` and ${this.uncovered.length - 8} more` : '';
    throw new WsiError('DEID_UNCOVERED_FIELD', `no rule covers ${shown}${more}`, { uncovered: this.uncovered });
  }
}

/**
 * The strings a removed value is scanned for: the value itself, and for XML
 * (XMP packets, deleted OME elements) each text node and attribute value.
 */
export function scanValuesOf(value: string): string[] {
  const out = new Set<string>();
  const v = value.replace(/\0+$/, '').trim();
  if (!v) return [];
  out.add(v);
  if (v.includes('<')) {
    for (const m of v.matchAll(/>([^<>]+)</g)) if ((m[1] as string).trim()) out.add((m[1] as string).trim());
    for (const m of v.matchAll(/="([^"]*)"/g)) if ((m[1] as string).trim()) out.add((m[1] as string).trim());
    for (const m of v.matchAll(/='([^']*)'/g)) if ((m[1] as string).trim()) out.add((m[1] as string).trim());
  }
  return [...out];
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The report as a self-contained HTML page. */
export function reportHtml(r: DeidReport): string {
  const rows = r.fields.map((f) => `<tr><td>${esc(f.where)}</td><td>${esc(f.field)}</td><td>${esc(f.action)}</td><td>${esc(f.note ?? '')}</td></tr>`).join('');
  const imgs = r.images.map((i) => `<tr><td>${esc(i.where)}</td><td>${esc(i.kind)}</td><td>${esc(i.action)}</td><td>${esc(i.note ?? '')}</td></tr>`).join('');
  const v = r.verification;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>De-identification report ${esc(r.studyCode)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:2px 8px;text-align:left}</style></head><body>
<h1>De-identification report: ${esc(r.studyCode)}</h1>
<p>Result: <strong>${esc(r.result)}</strong>${r.error ? ` — ${esc(r.error.code)}: ${esc(r.error.message)}` : ''}</p>
<p>Rules: ${esc(r.rules.name)} ${esc(r.rules.version)}, profile ${esc(r.profile)}. Format: ${esc(r.format ?? 'unknown')}.
Label: ${esc(r.label)}. Macro: ${esc(r.macro)}. Fields modified: ${r.fieldsModified}. Pyramid blocks copied bit for bit: ${r.pyramidBlocksCopied}.</p>
<p>Verification: ${v ? `${esc(v.result)}, ${v.bytesScanned} bytes scanned for ${v.needles} strings (UTF-8, UTF-16LE, UTF-16BE)${v.hits.length ? `; hits: ${esc(v.hits.join(', '))}` : ''}` : 'not run'}</p>
${r.uncovered.length ? `<h2>Not covered by any rule</h2><ul>${r.uncovered.map((u) => `<li>${esc(u)}</li>`).join('')}</ul>` : ''}
<h2>Fields</h2><table><tr><th>Where</th><th>Field</th><th>Action</th><th>Note</th></tr>${rows}</table>
<h2>Associated images</h2><table><tr><th>Where</th><th>Kind</th><th>Action</th><th>Note</th></tr>${imgs}</table>
</body></html>`;
}
