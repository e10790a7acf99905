/**
 * The binary columnar form of a page of annotations (issue 13: a million
 * predicted cells cannot cross the network as JSON in time). The server
 * encodes a page of its listing into one frame; the browser's loader
 * worker decodes the frame straight into the packed page the store takes
 * (annotation-pages.ts), its geometry columns being views on the frame's
 * own bytes: no JSON, no GeoJSON objects. Pure, so the server, the worker
 * and the tests share it. Format "WSCA" version 1, little-endian, described
 * in README (Formats) and below; a frame that is truncated, of another
 * version, or whose lengths do not add up is refused with
 * WsiError('COLUMNAR_INVALID'), never read past its end.
 *
 *   header (48 bytes):
 *     0  'WSCA'            4 ASCII bytes
 *     4  u16 version       1
 *     6  u16 flags         0 (reserved)
 *     8  u32 n             objects in the frame
 *    12  u32 frameBytes    the whole frame, header included
 *    16  f64 next          the listing's cursor for the next page, -1 for none
 *    24  f64 total         objects of the slide the caller may see
 *    32  u32 coordCount    doubles in `coords`
 *    36  u32 partCount     entries in `parts`
 *    40  u32 stringCount   entries in the string table
 *    44  u32 textUnits     UTF-16 code units of the joined strings
 *   sections, in this order, each starting on an 8-byte boundary (zero padding):
 *     coords  f64[coordCount]   x,y of every object back to back (flat-geometry.ts)
 *     score   f64[n]            a prediction's score; NaN for none
 *     coordAt u32[n+1]          object i's coords are coords[coordAt[i] … coordAt[i+1])
 *     partAt  u32[n+1]          the same for parts
 *     parts   u32[partCount]
 *     version u32[n]
 *     id, classification, name, note, objectType, createdBy, updatedAt, source, parent:
 *             i32[n] each       an index into the string table; -1 for null
 *     strAt   u32[stringCount+1] string k is text[strAt[k] … strAt[k+1]) in UTF-16 code units
 *     type    u8[n]             flat geometry type 1–5
 *     kind    u8[n]             index into ANNOTATION_KINDS
 *     flags   u8[n]             1 locked, 2 read-only (a prediction), 4 has provenance (source/parent/score set)
 *     text    UTF-8 bytes       the strings joined (unpaired surrogates written as U+FFFD)
 */
import { ANNOTATION_KINDS, type Annotation } from './annotation.js';
import type { PackedPage, LeanRecord } from './annotation-pages.js';
import { WsiError } from './errors.js';
import { flatten } from './flat-geometry.js';

export const COLUMNAR_MAGIC = 'WSCA';
export const COLUMNAR_VERSION = 1;
export const COLUMNAR_MEDIA_TYPE = 'application/vnd.wsi.annotations+columnar';
const HEADER = 48;
const STRING_COLUMNS = ['id', 'classification', 'name', 'note', 'objectType', 'createdBy', 'updatedAt', 'source', 'parent'] as const;
const FLAG_LOCKED = 1;
const FLAG_READ_ONLY = 2;
const FLAG_PROVENANCE = 4;
/** Largest frame a decoder accepts (1 GiB): a hostile length cannot make it allocate more. */
export const MAX_FRAME_BYTES = 1 << 30;

const align8 = (n: number): number => (n + 7) & ~7;

function bad(message: string): WsiError {
  return new WsiError('COLUMNAR_INVALID', `annotation frame: ${message}`);
}

/** Section byte offsets for a frame of these sizes; `end` is the frame's length. */
export function columnarLayout(n: number, coordCount: number, partCount: number, stringCount: number, textBytes: number): Record<string, number> {
  let at = HEADER;
  const out: Record<string, number> = {};
  const put = (name: string, bytes: number): void => {
    at = align8(at);
    out[name] = at;
    at += bytes;
  };
  put('coords', coordCount * 8);
  put('score', n * 8);
  put('coordAt', (n + 1) * 4);
  put('partAt', (n + 1) * 4);
  put('parts', partCount * 4);
  put('version', n * 4);
  for (const c of STRING_COLUMNS) put(c, n * 4);
  put('strAt', (stringCount + 1) * 4);
  put('type', n);
  put('kind', n);
  put('flags', n);
  put('text', textBytes);
  out['end'] = at;
  return out;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Builds the string table: each distinct string once (classes, authors and times repeat across a page). */
class Strings {
  readonly parts: string[] = [];
  readonly at: number[] = [0];
  private units = 0;
  private readonly index = new Map<string, number>();

  put(s: string | null | undefined): number {
    if (s === null || s === undefined) return -1;
    let k = this.index.get(s);
    if (k === undefined) {
      // a lone surrogate would decode as U+FFFD anyway; writing it so keeps the offsets exact
      const safe = s.replace(LONE_SURROGATE, '\ufffd');
      k = this.parts.length;
      this.parts.push(safe);
      this.units += safe.length;
      this.at.push(this.units);
      this.index.set(s, k);
    }
    return k;
  }
}

/** Encodes one page of the listing as a frame. */
export function encodeColumnarPage(annotations: readonly Annotation[], next: number | null, total: number): Uint8Array {
  const n = annotations.length;
  const flats = annotations.map((a) => flatten(a.geometry));
  let coordCount = 0;
  let partCount = 0;
  for (const f of flats) {
    coordCount += f.coords.length;
    partCount += f.parts.length;
  }
  const strings = new Strings();
  const cols = STRING_COLUMNS.map(() => new Int32Array(n));
  annotations.forEach((a, i) => {
    const provenance = a.source !== undefined && a.source !== 'manual';
    const values = [a.id, a.classification, a.name, a.note, a.objectType, a.createdBy, a.updatedAt, provenance ? a.source : null, provenance ? (a.parent ?? null) : null];
    values.forEach((v, c) => ((cols[c] as Int32Array)[i] = strings.put(v)));
  });
  const text = new TextEncoder().encode(strings.parts.join(''));
  const L = columnarLayout(n, coordCount, partCount, strings.parts.length, text.length);
  const end = L['end'] as number;
  if (end > MAX_FRAME_BYTES) throw new WsiError('PAYLOAD_TOO_LARGE', `a page of ${n} objects is over ${MAX_FRAME_BYTES} bytes; ask for fewer (limit)`);
  const buf = new ArrayBuffer(end);
  const bytes = new Uint8Array(buf);
  const dv = new DataView(buf);
  for (let k = 0; k < 4; k++) bytes[k] = COLUMNAR_MAGIC.charCodeAt(k);
  dv.setUint16(4, COLUMNAR_VERSION, true);
  dv.setUint16(6, 0, true);
  dv.setUint32(8, n, true);
  dv.setUint32(12, end, true);
  dv.setFloat64(16, next ?? -1, true);
  dv.setFloat64(24, total, true);
  dv.setUint32(32, coordCount, true);
  dv.setUint32(36, partCount, true);
  dv.setUint32(40, strings.parts.length, true);
  dv.setUint32(44, strings.at[strings.at.length - 1] as number, true);
  const coords = new Float64Array(buf, L['coords'], coordCount);
  const score = new Float64Array(buf, L['score'], n);
  const coordAt = new Uint32Array(buf, L['coordAt'], n + 1);
  const partAt = new Uint32Array(buf, L['partAt'], n + 1);
  const parts = new Uint32Array(buf, L['parts'], partCount);
  const version = new Uint32Array(buf, L['version'], n);
  const type = new Uint8Array(buf, L['type'], n);
  const kind = new Uint8Array(buf, L['kind'], n);
  const flags = new Uint8Array(buf, L['flags'], n);
  let c = 0;
  let p = 0;
  annotations.forEach((a, i) => {
    const f = flats[i] as ReturnType<typeof flatten>;
    coords.set(f.coords, c);
    parts.set(f.parts, p);
    c += f.coords.length;
    p += f.parts.length;
    coordAt[i + 1] = c;
    partAt[i + 1] = p;
    score[i] = a.score ?? Number.NaN;
    version[i] = a.version;
    type[i] = f.type;
    kind[i] = Math.max(0, ANNOTATION_KINDS.indexOf(a.kind));
    const provenance = a.source !== undefined && a.source !== 'manual';
    flags[i] = (a.locked ? FLAG_LOCKED : 0) | (a.readOnly === true ? FLAG_READ_ONLY : 0) | (provenance ? FLAG_PROVENANCE : 0);
  });
  STRING_COLUMNS.forEach((name, k) => new Int32Array(buf, L[name], n).set(cols[k] as Int32Array));
  new Uint32Array(buf, L['strAt'], strings.at.length).set(strings.at);
  bytes.set(text, L['text']);
  return bytes;
}

/** The frame's declared length, once its header is in (null: fewer than 16 bytes so far); checks magic and version. */
export function columnarFrameLength(bytes: Uint8Array): number | null {
  if (bytes.length < 16) return null;
  for (let k = 0; k < 4; k++) if (bytes[k] !== COLUMNAR_MAGIC.charCodeAt(k)) throw bad('not a WSCA frame (wrong magic)');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint16(4, true);
  if (version !== COLUMNAR_VERSION) throw bad(`version ${version} is not supported (this client reads version ${COLUMNAR_VERSION})`);
  const len = dv.getUint32(12, true);
  if (len < HEADER || len > MAX_FRAME_BYTES) throw bad(`frame length ${len} is out of range`);
  return len;
}

function monotonic(a: Uint32Array, last: number, what: string): void {
  if (a[0] !== 0) throw bad(`${what} must start at 0`);
  for (let i = 1; i < a.length; i++) if ((a[i] as number) < (a[i - 1] as number)) throw bad(`${what} goes backwards at ${i}`);
  if (a[a.length - 1] !== last) throw bad(`${what} ends at ${a[a.length - 1]}, not ${last}`);
}

/**
 * Decodes one whole frame (exactly `bytes`) into a packed page. The
 * geometry columns are views on `bytes.buffer` (copied first when the frame
 * does not start on an 8-byte boundary), so transferring the page
 * transfers the frame.
 */
export function decodeColumnarPage(input: Uint8Array): PackedPage {
  const len = columnarFrameLength(input);
  if (len === null || input.length < HEADER) throw bad(`truncated: ${input.length} bytes, not even a header`);
  if (input.length < len) throw bad(`truncated: ${input.length} of ${len} bytes`);
  if (input.length > len) throw bad(`${input.length - len} bytes after the frame's end`);
  const bytes = input.byteOffset % 8 === 0 ? input : input.slice();
  const buf = bytes.buffer;
  const base = bytes.byteOffset;
  const dv = new DataView(buf, base, len);
  const n = dv.getUint32(8, true);
  const nextRaw = dv.getFloat64(16, true);
  const total = dv.getFloat64(24, true);
  const coordCount = dv.getUint32(32, true);
  const partCount = dv.getUint32(36, true);
  const stringCount = dv.getUint32(40, true);
  const textUnits = dv.getUint32(44, true);
  // every count is bounded by the frame's length before anything is allocated from it
  if (n > len || coordCount > len / 8 || partCount > len / 4 || stringCount > len / 4) throw bad('a count is larger than the frame');
  // the text runs to the frame's end: everything before it is fixed by the counts
  const L = columnarLayout(n, coordCount, partCount, stringCount, 0);
  const fixed = L['end'] as number;
  if (fixed > len) throw bad(`the counts need ${fixed} bytes, the frame has ${len}`);
  if (!(Number.isInteger(nextRaw) && nextRaw >= -1) || !(Number.isInteger(total) && total >= 0)) throw bad('next or total is not a whole number');
  const at = (name: string): number => base + (L[name] as number);
  const coords = new Float64Array(buf, at('coords'), coordCount);
  const score = new Float64Array(buf, at('score'), n);
  const coordAt = new Uint32Array(buf, at('coordAt'), n + 1);
  const partAt = new Uint32Array(buf, at('partAt'), n + 1);
  const parts = new Uint32Array(buf, at('parts'), partCount);
  const version = new Uint32Array(buf, at('version'), n);
  const strAt = new Uint32Array(buf, at('strAt'), stringCount + 1);
  const types = new Uint8Array(buf, at('type'), n);
  const kind = new Uint8Array(buf, at('kind'), n);
  const flags = new Uint8Array(buf, at('flags'), n);
  monotonic(coordAt, coordCount, 'coordAt');
  monotonic(partAt, partCount, 'partAt');
  monotonic(strAt, textUnits, 'strAt');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(buf, at('text'), len - fixed));
  } catch {
    throw bad('the strings are not valid UTF-8');
  }
  if (text.length !== textUnits) throw bad(`the strings hold ${text.length} UTF-16 units, the header says ${textUnits}`);
  const table = new Array<string>(stringCount);
  for (let k = 0; k < stringCount; k++) table[k] = text.slice(strAt[k] as number, strAt[k + 1] as number);
  const cols = STRING_COLUMNS.map((name) => new Int32Array(buf, at(name), n));
  const str = (c: number, i: number, required: boolean): string | null => {
    const k = (cols[c] as Int32Array)[i] as number;
    if (k === -1 && !required) return null;
    if (k < 0 || k >= stringCount) throw bad(`object ${i}: string index ${k} is out of the table`);
    return table[k] as string;
  };
  const records = new Array<LeanRecord>(n);
  for (let i = 0; i < n; i++) {
    const t = types[i] as number;
    if (t < 1 || t > 5) throw bad(`object ${i}: geometry type ${t}`);
    const k = ANNOTATION_KINDS[kind[i] as number];
    if (k === undefined) throw bad(`object ${i}: kind ${kind[i]}`);
    const f = flags[i] as number;
    const r: LeanRecord = {
      id: str(0, i, true) as string,
      kind: k,
      classification: str(1, i, false),
      name: str(2, i, false),
      note: str(3, i, false),
      locked: (f & FLAG_LOCKED) !== 0,
      objectType: str(4, i, true) as string,
      version: version[i] as number,
      createdBy: str(5, i, true) as string,
      updatedAt: str(6, i, true) as string,
    };
    if (f & FLAG_PROVENANCE) {
      r.source = str(7, i, true) as string;
      r.parent = str(8, i, false);
      const s = score[i] as number;
      r.score = Number.isNaN(s) ? null : s;
      r.readOnly = (f & FLAG_READ_ONLY) !== 0;
    }
    records[i] = r;
  }
  return { records, types, coords, coordAt, parts, partAt, next: nextRaw === -1 ? null : nextRaw, total };
}
