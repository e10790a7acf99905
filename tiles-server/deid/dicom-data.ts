/**
 * The DICOM data model the de-identifier rewrites: a Part 10 file parsed
 * into its file meta group, the data set before Pixel Data as a tree
 * (sequences walked to a fixed depth), where Pixel Data lies (copied bit
 * for bit, never parsed into memory), and the elements after it; and the
 * serializer that writes such a tree back. The slide reader (dicom-header.ts)
 * reads only what it needs by range; the de-identifier must see every
 * element, every length checked against the bytes that hold it, so it has
 * its own strict parser. Explicit VR little endian only (every compressed
 * WSI transfer syntax is): implicit VR, big endian and deflated data sets
 * are refused with DEID_UNSUPPORTED_FORMAT.
 */
import { WsiError } from '../../src/core/errors.js';
import type { ByteSource } from '../tiff/byte-source.js';

export interface DElem {
  /** group << 16 | element. */
  tag: number;
  vr: string;
  /** The value bytes (empty for a sequence). */
  value: Buffer;
  /** The items of a sequence, each a list of elements; null for other VRs. */
  items: DElem[][] | null;
}

export interface PixelRange {
  /** The element's own header (tag, VR, length), re-emitted as it was. */
  header: Buffer;
  /** File offset and length of the value (for encapsulated data: the items and the sequence delimiter). */
  offset: number;
  length: number;
  encapsulated: boolean;
  /** Items in an encapsulated value, the Basic Offset Table included; 0 for native data. */
  items: number;
}

export interface ParsedDicom {
  transferSyntax: string;
  meta: DElem[];
  /** Top-level elements before Pixel Data. */
  body: DElem[];
  pixel: PixelRange | null;
  /** Top-level elements after Pixel Data (trailing padding and the like). */
  trailing: DElem[];
  size: number;
}

export const PIXEL_DATA = 0x7fe00010;
export const ITEM = 0xfffee000;
export const ITEM_END = 0xfffee00d;
export const SEQUENCE_END = 0xfffee0dd;

const REFUSED_SYNTAXES: Record<string, string> = {
  '1.2.840.10008.1.2': 'implicit VR little endian',
  '1.2.840.10008.1.2.2': 'explicit VR big endian',
  '1.2.840.10008.1.2.1.99': 'deflated explicit VR little endian',
};

/** VRs whose explicit-VR header has a 32-bit length. */
export const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const KNOWN_VRS = new Set([...LONG_VRS, 'AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FD', 'FL', 'IS', 'LO', 'LT', 'PN', 'SH', 'SL', 'SS', 'ST', 'TM', 'UI', 'UL', 'US']);
/** VRs holding text (decoded for the verification scan and for the rules). */
export const TEXT_VRS = new Set(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UI', 'UR', 'UT']);

/** Sequences nested deeper than this are refused (real WSI headers nest 4 or 5 deep). */
export const MAX_DEPTH = 12;
/** A header (everything before Pixel Data) larger than this is refused. */
export const MAX_HEADER_BYTES = 256 * 1024 * 1024;
/** Elements after Pixel Data larger than this (together) are refused. */
const MAX_TRAILING_BYTES = 16 * 1024 * 1024;
const FIRST_READ = 1024 * 1024;

export function tagText(tag: number): string {
  const h = (tag >>> 0).toString(16).toUpperCase().padStart(8, '0');
  return `(${h.slice(0, 4)},${h.slice(4)})`;
}

/** The 8-hex-digit key of a tag, as the rule file writes it. */
export function tagKey(tag: number): string {
  return (tag >>> 0).toString(16).toUpperCase().padStart(8, '0');
}

function invalid(message: string): WsiError {
  return new WsiError('DICOM_INVALID', message);
}

/** Thrown inside the parser when the bytes in hand end before the structure does. */
class NeedMore extends Error {
  constructor(readonly end: number) {
    super('need more');
  }
}

class Cursor {
  constructor(
    readonly buf: Buffer,
    /** Whether `buf` is the whole file (then running out is truncation, not a reason to read more). */
    readonly whole: boolean,
    readonly fileSize: number,
    /** File offset of buf[0]. */
    readonly base = 0,
  ) {}

  need(pos: number, n: number, what: string): void {
    if (pos + n <= this.buf.length) return;
    if (this.base + pos + n <= this.fileSize && !this.whole) throw new NeedMore(this.base + pos + n);
    throw new WsiError('DICOM_TRUNCATED', `${what} at byte ${this.base + pos} needs ${n} bytes; the file ends at ${this.fileSize}`, { offset: this.base + pos, fileSize: this.fileSize });
  }

  tag(pos: number): number {
    return ((this.buf.readUInt16LE(pos) << 16) | this.buf.readUInt16LE(pos + 2)) >>> 0;
  }
}

interface Header {
  tag: number;
  vr: string;
  length: number;
  size: number;
}

function readHeader(c: Cursor, pos: number): Header {
  c.need(pos, 8, 'an element header');
  const tag = c.tag(pos);
  if (tag >>> 16 === 0xfffe) return { tag, vr: '', length: c.buf.readUInt32LE(pos + 4), size: 8 };
  const vr = c.buf.toString('latin1', pos + 4, pos + 6);
  if (!KNOWN_VRS.has(vr)) {
    throw invalid(`element ${tagText(tag)} at byte ${c.base + pos} has no known VR ("${vr.replace(/[^\x20-\x7e]/g, '?')}"): not explicit VR little endian`);
  }
  if (LONG_VRS.has(vr)) {
    c.need(pos, 12, 'an element header');
    return { tag, vr, length: c.buf.readUInt32LE(pos + 8), size: 12 };
  }
  return { tag, vr, length: c.buf.readUInt16LE(pos + 6), size: 8 };
}

const UNDEFINED = 0xffffffff;

/** Parses elements from `pos` until `end` (defined length) or an item delimiter (undefined); returns them and where parsing stopped. */
function parseElements(
  c: Cursor,
  pos: number,
  end: number | null,
  depth: number,
  stop: (tag: number) => boolean,
): { elems: DElem[]; pos: number; stopped: boolean } {
  const elems: DElem[] = [];
  let last = -1;
  for (;;) {
    if (end !== null && pos >= end) {
      if (pos > end) throw invalid(`an item's elements run past the item's length (byte ${c.base + pos} > ${c.base + end})`);
      return { elems, pos, stopped: false };
    }
    if (end === null && c.whole && pos === c.buf.length) return { elems, pos, stopped: false };
    // the stop is decided on the tag alone: what follows the file meta group may be encoded otherwise (implicit VR)
    c.need(pos, 4, 'an element tag');
    const next = c.tag(pos);
    if (next >>> 16 !== 0xfffe && stop(next)) return { elems, pos, stopped: true };
    const h = readHeader(c, pos);
    if (h.tag === ITEM_END) {
      if (end !== null || depth === 0) throw invalid(`an item delimiter at byte ${c.base + pos} where none belongs`);
      return { elems, pos: pos + 8, stopped: false };
    }
    if (h.tag >>> 16 === 0xfffe) throw invalid(`a ${tagText(h.tag)} delimiter at byte ${c.base + pos} where an element belongs`);
    if (h.tag <= last) throw invalid(`element ${tagText(h.tag)} at byte ${c.base + pos} is out of order or repeated`);
    last = h.tag;
    const at = pos + h.size;
    if (h.vr === 'SQ') {
      if (depth + 1 > MAX_DEPTH) throw invalid(`sequence ${tagText(h.tag)} is nested ${depth + 1} deep; more than ${MAX_DEPTH} levels are refused`);
      if (h.length !== UNDEFINED) {
        c.need(at, h.length, `sequence ${tagText(h.tag)} (${h.length} bytes)`);
        if (end !== null && at + h.length > end) throw invalid(`sequence ${tagText(h.tag)} claims ${h.length} bytes, past the end of its item`);
      }
      const s = parseItems(c, at, h.length === UNDEFINED ? null : at + h.length, depth + 1, h.tag);
      elems.push({ tag: h.tag, vr: 'SQ', value: Buffer.alloc(0), items: s.items });
      pos = s.pos;
      continue;
    }
    if (h.length === UNDEFINED) throw invalid(`element ${tagText(h.tag)} (${h.vr}) has an undefined length where only a sequence may`);
    if (end !== null && at + h.length > end) {
      throw new WsiError('DICOM_TRUNCATED', `element ${tagText(h.tag)} claims ${h.length} bytes, past the end of its item`, { tag: tagText(h.tag), length: h.length });
    }
    c.need(at, h.length, `element ${tagText(h.tag)} (${h.length} bytes)`);
    // a view of the header buffer, not a copy (values are never changed in place)
    elems.push({ tag: h.tag, vr: h.vr, value: c.buf.subarray(at, at + h.length), items: null });
    pos = at + h.length;
  }
}

function parseItems(c: Cursor, pos: number, end: number | null, depth: number, seqTag: number): { items: DElem[][]; pos: number } {
  const items: DElem[][] = [];
  for (;;) {
    if (end !== null && pos >= end) {
      if (pos > end) throw invalid(`the items of sequence ${tagText(seqTag)} run past its length`);
      return { items, pos };
    }
    c.need(pos, 8, `an item of sequence ${tagText(seqTag)}`);
    const tag = c.tag(pos);
    const length = c.buf.readUInt32LE(pos + 4);
    if (tag === SEQUENCE_END) {
      if (end !== null) throw invalid(`a sequence delimiter inside the defined-length sequence ${tagText(seqTag)}`);
      return { items, pos: pos + 8 };
    }
    if (tag !== ITEM) throw invalid(`sequence ${tagText(seqTag)} holds ${tagText(tag)} at byte ${c.base + pos} where an item belongs`);
    const at = pos + 8;
    if (length === UNDEFINED) {
      const r = parseElements(c, at, null, depth, () => false);
      items.push(r.elems);
      pos = r.pos;
    } else {
      c.need(at, length, `an item of ${length} bytes in sequence ${tagText(seqTag)}`);
      if (end !== null && at + length > end) throw invalid(`an item of sequence ${tagText(seqTag)} claims ${length} bytes, past the end of the sequence`);
      const r = parseElements(c, at, at + length, depth, () => false);
      items.push(r.elems);
      pos = at + length;
    }
  }
}

/** A string value: trailing NUL and space padding removed. */
export function textOf(e: DElem): string {
  return e.value.toString('utf8').replace(/[\0 ]+$/, '');
}

function find(elems: DElem[], tag: number): DElem | undefined {
  return elems.find((e) => e.tag === tag);
}

export function stringAt(elems: DElem[], tag: number): string {
  const e = find(elems, tag);
  return e ? textOf(e).trim() : '';
}

/** Walks the encapsulated Pixel Data items by their headers through a read window; returns the value's length. */
async function walkFragments(src: ByteSource, offset: number): Promise<{ length: number; items: number }> {
  const WINDOW = 1024 * 1024;
  let winStart = 0;
  let win: Buffer = Buffer.alloc(0);
  const read8 = async (at: number): Promise<Buffer> => {
    if (at + 8 > src.size) throw new WsiError('DICOM_TRUNCATED', `the Pixel Data item header at byte ${at} runs past the end of the file (${src.size} bytes)`, { offset: at, fileSize: src.size });
    if (at < winStart || at + 8 > winStart + win.length) {
      winStart = at;
      win = await src.read(at, Math.min(WINDOW, src.size - at));
    }
    return win.subarray(at - winStart, at - winStart + 8);
  };
  let pos = offset;
  let items = 0;
  for (;;) {
    const h = await read8(pos);
    const tag = ((h.readUInt16LE(0) << 16) | h.readUInt16LE(2)) >>> 0;
    const length = h.readUInt32LE(4);
    if (tag === SEQUENCE_END) return { length: pos + 8 - offset, items };
    if (tag !== ITEM) throw new WsiError('DICOM_BAD_FRAME_TABLE', `the Pixel Data holds ${tagText(tag)} at byte ${pos} where an item belongs`);
    if (length === UNDEFINED || pos + 8 + length > src.size) {
      throw new WsiError('DICOM_TRUNCATED', `a Pixel Data item at byte ${pos} claims ${length === UNDEFINED ? 'an undefined length' : `${length} bytes`}, past the end of the file (${src.size} bytes)`, { offset: pos, fileSize: src.size });
    }
    items++;
    pos += 8 + length;
  }
}

/** Parses a Part 10 file: meta group, data set up to Pixel Data (a tree), Pixel Data's range, and what follows it. */
export async function parseDicomFile(src: ByteSource): Promise<ParsedDicom> {
  if (src.size < 132) throw invalid(`the file is ${src.size} bytes, too short for a DICOM file (no 128-byte preamble and DICM prefix)`);
  let n = Math.min(src.size, FIRST_READ);
  for (;;) {
    const buf = await src.read(0, n);
    if (buf.toString('latin1', 128, 132) !== 'DICM') throw invalid('not a DICOM file: no DICM prefix at byte 128');
    const c = new Cursor(buf, n === src.size, src.size);
    try {
      const meta = parseElements(c, 132, null, 0, (t) => t >>> 16 !== 0x0002);
      if (meta.elems.length === 0) throw invalid('the file has no file meta information (group 0002)');
      const ts = stringAt(meta.elems, 0x00020010);
      if (!ts) throw new WsiError('DICOM_MISSING_ATTRIBUTE', 'the file meta information has no TransferSyntaxUID (0002,0010)');
      const refusedTs = REFUSED_SYNTAXES[ts];
      if (refusedTs) throw new WsiError('DEID_UNSUPPORTED_FORMAT', `the data set is ${refusedTs} (${ts}); only explicit VR little endian data sets are de-identified`);
      if (!meta.stopped) return { transferSyntax: ts, meta: meta.elems, body: [], pixel: null, trailing: [], size: src.size };
      const body = parseElements(c, meta.pos, null, 0, (t) => t === PIXEL_DATA);
      if (!body.stopped) return { transferSyntax: ts, meta: meta.elems, body: body.elems, pixel: null, trailing: [], size: src.size };
      const h = readHeader(c, body.pos);
      const offset = body.pos + h.size;
      const header = Buffer.from(buf.subarray(body.pos, offset));
      if (h.vr !== 'OB' && h.vr !== 'OW') throw invalid(`Pixel Data has VR ${h.vr}, not OB or OW`);
      let pixel: PixelRange;
      if (h.length === UNDEFINED) {
        const w = await walkFragments(src, offset);
        pixel = { header, offset, length: w.length, encapsulated: true, items: w.items };
      } else {
        if (offset + h.length > src.size) {
          throw new WsiError('DICOM_TRUNCATED', `Pixel Data claims ${h.length} bytes at byte ${offset}, past the end of the file (${src.size} bytes)`, { offset, fileSize: src.size });
        }
        pixel = { header, offset, length: h.length, encapsulated: false, items: 0 };
      }
      const after = offset + pixel.length;
      let trailing: DElem[] = [];
      if (after < src.size) {
        if (src.size - after > MAX_TRAILING_BYTES) throw invalid(`${src.size - after} bytes follow Pixel Data; more than ${MAX_TRAILING_BYTES} are refused`);
        const tail = new Cursor(await src.read(after, src.size - after), true, src.size, after);
        const t = parseElements(tail, 0, null, 0, () => false);
        if (t.elems.some((e) => e.tag <= PIXEL_DATA)) throw invalid('an element after Pixel Data is out of order');
        trailing = t.elems;
      }
      return { transferSyntax: ts, meta: meta.elems, body: body.elems, pixel, trailing, size: src.size };
    } catch (err) {
      if (!(err instanceof NeedMore)) throw err;
      if (n >= MAX_HEADER_BYTES) throw invalid(`the DICOM header is larger than ${MAX_HEADER_BYTES} bytes`);
      n = Math.min(src.size, MAX_HEADER_BYTES, Math.max(n * 4, err.end + 65536));
    }
  }
}

/** A text value padded to even length as its VR wants (UI with NUL, others with a space). */
export function textValue(vr: string, s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  if (b.length % 2 === 0) return b;
  return Buffer.concat([b, Buffer.from(vr === 'UI' ? '\0' : ' ', 'latin1')]);
}

export function elem(tag: number, vr: string, value: string | Buffer): DElem {
  return { tag, vr, value: typeof value === 'string' ? textValue(vr, value) : value, items: null };
}

function headerBytes(tag: number, vr: string, length: number): Buffer {
  const long = LONG_VRS.has(vr);
  const h = Buffer.alloc(long ? 12 : 8);
  h.writeUInt16LE(tag >>> 16, 0);
  h.writeUInt16LE(tag & 0xffff, 2);
  h.write(vr, 4, 'latin1');
  if (long) h.writeUInt32LE(length, 8);
  else {
    if (length > 0xffff) throw new WsiError('DEID_UNSUPPORTED_FORMAT', `element ${tagText(tag)} (${vr}) would be ${length} bytes, more than its VR holds`);
    h.writeUInt16LE(length, 6);
  }
  return h;
}

function delimiter(tag: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16LE(tag >>> 16, 0);
  b.writeUInt16LE(tag & 0xffff, 2);
  return b;
}

/** Serializes elements in tag order (sequences and items with undefined lengths and delimiters). */
export function serializeElements(elems: DElem[], out: Buffer[] = []): Buffer[] {
  for (const e of [...elems].sort((a, b) => a.tag - b.tag)) {
    if (e.vr === 'SQ') {
      out.push(headerBytes(e.tag, 'SQ', UNDEFINED));
      for (const item of e.items ?? []) {
        const start = delimiter(ITEM);
        start.writeUInt32LE(UNDEFINED, 4);
        out.push(start);
        serializeElements(item, out);
        out.push(delimiter(ITEM_END));
      }
      out.push(delimiter(SEQUENCE_END));
      continue;
    }
    if (e.value.length % 2 !== 0) throw new WsiError('DEID_UNSUPPORTED_FORMAT', `element ${tagText(e.tag)} has an odd length (${e.value.length})`);
    out.push(headerBytes(e.tag, e.vr, e.value.length), e.value);
  }
  return out;
}

/** The file's first bytes: a zero preamble, DICM, and the file meta group with its group length. */
export function serializeMeta(meta: DElem[]): Buffer {
  const body = Buffer.concat(serializeElements(meta.filter((e) => e.tag !== 0x00020000)));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(body.length);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), ...serializeElements([elem(0x00020000, 'UL', length)]), body]);
}
