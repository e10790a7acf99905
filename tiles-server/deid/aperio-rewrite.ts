/**
 * De-identifies an Aperio ImageDescription (it appears in every IFD of an
 * SVS, with the key list repeated): the header lines are kept only when
 * they are scanner names and geometry; each `key = value` pair is kept,
 * reduced to its year, or deleted as the rules say, and every key no rule
 * lists (custom fields) follows `aperio.otherKeys`. The kept text is
 * rebuilt in Aperio's own `|key = value` form.
 */
import type { Findings } from './report.js';
import { yearOnly, type DeidRules } from './rules.js';

/**
 * The scanner and library line: "Aperio Image Library v11.2.1", "Aperio Leica Biosystems GT450 v1.0.1".
 * Known wordings only, with a version: free words after "Aperio" could be a name.
 */
export const APERIO_VENDOR_LINE = /^Aperio (?:Image Library|Leica Biosystems [A-Z0-9]+(?: [A-Z0-9]+){0,2}|ScanScope [A-Z0-9]+) v\d+(?:\.\d+){0,3}$/;

const HEADER_PIECES: readonly RegExp[] = [
  APERIO_VENDOR_LINE,
  // geometry, its tokens in the orders writers use: "46000x32914 [0,100 46000x32914] (256x256) JPEG/RGB Q=30",
  // "46000x32914 -> 11500x8228 - ", "16384x16384 (256x256) JPEG/YCC Q=85 -> 512x512 - "; codecs by known names only
  /^\d+x\d+(?: +(?:\[\d+,\d+ \d+x\d+\]|\(\d+x\d+\)|->|-|\d+x\d+|(?:JPEG|J2K|JP2K|LZW|RAW)\/[A-Z]{2,5}|Q=\d+))* *$/,
  // associated images: "label 387x463", "macro 1280x431"
  /^(?:label|macro|thumbnail)(?: \d+x\d+)?$/i,
  /^$/,
];

function headerPieceOk(piece: string): boolean {
  const p = piece.trim();
  return HEADER_PIECES.some((re) => re.test(p));
}

/** Rewrites one Aperio description; `where` names its IFD in the report. */
export function rewriteAperioDescription(desc: string, where: string, rules: DeidRules, strict: boolean, f: Findings): string {
  const at = `${where} ImageDescription`;
  const [header = '', ...pairs] = desc.split('|');
  // header lines, separated by CR LF or ';' (a description re-saved by a later library version)
  const pieces = header.split(/\r?\n|;/);
  const keptPieces: string[] = [];
  let headerChanged = false;
  for (const piece of pieces) {
    if (headerPieceOk(piece)) {
      keptPieces.push(piece);
      continue;
    }
    headerChanged = true;
    if (strict) f.removed(at, 'Aperio header line', 'deleted', piece, 'not a scanner name or geometry (strict profile)');
    else f.refuse(at, 'Aperio header line', 'a header line that is neither a scanner name nor geometry');
  }
  let outHeader = header;
  if (headerChanged) outHeader = keptPieces.filter((p) => p.trim()).join('\r\n') || 'Aperio Image Library';

  const keep = new Set(rules.aperio.keep);
  const year = new Set(rules.aperio.yearOnly);
  const del = new Set(rules.aperio.delete);
  const out: string[] = [outHeader];
  let custom = 0;
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq < 0) {
      if (!pair.trim()) continue;
      if (strict || rules.aperio.otherKeys === 'delete') f.removed(at, 'Aperio text without "="', 'deleted', pair);
      else f.refuse(at, 'Aperio text without "="', 'not a key = value pair');
      continue;
    }
    const key = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const field = `Aperio ${key}`;
    if (keep.has(key)) {
      f.field(at, field, 'kept');
      f.keptText.push(value);
      out.push(`${key} = ${value}`);
    } else if (year.has(key)) {
      const y = yearOnly(value);
      if (y === null) {
        f.removed(at, field, 'deleted', value, 'date in an unknown form');
      } else if (y === value) {
        f.field(at, field, 'kept', 'year only already');
        out.push(`${key} = ${y}`);
      } else {
        f.removed(at, field, 'rewritten', value, 'year kept, day and month set to 01/01');
        out.push(`${key} = ${y}`);
      }
    } else if (del.has(key)) {
      f.removed(at, field, 'deleted', value);
    } else if (strict || rules.aperio.otherKeys === 'delete') {
      // a custom key's name may itself be PHI ("Patient Doe"): the report numbers it instead
      custom++;
      f.removed(at, `Aperio custom field ${custom}`, 'deleted', value, `custom key of ${key.length} characters`);
      if (!f.removedValues.has(key)) f.removedValues.set(key, `${at} Aperio custom field ${custom} (its key)`);
    } else {
      f.refuse(at, field, 'a custom key no rule lists');
    }
  }
  return out.join('|');
}
