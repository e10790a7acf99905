/**
 * Verification of a de-identified file, independent of how it was written:
 * (1) every byte is scanned for each removed value and each configured
 * sentinel, in UTF-8/ASCII, UTF-16LE and UTF-16BE; (2) the TIFF is walked
 * again and every byte must be referenced by its header, an IFD, a tag value
 * or an image block, save single zero bytes of word alignment. Either
 * failing fails the job. Neither ever reports a value, only what it was.
 */
import { open } from 'node:fs/promises';
import { FileByteSource } from '../tiff/byte-source.js';
import { readEntryNumbers, readTiffStructure } from '../tiff/structure.js';
import { Tag } from '../tiff/tags.js';

export interface Needle {
  /** What the value was ("sentinel 1", "IFD 0 ImageDescription Aperio Filename"): shown instead of the value. */
  label: string;
  value: string;
}

const CHUNK = 4 * 1024 * 1024;

function encodings(value: string): Array<{ enc: string; bytes: Buffer }> {
  const le = Buffer.from(value, 'utf16le');
  const be = Buffer.from(le).swap16();
  return [
    { enc: 'UTF-8', bytes: Buffer.from(value, 'utf8') },
    { enc: 'UTF-16LE', bytes: le },
    { enc: 'UTF-16BE', bytes: be },
  ];
}

interface Pattern {
  label: string;
  enc: string;
  bytes: Buffer;
}

interface PatternIndex {
  /** 1 where some pattern starts with these two bytes (first byte × 256 + second). */
  starts: Uint8Array;
  byPrefix: Map<number, Pattern[]>;
}

function indexOf(patterns: Pattern[]): PatternIndex {
  const starts = new Uint8Array(65536);
  const byPrefix = new Map<number, Pattern[]>();
  for (const p of patterns) {
    if (p.bytes.length < 2) continue;
    const key = ((p.bytes[0] as number) << 8) | (p.bytes[1] as number);
    starts[key] = 1;
    const list = byPrefix.get(key);
    if (list) list.push(p);
    else byPrefix.set(key, [p]);
  }
  return { starts, byPrefix };
}

/**
 * Every occurrence of every pattern in one pass: a two-byte prefix table
 * says where a pattern may start, and only there are the patterns compared
 * (one pass however many values are looked for, instead of one per value
 * and encoding).
 */
function* findAll(view: Buffer, index: PatternIndex): Generator<{ at: number; pattern: Pattern }> {
  const { starts, byPrefix } = index;
  const end = view.length - 1;
  let key = view.length > 0 ? (view[0] as number) : 0;
  for (let i = 0; i < end; i++) {
    key = ((key << 8) | (view[i + 1] as number)) & 0xffff;
    if (starts[key] === 0) continue;
    for (const p of byPrefix.get(key) as Pattern[]) {
      const n = p.bytes.length;
      if (i + n > view.length) continue;
      let j = 2;
      while (j < n && view[i + j] === p.bytes[j]) j++;
      if (j === n) yield { at: i, pattern: p };
    }
  }
}

/** Scans a whole file for the needles; returns hits (label, encoding, offset) and the bytes scanned. */
export async function scanForNeedles(path: string, needles: Needle[]): Promise<{ bytesScanned: number; hits: string[] }> {
  const patterns = needles.flatMap((n) => encodings(n.value).map((e) => ({ label: n.label, ...e })));
  const longest = patterns.reduce((m, p) => Math.max(m, p.bytes.length), 1);
  const index = indexOf(patterns);
  const hits: string[] = [];
  const fh = await open(path, 'r');
  let scanned = 0;
  try {
    const size = (await fh.stat()).size;
    const buf = Buffer.alloc(CHUNK + longest);
    let carry = 0;
    for (let pos = 0; pos < size; ) {
      const want = Math.min(CHUNK, size - pos);
      const { bytesRead } = await fh.read(buf, carry, want, pos);
      if (bytesRead === 0) break;
      const view = buf.subarray(0, carry + bytesRead);
      const base = pos - carry;
      for (const h of findAll(view, index)) {
        // a match lying wholly in the carried-over bytes was found in the previous chunk
        if (h.at + h.pattern.bytes.length > carry) hits.push(`${h.pattern.label} at byte ${base + h.at} (${h.pattern.enc})`);
      }
      pos += bytesRead;
      scanned += bytesRead;
      carry = Math.min(longest - 1, view.length);
      view.copy(buf, 0, view.length - carry);
    }
  } finally {
    await fh.close();
  }
  return { bytesScanned: scanned, hits };
}

/** Byte ranges [start, end) of a TIFF no structure references (single zero alignment bytes excepted). */
export async function unreferencedRanges(path: string): Promise<Array<[number, number]>> {
  const src = await FileByteSource.open(path);
  try {
    const s = await readTiffStructure(src);
    const ranges: Array<[number, number]> = [[0, s.bigTiff ? 16 : 8]];
    const entrySize = s.bigTiff ? 20 : 12;
    const head = s.bigTiff ? 8 : 2;
    const next = s.bigTiff ? 8 : 4;
    const inline = s.bigTiff ? 8 : 4;
    for (const ifd of s.all) {
      ranges.push([ifd.offset, ifd.offset + head + ifd.entries.size * entrySize + next]);
      for (const e of ifd.entries.values()) if (e.bytes > inline) ranges.push([e.valueOffset, e.valueOffset + e.bytes]);
      const offs = await readEntryNumbers(src, s, ifd, ifd.tiled ? Tag.TileOffsets : Tag.StripOffsets);
      const counts = await readEntryNumbers(src, s, ifd, ifd.tiled ? Tag.TileByteCounts : Tag.StripByteCounts);
      for (const [i, o] of (offs ?? []).entries()) {
        const c = counts?.[i] ?? 0;
        if (c > 0) ranges.push([o, o + c]);
      }
    }
    ranges.sort((a, b) => a[0] - b[0]);
    const gaps: Array<[number, number]> = [];
    let end = 0;
    for (const [a, b] of ranges) {
      if (a > end) gaps.push([end, a]);
      end = Math.max(end, b);
    }
    if (end < s.fileSize) gaps.push([end, s.fileSize]);
    const out: Array<[number, number]> = [];
    for (const [a, b] of gaps) {
      // one alignment byte, zero, is what a writer must leave between word-aligned items
      if (b - a === 1 && (await src.read(a, 1))[0] === 0) continue;
      out.push([a, b]);
    }
    return out;
  } finally {
    await src.close();
  }
}
