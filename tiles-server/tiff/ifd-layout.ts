/**
 * The bytes of a TIFF's header and IFDs, classic or BigTIFF, in either byte
 * order: entries are given as raw value bytes in the file's byte order
 * (built here from numbers or text, or copied from an input file), and an
 * IFD is laid out as count, entry table (sorted by tag), next pointer, then
 * the values that do not fit inline, each word-aligned and zero-padded, so
 * the output holds no byte that nothing references. One home for this
 * layout: the streaming writer (writer.ts) and the de-identifying rewrite
 * (deid/deidentify.ts) both write through it.
 */
import { FieldType } from './tags.js';

export interface OutEntry {
  tag: number;
  type: number;
  count: number;
  /** Value bytes in the output's byte order. */
  bytes: Buffer;
}

export class IfdLayout {
  constructor(
    readonly bigTiff: boolean,
    readonly littleEndian: boolean,
  ) {}

  get headerSize(): number {
    return this.bigTiff ? 16 : 8;
  }

  header(firstIfd: number): Buffer {
    const le = this.littleEndian;
    const h = Buffer.alloc(this.headerSize);
    h.write(le ? 'II' : 'MM', 0, 'latin1');
    if (this.bigTiff) {
      le ? h.writeUInt16LE(43, 2) : h.writeUInt16BE(43, 2);
      le ? h.writeUInt16LE(8, 4) : h.writeUInt16BE(8, 4);
      le ? h.writeBigUInt64LE(BigInt(firstIfd), 8) : h.writeBigUInt64BE(BigInt(firstIfd), 8);
    } else {
      le ? h.writeUInt16LE(42, 2) : h.writeUInt16BE(42, 2);
      le ? h.writeUInt32LE(firstIfd, 4) : h.writeUInt32BE(firstIfd, 4);
    }
    return h;
  }

  /** Offsets/counts as LONG (classic) or LONG8 (BigTIFF). */
  offsetsEntry(tag: number, values: ArrayLike<number>, ifdType = false): OutEntry {
    const b = this.words(values, this.bigTiff ? 8 : 4);
    const type = this.bigTiff ? (ifdType ? FieldType.IFD8 : FieldType.LONG8) : ifdType ? FieldType.IFD : FieldType.LONG;
    return { tag, type, count: values.length, bytes: b };
  }

  /** Unsigned integers of 2, 4 or 8 bytes each, in the file's byte order. */
  words(values: ArrayLike<number>, size: 2 | 4 | 8): Buffer {
    const b = Buffer.alloc(values.length * size);
    const le = this.littleEndian;
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as number;
      if (size === 2) le ? b.writeUInt16LE(v, i * 2) : b.writeUInt16BE(v, i * 2);
      else if (size === 4) le ? b.writeUInt32LE(v, i * 4) : b.writeUInt32BE(v, i * 4);
      else le ? b.writeBigUInt64LE(BigInt(v), i * 8) : b.writeBigUInt64BE(BigInt(v), i * 8);
    }
    return b;
  }

  shortEntry(tag: number, values: number[]): OutEntry {
    return { tag, type: FieldType.SHORT, count: values.length, bytes: this.words(values, 2) };
  }

  longEntry(tag: number, values: number[]): OutEntry {
    return { tag, type: FieldType.LONG, count: values.length, bytes: this.words(values, 4) };
  }

  asciiEntry(tag: number, text: string): OutEntry {
    const bytes = Buffer.concat([Buffer.from(text, 'utf8'), Buffer.from([0])]);
    return { tag, type: FieldType.ASCII, count: bytes.length, bytes };
  }

  /** Bytes an IFD with these entries occupies, padding included (even). */
  size(entries: OutEntry[]): number {
    const inline = this.bigTiff ? 8 : 4;
    let n = this.bigTiff ? 8 + entries.length * 20 + 8 : 2 + entries.length * 12 + 4;
    for (const e of entries) if (e.bytes.length > inline) n += e.bytes.length + (e.bytes.length & 1);
    return n + (n & 1);
  }

  serialize(entries: OutEntry[], at: number, next: number): Buffer {
    const sorted = [...entries].sort((a, b) => a.tag - b.tag);
    const inline = this.bigTiff ? 8 : 4;
    const entrySize = this.bigTiff ? 20 : 12;
    const le = this.littleEndian;
    const buf = Buffer.alloc(this.size(sorted));
    const head = this.bigTiff ? 8 + sorted.length * entrySize + 8 : 2 + sorted.length * entrySize + 4;
    if (this.bigTiff) le ? buf.writeBigUInt64LE(BigInt(sorted.length), 0) : buf.writeBigUInt64BE(BigInt(sorted.length), 0);
    else le ? buf.writeUInt16LE(sorted.length, 0) : buf.writeUInt16BE(sorted.length, 0);
    let p = this.bigTiff ? 8 : 2;
    let valuePos = head;
    for (const e of sorted) {
      le ? buf.writeUInt16LE(e.tag, p) : buf.writeUInt16BE(e.tag, p);
      le ? buf.writeUInt16LE(e.type, p + 2) : buf.writeUInt16BE(e.type, p + 2);
      if (this.bigTiff) le ? buf.writeBigUInt64LE(BigInt(e.count), p + 4) : buf.writeBigUInt64BE(BigInt(e.count), p + 4);
      else le ? buf.writeUInt32LE(e.count, p + 4) : buf.writeUInt32BE(e.count, p + 4);
      const vf = p + (this.bigTiff ? 12 : 8);
      if (e.bytes.length <= inline) e.bytes.copy(buf, vf);
      else {
        const abs = at + valuePos;
        if (this.bigTiff) le ? buf.writeBigUInt64LE(BigInt(abs), vf) : buf.writeBigUInt64BE(BigInt(abs), vf);
        else le ? buf.writeUInt32LE(abs, vf) : buf.writeUInt32BE(abs, vf);
        e.bytes.copy(buf, valuePos);
        valuePos += e.bytes.length + (e.bytes.length & 1);
      }
      p += entrySize;
    }
    if (this.bigTiff) le ? buf.writeBigUInt64LE(BigInt(next), p) : buf.writeBigUInt64BE(BigInt(next), p);
    else le ? buf.writeUInt32LE(next, p) : buf.writeUInt32BE(next, p);
    return buf;
  }
}
