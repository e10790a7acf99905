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
import { ANNOTATION_KINDS, type Annotation, type Geometry, type Position } from './annotation.js';
import type { PackedPage, LeanRecord } from './annotation-pages.js';
import { WsiError } from './errors.js';
import { GeomType, unflatten, type GeomTypeCode } from './flat-geometry.js';

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
const SURROGATE = /[\ud800-\udfff]/;

/** Builds the string table: each distinct string once (classes, authors and times repeat across a page). */
class Strings {
  readonly parts: string[] = [];
  readonly at: number[] = [0];
  private units = 0;
  private readonly index = new Map<string, number>();

  /** A string that repeats (a class, an author): looked up first. */
  put(s: string | null | undefined): number {
    if (s === null || s === undefined) return -1;
    const k = this.index.get(s);
    if (k !== undefined) return k;
    const added = this.add(s);
    this.index.set(s, added);
    return added;
  }

  /** A string that is not repeated (an object's id, a corrected object's parent): no look-up. */
  putOnce(s: string | null | undefined): number {
    return s === null || s === undefined ? -1 : this.add(s);
  }

  private add(s: string): number {
    // a lone surrogate would decode as U+FFFD anyway; writing it so keeps the offsets exact
    const safe = SURROGATE.test(s) ? s.replace(LONE_SURROGATE, '\ufffd') : s;
    const k = this.parts.length;
    this.parts.push(safe);
    this.units += safe.length;
    this.at.push(this.units);
    return k;
  }
}

/** Doubles and parts an outline takes (flat-geometry.ts), counted without building it. */
function sizeOf(g: Geometry): [number, number] {
  const c = g.coordinates;
  switch (g.type) {
    case 'Point':
      return [2, 0];
    case 'MultiPoint':
    case 'LineString':
      return [(c as Position[]).length * 2, 0];
    case 'Polygon': {
      let n = 0;
      for (const r of c as Position[][]) n += r.length;
      return [n * 2, (c as Position[][]).length];
    }
    case 'MultiPolygon': {
      let n = 0;
      let p = 0;
      for (const poly of c as Position[][][]) {
        p += 1 + poly.length;
        for (const r of poly) n += r.length;
      }
      return [n * 2, p];
    }
  }
}

function putRing(r: Position[], coords: Float64Array, c: number): number {
  for (let i = 0; i < r.length; i++) {
    const q = r[i] as Position;
    coords[c++] = q[0];
    coords[c++] = q[1];
  }
  return c;
}

/** Writes an outline flat (as flat-geometry.ts's flatten) at coords[c…] and parts[p…]; returns its type code. */
function writeFlat(g: Geometry, coords: Float64Array, c: number, parts: Uint32Array, p: number): number {
  switch (g.type) {
    case 'Point':
      coords[c] = g.coordinates[0];
      coords[c + 1] = g.coordinates[1];
      return GeomType.Point;
    case 'MultiPoint':
    case 'LineString':
      putRing(g.coordinates, coords, c);
      return g.type === 'MultiPoint' ? GeomType.MultiPoint : GeomType.LineString;
    case 'Polygon':
      for (const r of g.coordinates) {
        parts[p++] = r.length;
        c = putRing(r, coords, c);
      }
      return GeomType.Polygon;
    case 'MultiPolygon':
      for (const poly of g.coordinates) {
        parts[p++] = poly.length;
        for (const r of poly) {
          parts[p++] = r.length;
          c = putRing(r, coords, c);
        }
      }
      return GeomType.MultiPolygon;
  }
}

/** A frame's columns before they are laid out: what both encoders below hand to `assemble`. */
interface FrameParts {
  n: number;
  coords: Float64Array;
  coordCount: number;
  parts: Uint32Array;
  partCount: number;
  coordAt: ArrayLike<number>;
  partAt: ArrayLike<number>;
  score: ArrayLike<number>;
  version: ArrayLike<number>;
  type: ArrayLike<number>;
  kind: ArrayLike<number>;
  flags: ArrayLike<number>;
  cols: ArrayLike<number>[];
  strings: Strings;
}

/** Lays the columns out as one frame (header, aligned sections, text). */
function assemble(f: FrameParts, next: number | null, total: number): Uint8Array {
  const { n, coordCount, partCount, strings } = f;
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
  new Float64Array(buf, L['coords'], coordCount).set(f.coords.subarray(0, coordCount));
  new Uint32Array(buf, L['parts'], partCount).set(f.parts.subarray(0, partCount));
  new Float64Array(buf, L['score'], n).set(f.score);
  new Uint32Array(buf, L['coordAt'], n + 1).set(f.coordAt);
  new Uint32Array(buf, L['partAt'], n + 1).set(f.partAt);
  new Uint32Array(buf, L['version'], n).set(f.version);
  new Uint8Array(buf, L['type'], n).set(f.type);
  new Uint8Array(buf, L['kind'], n).set(f.kind);
  new Uint8Array(buf, L['flags'], n).set(f.flags);
  STRING_COLUMNS.forEach((name, k) => new Int32Array(buf, L[name], n).set(f.cols[k] as ArrayLike<number>));
  new Uint32Array(buf, L['strAt'], strings.at.length).set(strings.at);
  bytes.set(text, L['text']);
  return bytes;
}

/** An object's flags byte. */
function flagsOf(a: Annotation): number {
  const provenance = a.source !== undefined && a.source !== 'manual';
  return (a.locked ? FLAG_LOCKED : 0) | (a.readOnly === true ? FLAG_READ_ONLY : 0) | (provenance ? FLAG_PROVENANCE : 0);
}

/** Puts an object's strings in the table; their indices, in STRING_COLUMNS order, into cols[k][i]. */
function putStrings(a: Annotation, strings: Strings, cols: Array<Int32Array | number[]>, i: number): void {
  const provenance = a.source !== undefined && a.source !== 'manual';
  const [cId, cClass, cName, cNote, cType, cBy, cAt, cSource, cParent] = cols as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array];
  cId[i] = strings.putOnce(a.id);
  cClass[i] = strings.put(a.classification);
  cName[i] = strings.put(a.name);
  cNote[i] = strings.put(a.note);
  cType[i] = strings.put(a.objectType);
  cBy[i] = strings.put(a.createdBy);
  cAt[i] = strings.put(a.updatedAt);
  cSource[i] = strings.put(provenance ? a.source : null);
  cParent[i] = strings.putOnce(provenance ? (a.parent ?? null) : null);
}

/**
 * Encodes one page of the listing as a frame: the outlines are written
 * straight into the frame (no flat copy of each first), the strings once each.
 */
export function encodeColumnarPage(annotations: readonly Annotation[], next: number | null, total: number): Uint8Array {
  const n = annotations.length;
  const coordAt = new Uint32Array(n + 1);
  const partAt = new Uint32Array(n + 1);
  const strings = new Strings();
  const cols = STRING_COLUMNS.map(() => new Int32Array(n));
  for (let i = 0; i < n; i++) {
    const a = annotations[i] as Annotation;
    const [nc, np] = sizeOf(a.geometry);
    coordAt[i + 1] = (coordAt[i] as number) + nc;
    partAt[i + 1] = (partAt[i] as number) + np;
    putStrings(a, strings, cols, i);
  }
  const coordCount = coordAt[n] as number;
  const partCount = partAt[n] as number;
  const coords = new Float64Array(coordCount);
  const parts = new Uint32Array(partCount);
  const score = new Float64Array(n);
  const version = new Uint32Array(n);
  const type = new Uint8Array(n);
  const kind = new Uint8Array(n);
  const flags = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const a = annotations[i] as Annotation;
    type[i] = writeFlat(a.geometry, coords, coordAt[i] as number, parts, partAt[i] as number);
    score[i] = a.score ?? Number.NaN;
    version[i] = a.version;
    kind[i] = Math.max(0, ANNOTATION_KINDS.indexOf(a.kind));
    flags[i] = flagsOf(a);
  }
  return assemble({ n, coords, coordCount, parts, partCount, coordAt, partAt, score, version, type, kind, flags, cols, strings }, next, total);
}

/**
 * A frame built one object at a time (the import frames a model run's
 * predictions as it reads them, store/prediction-blocks.ts): each outline
 * is copied into growing typed arrays when added, so nothing of the object
 * is kept.
 */
export class ColumnarFrameBuilder {
  private coords: Float64Array = new Float64Array(1 << 16);
  private parts: Uint32Array = new Uint32Array(1 << 12);
  private readonly coordAt: number[] = [0];
  private readonly partAt: number[] = [0];
  private readonly score: number[] = [];
  private readonly version: number[] = [];
  private readonly type: number[] = [];
  private readonly kind: number[] = [];
  private readonly flags: number[] = [];
  private readonly cols: number[][] = STRING_COLUMNS.map(() => []);
  private readonly strings = new Strings();

  /** Objects added so far. */
  get size(): number {
    return this.score.length;
  }

  add(a: Annotation): void {
    const i = this.score.length;
    const c = this.coordAt[i] as number;
    const p = this.partAt[i] as number;
    const [nc, np] = sizeOf(a.geometry);
    if (c + nc > this.coords.length) this.coords = grow(this.coords, c + nc) as Float64Array;
    if (p + np > this.parts.length) this.parts = grow(this.parts, p + np) as Uint32Array;
    this.type.push(writeFlat(a.geometry, this.coords, c, this.parts, p));
    this.coordAt.push(c + nc);
    this.partAt.push(p + np);
    this.score.push(a.score ?? Number.NaN);
    this.version.push(a.version);
    this.kind.push(Math.max(0, ANNOTATION_KINDS.indexOf(a.kind)));
    this.flags.push(flagsOf(a));
    putStrings(a, this.strings, this.cols, i);
  }

  finish(next: number | null, total: number): Uint8Array {
    const n = this.score.length;
    return assemble(
      { n, coords: this.coords, coordCount: this.coordAt[n] as number, parts: this.parts, partCount: this.partAt[n] as number, coordAt: this.coordAt, partAt: this.partAt, score: this.score, version: this.version, type: this.type, kind: this.kind, flags: this.flags, cols: this.cols, strings: this.strings },
      next,
      total,
    );
  }
}

/** A typed array at least `need` long (doubled), its contents kept. */
function grow(a: Float64Array | Uint32Array, need: number): Float64Array | Uint32Array {
  let len = a.length * 2;
  while (len < need) len *= 2;
  const b = a instanceof Float64Array ? new Float64Array(len) : new Uint32Array(len);
  b.set(a);
  return b;
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
 * A decoded frame as columns (what the session's store takes in bulk, with
 * no object per row): the typed arrays are views on the frame's one buffer
 * (transferring `coords.buffer` transfers them all); `strings` is the table
 * the string columns index (-1: null). Every index and code is checked.
 */
export interface ColumnarColumns {
  n: number;
  next: number | null;
  total: number;
  types: Uint8Array;
  kind: Uint8Array;
  /** 1 locked, 2 read-only (a prediction), 4 has provenance. */
  flags: Uint8Array;
  version: Uint32Array;
  score: Float64Array;
  coords: Float64Array;
  coordAt: Uint32Array;
  parts: Uint32Array;
  partAt: Uint32Array;
  strings: string[];
  id: Int32Array;
  classification: Int32Array;
  name: Int32Array;
  note: Int32Array;
  objectType: Int32Array;
  createdBy: Int32Array;
  updatedAt: Int32Array;
  source: Int32Array;
  parent: Int32Array;
}

export const COLUMN_LOCKED = FLAG_LOCKED;
export const COLUMN_READ_ONLY = FLAG_READ_ONLY;
export const COLUMN_PROVENANCE = FLAG_PROVENANCE;

/**
 * Decodes one whole frame (exactly `bytes`) into columns. The columns are
 * views on `bytes.buffer` (copied first when the frame does not start on an
 * 8-byte boundary).
 */
export function decodeColumnarColumns(input: Uint8Array): ColumnarColumns {
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
  const coordAt = new Uint32Array(buf, at('coordAt'), n + 1);
  const partAt = new Uint32Array(buf, at('partAt'), n + 1);
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
  const strings = new Array<string>(stringCount);
  for (let k = 0; k < stringCount; k++) strings[k] = text.slice(strAt[k] as number, strAt[k + 1] as number);
  const col = (name: (typeof STRING_COLUMNS)[number], required: boolean): Int32Array => {
    const c = new Int32Array(buf, at(name), n);
    for (let i = 0; i < n; i++) {
      const k = c[i] as number;
      if (k === -1 && !required) continue;
      if (k < 0 || k >= stringCount) throw bad(`object ${i}: string index ${k} is out of the table`);
    }
    return c;
  };
  const out: ColumnarColumns = {
    n,
    next: nextRaw === -1 ? null : nextRaw,
    total,
    types,
    kind,
    flags,
    version: new Uint32Array(buf, at('version'), n),
    score: new Float64Array(buf, at('score'), n),
    coords: new Float64Array(buf, at('coords'), coordCount),
    coordAt,
    parts: new Uint32Array(buf, at('parts'), partCount),
    partAt,
    strings,
    id: col('id', true),
    classification: col('classification', false),
    name: col('name', false),
    note: col('note', false),
    objectType: col('objectType', true),
    createdBy: col('createdBy', true),
    updatedAt: col('updatedAt', true),
    source: new Int32Array(buf, at('source'), n),
    parent: new Int32Array(buf, at('parent'), n),
  };
  for (let i = 0; i < n; i++) {
    const t = types[i] as number;
    if (t < 1 || t > 5) throw bad(`object ${i}: geometry type ${t}`);
    if (ANNOTATION_KINDS[kind[i] as number] === undefined) throw bad(`object ${i}: kind ${kind[i]}`);
    // source and parent are read only for objects with provenance: source is then required
    const f = flags[i] as number;
    const src = out.source[i] as number;
    const par = out.parent[i] as number;
    if (f & FLAG_PROVENANCE) {
      if (src < 0 || src >= stringCount) throw bad(`object ${i}: string index ${src} is out of the table`);
      if (par !== -1 && (par < 0 || par >= stringCount)) throw bad(`object ${i}: string index ${par} is out of the table`);
    }
  }
  return out;
}

/** The record of row `i` of decoded columns (what the JSON path's packed page holds). */
export function columnRecord(p: ColumnarColumns, i: number): LeanRecord {
  const str = (c: Int32Array): string | null => {
    const k = c[i] as number;
    return k === -1 ? null : (p.strings[k] as string);
  };
  const f = p.flags[i] as number;
  const r: LeanRecord = {
    id: str(p.id) as string,
    kind: ANNOTATION_KINDS[p.kind[i] as number] as LeanRecord['kind'],
    classification: str(p.classification),
    name: str(p.name),
    note: str(p.note),
    locked: (f & FLAG_LOCKED) !== 0,
    objectType: str(p.objectType) as string,
    version: p.version[i] as number,
    createdBy: str(p.createdBy) as string,
    updatedAt: str(p.updatedAt) as string,
  };
  if (f & FLAG_PROVENANCE) {
    r.source = str(p.source) as string;
    r.parent = str(p.parent);
    const s = p.score[i] as number;
    r.score = Number.isNaN(s) ? null : s;
    r.readOnly = (f & FLAG_READ_ONLY) !== 0;
  }
  return r;
}

/**
 * Decodes one whole frame (exactly `bytes`) into a packed page. The
 * geometry columns are views on `bytes.buffer` (copied first when the frame
 * does not start on an 8-byte boundary), so transferring the page
 * transfers the frame.
 */
export function decodeColumnarPage(input: Uint8Array): PackedPage {
  const p = decodeColumnarColumns(input);
  const records = new Array<LeanRecord>(p.n);
  for (let i = 0; i < p.n; i++) records[i] = columnRecord(p, i);
  return { records, types: p.types, coords: p.coords, coordAt: p.coordAt, parts: p.parts, partAt: p.partAt, next: p.next, total: p.total };
}

/**
 * Sets a stored frame's cursor and total in place (the server keeps a model
 * run's predictions as frames, tiles-server/store/prediction-blocks.ts, and
 * sends them with the listing's own cursor and count).
 */
export function setFrameCursor(frame: Uint8Array, next: number | null, total: number): Uint8Array {
  columnarFrameLength(frame);
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  dv.setFloat64(16, next ?? -1, true);
  dv.setFloat64(24, total, true);
  return frame;
}

/** The objects of decoded columns (their outlines rebuilt), for re-encoding a subset. */
function columnsToAnnotations(p: ColumnarColumns, keep: (i: number, id: string) => boolean, rename: ReadonlyMap<number, string>): Annotation[] {
  const out: Annotation[] = [];
  for (let i = 0; i < p.n; i++) {
    const id = p.strings[p.id[i] as number] as string;
    if (!keep(i, id)) continue;
    const r = columnRecord(p, i);
    const geometry = unflatten({
      type: p.types[i] as GeomTypeCode,
      coords: p.coords.subarray(p.coordAt[i] as number, p.coordAt[i + 1] as number),
      parts: p.parts.subarray(p.partAt[i] as number, p.partAt[i + 1] as number),
    });
    const a: Annotation = {
      id: rename.get(i) ?? id,
      kind: r.kind,
      geometry,
      classification: r.classification,
      name: r.name,
      note: r.note,
      locked: r.locked,
      objectType: r.objectType,
      properties: {},
      version: r.version,
      deleted: false,
      createdBy: r.createdBy,
      createdAt: r.updatedAt,
      updatedBy: r.createdBy,
      updatedAt: r.updatedAt,
    };
    if (r.source !== undefined) {
      a.source = r.source;
      a.parent = r.parent ?? null;
      a.score = r.score ?? null;
      a.readOnly = r.readOnly === true;
    }
    out.push(a);
  }
  return out;
}

/**
 * A frame re-encoded with only the objects `keep` accepts (by position and
 * id) and ids replaced as `rename` says (position → new id: a file may
 * repeat an id, and only the repeat is renamed); the frame is checked as it
 * is decoded (COLUMNAR_INVALID when truncated or inconsistent).
 */
export function rewriteColumnarFrame(
  frame: Uint8Array,
  opts: { keep?: (i: number, id: string) => boolean; rename?: ReadonlyMap<number, string>; next?: number | null; total?: number },
): Uint8Array {
  const p = decodeColumnarColumns(frame);
  const kept = columnsToAnnotations(p, opts.keep ?? (() => true), opts.rename ?? new Map());
  return encodeColumnarPage(kept, opts.next !== undefined ? opts.next : p.next, opts.total ?? p.total);
}
