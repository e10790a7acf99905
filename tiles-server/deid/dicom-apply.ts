/**
 * Applies the DICOM rules (dicom-rules.ts) to one instance's data set:
 * every element, in every item of every sequence it keeps, is kept,
 * deleted, emptied, replaced or rewritten by its rule; private tags go
 * unless a rule keeps them; an attribute no rule lists stops the slide
 * (fail closed) unless the profile deletes it. UIDs are re-mapped through
 * one table per slide, so references between its instances stay whole.
 * Removed values are collected for the verification scan; the report gets
 * one line per attribute and place (not one per frame).
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { DicomRule, DicomRules } from './dicom-rules.js';
import { elem, serializeElements, tagKey, tagText, TEXT_VRS, textOf, type DElem } from './dicom-data.js';
import type { Findings, FieldAction } from './report.js';

/** Marks the copies this tool writes (DeidentificationMethod), so a second run keeps their UIDs. */
export const METHOD_PREFIX = 'wsi-annotate deid';

const PATIENT_IDENTITY_REMOVED = 0x00120062;
const DEIDENTIFICATION_METHOD = 0x00120063;
const DEIDENTIFICATION_METHOD_CODES = 0x00120064;
const LONGITUDINAL_MODIFIED = 0x00280303;

/** Where a rule's replacement text may go, and how long it may be there. */
const TEXT_LIMITS: Record<string, number> = { LO: 64, SH: 16, PN: 64, LT: 10240, ST: 1024, UC: 0xfffffffe, UT: 0xfffffffe };
/** VRs whose kept values are remembered to tell PHI from kept metadata (words and UIDs; not numbers, dates or times). */
const WORDY_VRS = new Set(['AE', 'CS', 'LO', 'LT', 'PN', 'SH', 'ST', 'UC', 'UI', 'UT']);
/** Numbers: not what a byte scan can look for (a deleted weight may equal a kept spacing by chance). */
const NUMBER_VRS = new Set(['DS', 'IS', 'FL', 'FD', 'SS', 'US', 'SL', 'UL', 'SV', 'UV', 'AT', 'OF', 'OD', 'OL', 'OV']);

function printableRuns(b: Buffer, min: number): string[] {
  const out: string[] = [];
  const ascii = new RegExp(`[\\x20-\\x7e]{${min},}`, 'g');
  for (const m of b.toString('latin1').matchAll(ascii)) out.push(m[0]);
  const utf16 = new RegExp(`(?:[\\x20-\\x7e]\\x00){${min},}`, 'g');
  for (const m of b.toString('latin1').matchAll(utf16)) out.push(Buffer.from(m[0], 'latin1').toString('utf16le'));
  return out;
}

export class DicomRulesRun {
  /** Old UID → new, for the whole slide. */
  readonly uids = new Map<string, string>();
  private readonly salt = randomBytes(32);
  private readonly recorded = new Set<string>();
  private readonly keptSeen = new Set<string>();
  datesModified = false;
  privateKept = false;
  /** The input was written by this tool: its 2.25 UIDs are kept as they are (a second run changes nothing). */
  ownCopy = false;

  constructor(
    readonly f: Findings,
    readonly rules: DicomRules,
    readonly strict: boolean,
    readonly studyCode: string,
    readonly minValueLength: number,
    /** Dropped instances: nothing is refused or reported, every removed value is still collected for the scan. */
    readonly scratch = false,
  ) {}

  private record(where: string, field: string, action: FieldAction, note?: string): void {
    if (this.scratch) return;
    const key = `${where}\0${field}\0${action}`;
    if (this.recorded.has(key)) return;
    this.recorded.add(key);
    this.f.field(where, field, action, note);
  }

  private refuse(where: string, field: string, why: string, e: DElem): void {
    this.values(e, `${where} ${field}`);
    if (this.scratch) return;
    const key = `${where}\0${field}\0refused`;
    if (this.recorded.has(key)) return;
    this.recorded.add(key);
    this.f.refuse(where, field, why);
  }

  /** Every text an element holds (nested items too), whole and split at DICOM's value and name separators. */
  texts(e: DElem, out: string[] = []): string[] {
    if (e.items) {
      for (const item of e.items) for (const x of item) this.texts(x, out);
      return out;
    }
    if (NUMBER_VRS.has(e.vr)) return out;
    if (TEXT_VRS.has(e.vr)) {
      const t = textOf(e).trim();
      if (t) {
        out.push(t);
        for (const part of t.split(/[\\^=]/)) if (part.trim() && part.trim() !== t) out.push(part.trim());
      }
    } else if (e.value.length >= this.minValueLength) out.push(...printableRuns(e.value, this.minValueLength));
    return out;
  }

  /** Adds an element's texts to the values the output is scanned for. */
  private values(e: DElem, label: string): void {
    for (const v of this.texts(e)) if (!this.f.removedValues.has(v)) this.f.removedValues.set(v, label);
  }

  private kept(e: DElem): void {
    if (!WORDY_VRS.has(e.vr)) return;
    const t = textOf(e).trim();
    if (!t || this.keptSeen.has(t)) return;
    this.keptSeen.add(t);
    this.f.keptText.push(t);
  }

  newUid(old: string): string {
    if (this.ownCopy && /^2\.25\.\d{1,39}$/.test(old)) return old;
    let v = this.uids.get(old);
    if (!v) {
      const h = createHmac('sha256', this.salt).update(old).digest();
      v = `2.25.${BigInt(`0x${h.subarray(0, 16).toString('hex')}`).toString()}`;
      this.uids.set(old, v);
    }
    return v;
  }

  /** The rule for an element, as the profile applies it; null when none lists it. */
  private ruleFor(e: DElem): DicomRule | null {
    const rule = this.rules.attributes[tagKey(e.tag)];
    if (!rule) return null;
    if (this.strict && !rule.structural && (rule.action === 'keep' || rule.action === 'refuse')) return { ...rule, action: 'delete' };
    return rule;
  }

  /** A text replacement, if the VR can hold it; null (and the slide refused) when it cannot. */
  private replaced(where: string, field: string, e: DElem, text: string): DElem | null {
    const limit = TEXT_LIMITS[e.vr];
    if (limit === undefined || Buffer.byteLength(text) > limit) {
      this.refuse(where, field, `the rule writes ${Buffer.byteLength(text)} bytes into a ${e.vr} value, which cannot hold them`, e);
      return null;
    }
    return elem(e.tag, e.vr, text);
  }

  private rewriteEach(e: DElem, fn: (v: string) => string): DElem {
    const old = textOf(e);
    return elem(e.tag, e.vr, old.split('\\').map((v) => fn(v.trim())).join('\\'));
  }

  /** The data set after the rules; `where` names the place for the report ("instance 2 > OpticalPathSequence"). */
  apply(elems: DElem[], where: string, top: boolean): DElem[] {
    const out: DElem[] = [];
    for (const e of elems) {
      const group = e.tag >>> 16;
      const rule = this.ruleFor(e);
      const field = `${tagText(e.tag)} ${rule?.name ?? (group % 2 === 1 ? 'private' : 'attribute')}`;
      if ((e.tag & 0xffff) === 0 && !rule) {
        this.record(where, field.replace('attribute', 'group length'), 'deleted', 'group lengths are not written');
        continue;
      }
      if (!rule) {
        if (this.strict || (group % 2 === 1 ? this.rules.privateTags === 'delete' : this.rules.unlisted === 'delete')) {
          this.values(e, `${where} ${field}`);
          this.record(where, field, 'deleted', group % 2 === 1 ? 'private tag no rule keeps' : 'no rule lists this attribute');
        } else this.refuse(where, field, group % 2 === 1 ? 'private tag: no rule' : 'no rule', e);
        continue;
      }
      const fits = (vr: string): boolean => {
        if (e.vr === vr) return true;
        this.refuse(where, field, `the rule's action ${rule.action} does not fit VR ${e.vr}`, e);
        return false;
      };
      switch (rule.action) {
        case 'keep':
          if (e.items) {
            const name = `${where} > ${rule.name}`;
            out.push({ ...e, items: e.items.map((item) => this.apply(item, name, false)) });
          } else {
            this.kept(e);
            out.push(e);
          }
          if (group % 2 === 1) this.privateKept = true;
          this.record(where, field, 'kept');
          break;
        case 'delete':
          this.values(e, `${where} ${field}`);
          this.record(where, field, 'deleted');
          break;
        case 'refuse':
          this.refuse(where, field, rule.why ?? 'the rules refuse this attribute', e);
          break;
        case 'tool':
          // set again by the de-identifier (top level), or meaningless inside an item
          if (!top) {
            this.values(e, `${where} ${field}`);
            this.record(where, field, 'deleted');
          }
          break;
        case 'empty': {
          const empty = e.items ? e.items.length === 0 : e.value.length === 0;
          if (empty) {
            out.push(e);
            this.record(where, field, 'kept', 'empty already');
          } else {
            this.values(e, `${where} ${field}`);
            out.push(e.items ? { ...e, items: [] } : { ...e, value: Buffer.alloc(0) });
            this.record(where, field, 'rewritten', 'emptied');
          }
          break;
        }
        case 'study-code':
        case 'replace': {
          const text = rule.action === 'study-code' ? this.studyCode : (rule.value as string);
          if (!e.items && textOf(e).trim() === text) {
            out.push(e);
            this.kept(e);
            this.record(where, field, 'kept', rule.action === 'study-code' ? 'the study code already' : 'the dummy value already');
            break;
          }
          const next = e.items ? null : this.replaced(where, field, e, text);
          if (!next) {
            if (e.items) this.refuse(where, field, `a sequence cannot be replaced by text`, e);
            break;
          }
          this.values(e, `${where} ${field}`);
          this.kept(next);
          out.push(next);
          this.record(where, field, 'rewritten', rule.action === 'study-code' ? 'the study code' : 'a dummy value');
          break;
        }
        case 'uid': {
          if (!fits('UI')) break;
          const next = this.rewriteEach(e, (v) => (v ? this.newUid(v) : v));
          if (next.value.equals(e.value)) {
            out.push(e);
            this.record(where, field, 'kept', 'mapped by this tool already');
          } else {
            this.values(e, `${where} ${field}`);
            out.push(next);
            this.record(where, field, 'rewritten', 're-mapped, the same across the slide');
          }
          break;
        }
        case 'date':
        case 'time':
        case 'datetime': {
          const vr = rule.action === 'date' ? 'DA' : rule.action === 'time' ? 'TM' : 'DT';
          if (!fits(vr)) break;
          const next = this.rewriteEach(e, (v) => {
            if (!v) return v;
            if (rule.action === 'time') return '000000';
            const y = /^(\d{4})/.exec(v)?.[1];
            if (!y) return '';
            return rule.action === 'date' ? `${y}0101` : `${y}0101000000`;
          });
          if (next.value.equals(e.value)) {
            out.push(e);
            this.record(where, field, 'kept', rule.action === 'time' ? 'zero already' : 'year only already');
          } else {
            this.datesModified = true;
            // the scan looks for the full date and time, not for a year or an hour that may remain
            if (textOf(e).trim().length >= 8) this.values(e, `${where} ${field}`);
            out.push(next);
            this.record(where, field, 'rewritten', rule.action === 'time' ? 'time zeroed' : 'year kept');
          }
          break;
        }
      }
    }
    return out;
  }

  /** The Patient Identity Removed and De-identification Method attributes (PS3.15 E.1.1), given what the input had. */
  toolElements(input: DElem[], rulesVersion: string, profile: string, where: string): DElem[] {
    const had = (tag: number): string => textOf(input.find((x) => x.tag === tag) ?? elem(tag, 'CS', '')).trim();
    const modified = this.datesModified || had(LONGITUDINAL_MODIFIED) === 'MODIFIED';
    const code = (value: string, meaning: string): DElem[] => [elem(0x00080100, 'SH', value), elem(0x00080102, 'SH', 'DCM'), elem(0x00080104, 'LO', meaning)];
    const codes = [code('113100', 'Basic Application Confidentiality Profile')];
    if (modified) codes.push(code('113107', 'Retain Longitudinal Temporal Information Modified Dates Option'));
    if (this.privateKept) codes.push(code('113111', 'Retain Safe Private Option'));
    const out = [
      elem(PATIENT_IDENTITY_REMOVED, 'CS', 'YES'),
      elem(DEIDENTIFICATION_METHOD, 'LO', `${METHOD_PREFIX} ${rulesVersion} ${profile}`.slice(0, 64)),
      { tag: DEIDENTIFICATION_METHOD_CODES, vr: 'SQ', value: Buffer.alloc(0), items: codes },
    ];
    if (modified) out.push(elem(LONGITUDINAL_MODIFIED, 'CS', 'MODIFIED'));
    for (const t of out) {
      const before = input.find((x) => x.tag === t.tag);
      const name = this.rules.attributes[tagKey(t.tag)]?.name ?? 'attribute';
      const same = before !== undefined && Buffer.concat(serializeElements([before])).equals(Buffer.concat(serializeElements([t])));
      this.record(where, `${tagText(t.tag)} ${name}`, same ? 'kept' : 'rewritten', 'set by the de-identifier');
    }
    return out;
  }

  /** Whether an instance says it was written by this tool (then its 2.25 UIDs are its own). */
  static isOwnCopy(body: DElem[]): boolean {
    const get = (tag: number): string => {
      const e = body.find((x) => x.tag === tag);
      return e ? textOf(e).trim() : '';
    };
    return get(PATIENT_IDENTITY_REMOVED) === 'YES' && get(DEIDENTIFICATION_METHOD).startsWith(METHOD_PREFIX);
  }
}
