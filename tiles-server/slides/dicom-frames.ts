/**
 * Where each frame of one DICOM instance lies in its file. Native pixel
 * data is a fixed stride; encapsulated pixel data is located from the
 * Extended Offset Table, the Basic Offset Table, or (when both are empty)
 * by walking the item headers, reading 8 bytes at a time, never the pixels.
 * Every table entry and item length is checked against the file before it
 * is used, and each frame's items are checked again when it is read.
 */
import { WsiError } from '../../src/core/errors.js';
import type { ByteSource } from '../tiff/byte-source.js';
import { readRange, type DicomInstance } from './dicom-header.js';

const ITEM = 0xe000;
const SEQUENCE_DELIMITER = 0xe0dd;
/** Fragments a walk follows before it gives up on a table (a bomb of 8-byte items). */
const MAX_FRAGMENTS = 8_000_000;

function badTable(message: string, detail?: Record<string, unknown>): WsiError {
  return new WsiError('DICOM_BAD_FRAME_TABLE', message, detail);
}

/** Reads one item header (tag FFFE,xxxx and a 32-bit length) at `pos` of `buf`. */
function itemHeader(buf: Buffer, pos: number): { element: number; length: number } | null {
  if (pos + 8 > buf.length || buf.readUInt16LE(pos) !== 0xfffe) return null;
  return { element: buf.readUInt16LE(pos + 2), length: buf.readUInt32LE(pos + 4) };
}

export interface FrameSource {
  readonly frames: number;
  /** The stored bytes of frame `index` (0-based): a codestream, or raw samples. */
  read(index: number, signal?: AbortSignal): Promise<Buffer>;
}

/** Native (uncompressed) pixel data: frame i at offset + i × frame bytes. */
class NativeFrames implements FrameSource {
  constructor(
    private readonly src: ByteSource,
    private readonly offset: number,
    private readonly frameBytes: number,
    readonly frames: number,
  ) {}

  read(index: number, signal?: AbortSignal): Promise<Buffer> {
    return readRange(this.src, this.offset + index * this.frameBytes, this.frameBytes, `frame ${index + 1}`, signal);
  }
}

/**
 * Encapsulated pixel data: frame i is the items from starts[i] up to
 * ends[i] (one or more fragments). `ends` past the file end mark a frame
 * cut short by a truncated file; it fails alone, when it is read.
 */
class EncapsulatedFrames implements FrameSource {
  constructor(
    private readonly src: ByteSource,
    private readonly starts: Float64Array,
    private readonly ends: Float64Array,
    private readonly maxFrameBytes: number,
  ) {}

  get frames(): number {
    return this.starts.length;
  }

  async read(index: number, signal?: AbortSignal): Promise<Buffer> {
    const start = this.starts[index] as number;
    const end = this.ends[index] as number;
    const where = { frame: index + 1, offset: start, byteCount: end - start, fileSize: this.src.size };
    if (end > this.src.size) {
      throw new WsiError('DICOM_TRUNCATED', `frame ${index + 1} runs to byte ${end}, past the end of the file (${this.src.size} bytes)`, where);
    }
    if (end - start > this.maxFrameBytes) {
      throw new WsiError('TILE_TOO_LARGE', `frame ${index + 1} stores ${end - start} bytes, more than a frame of this size may (${this.maxFrameBytes})`, where);
    }
    const buf = await readRange(this.src, start, end - start, `frame ${index + 1}`, signal);
    const parts: Buffer[] = [];
    let pos = 0;
    while (pos < buf.length) {
      const h = itemHeader(buf, pos);
      if (!h || h.element !== ITEM) throw badTable(`frame ${index + 1}: no item header at byte ${start + pos}`, where);
      if (pos + 8 + h.length > buf.length) throw badTable(`frame ${index + 1}: a fragment of ${h.length} bytes at byte ${start + pos} overruns the frame`, where);
      parts.push(buf.subarray(pos + 8, pos + 8 + h.length));
      pos += 8 + h.length;
    }
    if (parts.length === 0) throw badTable(`frame ${index + 1} has no fragments`, where);
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  }
}

/** One fragment found by walking the items: its item's byte range and first two data bytes. */
interface Fragment {
  start: number;
  end: number;
  marker: number;
}

/** Walks the fragment items from `pos` to the sequence delimiter (or the end of the file). */
async function walkFragments(src: ByteSource, pos: number): Promise<{ fragments: Fragment[]; truncated: boolean }> {
  const fragments: Fragment[] = [];
  while (pos + 8 <= src.size) {
    const head = await readRange(src, pos, Math.min(10, src.size - pos), 'a pixel data item');
    const h = itemHeader(head, 0);
    if (!h) throw badTable(`no item header at byte ${pos} of the pixel data`, { offset: pos });
    if (h.element === SEQUENCE_DELIMITER) return { fragments, truncated: false };
    if (h.element !== ITEM) throw badTable(`unexpected item (FFFE,${h.element.toString(16).toUpperCase()}) at byte ${pos} of the pixel data`, { offset: pos });
    const end = pos + 8 + h.length;
    fragments.push({ start: pos, end, marker: head.length >= 10 ? head.readUInt16BE(8) : 0 });
    if (fragments.length > MAX_FRAGMENTS) throw badTable(`the pixel data has more than ${MAX_FRAGMENTS} fragments`);
    if (end > src.size) return { fragments, truncated: true };
    pos = end;
  }
  // no sequence delimiter: the file ends inside the pixel data
  return { fragments, truncated: true };
}

/** The start marker of a codestream of this transfer syntax (SOI, or SOC for JPEG 2000). */
function frameStartMarker(transferSyntax: string): number {
  return /^1\.2\.840\.10008\.1\.2\.4\.(9\d|20\d)$/.test(transferSyntax) ? 0xff4f : 0xffd8;
}

/** Bytes one raw frame holds. */
export function rawFrameBytes(inst: Pick<DicomInstance, 'columns' | 'rows' | 'samplesPerPixel' | 'bitsAllocated'>): number {
  return Math.ceil((inst.columns * inst.rows * inst.samplesPerPixel * inst.bitsAllocated) / 8);
}

/** Locates every frame of an instance, checking the tables against the file. */
export async function locateFrames(src: ByteSource, inst: DicomInstance): Promise<FrameSource> {
  const n = inst.frames;
  const raw = rawFrameBytes(inst);
  const px = inst.pixelData;
  if (px.length !== null) {
    const end = px.offset + px.length;
    if (end > src.size) {
      throw new WsiError('DICOM_TRUNCATED', `Pixel Data claims ${px.length} bytes at offset ${px.offset}, past the end of the file (${src.size} bytes)`, { offset: px.offset, length: px.length, fileSize: src.size });
    }
    if (px.length < raw * n) {
      throw new WsiError('DICOM_BAD_FRAME_COUNT', `Pixel Data holds ${px.length} bytes, ${n} frames of ${inst.columns}x${inst.rows} need ${raw * n}`);
    }
    return new NativeFrames(src, px.offset, raw, n);
  }
  const maxFrameBytes = raw * 2 + 65536;
  const bot = itemHeader(await readRange(src, px.offset, 8, 'the Basic Offset Table'), 0);
  if (!bot || bot.element !== ITEM) throw badTable(`the encapsulated pixel data does not start with the Basic Offset Table item (byte ${px.offset})`);
  const base = px.offset + 8 + bot.length;
  if (bot.length % 4 !== 0 || base > src.size) {
    throw badTable(`the Basic Offset Table item is ${bot.length} bytes${base > src.size ? ', past the end of the file' : ', not a multiple of 4'}`);
  }
  const starts = new Float64Array(n);
  const ends = new Float64Array(n);
  if (inst.extendedOffsets) {
    const { offsets, lengths } = inst.extendedOffsets;
    if (offsets.length !== n) throw badTable(`the Extended Offset Table has ${offsets.length} entries for ${n} frames`);
    for (let i = 0; i < n; i++) {
      const s = base + (offsets[i] as number);
      if (i > 0 && s < (ends[i - 1] as number)) throw badTable(`Extended Offset Table entry ${i + 1} (${offsets[i]}) overlaps the frame before it`);
      if (s + 8 > src.size) throw badTable(`Extended Offset Table entry ${i + 1} points past the end of the file (byte ${s} of ${src.size})`, { entry: i + 1 });
      starts[i] = s;
      // a frame of odd length sits in an item padded to even length
      const len = lengths[i] as number;
      ends[i] = s + 8 + len + (len % 2);
    }
    return new EncapsulatedFrames(src, starts, ends, maxFrameBytes);
  }
  if (bot.length > 0) {
    if (bot.length / 4 !== n) throw badTable(`the Basic Offset Table has ${bot.length / 4} entries for ${n} frames`);
    const table = await readRange(src, px.offset + 8, bot.length, 'the Basic Offset Table');
    for (let i = 0; i < n; i++) {
      const s = base + table.readUInt32LE(i * 4);
      if (i === 0 && s !== base) throw badTable(`the Basic Offset Table's first entry is ${s - base}, not 0`);
      if (i > 0 && s <= (starts[i - 1] as number)) throw badTable(`Basic Offset Table entry ${i + 1} (${s - base}) does not increase`, { entry: i + 1 });
      if (s + 8 > src.size) throw badTable(`Basic Offset Table entry ${i + 1} points past the end of the file (byte ${s} of ${src.size})`, { entry: i + 1 });
      starts[i] = s;
      if (i > 0) ends[i - 1] = s;
    }
    // the last frame runs to the sequence delimiter
    const tail = await walkFragments(src, starts[n - 1] as number);
    const last = tail.fragments[tail.fragments.length - 1];
    if (!last) throw badTable(`frame ${n} has no fragments`);
    ends[n - 1] = last.end;
    return new EncapsulatedFrames(src, starts, ends, maxFrameBytes);
  }
  const { fragments } = await walkFragments(src, base);
  if (fragments.length === n) {
    fragments.forEach((f, i) => {
      starts[i] = f.start;
      ends[i] = f.end;
    });
  } else if (n === 1 && fragments.length > 1) {
    starts[0] = (fragments[0] as Fragment).start;
    ends[0] = (fragments[fragments.length - 1] as Fragment).end;
  } else {
    // several fragments per frame and no table: a frame starts where a codestream does
    const marker = frameStartMarker(inst.transferSyntax);
    const firsts = fragments.map((f, i) => (f.marker === marker ? i : -1)).filter((i) => i >= 0);
    if (firsts.length !== n || firsts[0] !== 0) {
      throw new WsiError('DICOM_BAD_FRAME_COUNT', `the pixel data holds ${fragments.length} fragments (${firsts.length} codestreams), NumberOfFrames says ${n}`);
    }
    firsts.forEach((f, i) => {
      starts[i] = (fragments[f] as Fragment).start;
      const next = firsts[i + 1];
      ends[i] = (fragments[next === undefined ? fragments.length - 1 : next - 1] as Fragment).end;
    });
  }
  return new EncapsulatedFrames(src, starts, ends, maxFrameBytes);
}
