/**
 * Structural validation of a TIFF/BigTIFF before anything decodes it.
 *
 * geotiff.js trusts the file: it allocates from declared byte counts, follows
 * IFD chains without loop detection and reads values wherever offsets point.
 * This walker checks the header, every IFD (main chain and SubIFDs), every
 * entry's value range, loops and dimension caps, and reports the first
 * problem as a WsiError with a specific code. Only IFD offsets that passed
 * are ever handed to geotiff.js.
 */
import { WsiError } from '../../src/core/errors.js';
import type { ByteSource } from './byte-source.js';
import { FieldType, Tag, typeSize } from './tags.js';

export interface TiffLimits {
  maxIfds: number;
  maxEntries: number;
  maxValueBytes: number;
  maxDimension: number;
  maxTileDimension: number;
  maxSubIfds: number;
}

export const DEFAULT_LIMITS: TiffLimits = {
  maxIfds: 4096,
  maxEntries: 1024,
  maxValueBytes: 64 * 1024 * 1024,
  maxDimension: 2 ** 21,
  maxTileDimension: 16384,
  maxSubIfds: 256,
};

export interface IfdEntry {
  tag: number;
  type: number;
  count: number;
  /** Bytes occupied by the value. */
  bytes: number;
  /** Absolute offset of the value bytes (inside the IFD when inline). */
  valueOffset: number;
}

export interface TiffIfd {
  offset: number;
  /** Human path used in messages: "IFD 2" or "IFD 0 SubIFD 1". */
  path: string;
  /** Index in the main chain, or -1 for a SubIFD. */
  chainIndex: number;
  parent: TiffIfd | null;
  entries: Map<number, IfdEntry>;
  width: number;
  height: number;
  samplesPerPixel: number;
  planar: 1 | 2;
  compression: number;
  tiled: boolean;
  /** Tile size, or (image width × RowsPerStrip) for strips. */
  blockWidth: number;
  blockHeight: number;
  blocksAcross: number;
  blocksDown: number;
  /** Offsets/byte-count entries the layout requires. */
  blockCount: number;
  subIfds: TiffIfd[];
}

export interface TiffStructure {
  /** Problems that did not stop the file from opening (dropped metadata tags). */
  warnings: string[];
  littleEndian: boolean;
  bigTiff: boolean;
  fileSize: number;
  /** IFDs of the main chain in file order. */
  chain: TiffIfd[];
  /** Every IFD, SubIFDs included. */
  all: TiffIfd[];
}

/**
 * Tags the reader cannot do without, plus those geotiff.js reads eagerly
 * while parsing an IFD. A bad value pointer in any other tag (a description,
 * a date, XMP) only drops that tag, with a warning.
 */
const CRITICAL_TAGS = new Set<number>([
  254, 255, 256, 257, 258, 259, 262, 273, 277, 278, 279, 284, 317, 320, 322, 323, 324, 325, 330, 338, 339, 347, 530, 33550, 33922, 34264, 42113,
]);

function fail(code: ConstructorParameters<typeof WsiError>[0], message: string, detail?: Record<string, unknown>): never {
  throw new WsiError(code, message, detail);
}

/** Reads the header and decides byte order and classic/BigTIFF. */
async function readHeader(src: ByteSource): Promise<{ littleEndian: boolean; bigTiff: boolean; firstIfd: bigint }> {
  if (src.size < 8) fail('NOT_A_TIFF', `file is ${src.size} bytes, too short to be a TIFF`);
  const head = await src.read(0, Math.min(16, src.size));
  const b0 = head[0];
  const b1 = head[1];
  const isOrderByte = (b: number | undefined): boolean => b === 0x49 || b === 0x4d;
  if (!isOrderByte(b0) && !isOrderByte(b1)) fail('NOT_A_TIFF', 'file does not start with a TIFF byte-order mark (II or MM)');
  if (b0 !== b1 || !isOrderByte(b0)) fail('TIFF_BAD_HEADER', `invalid TIFF byte-order mark 0x${head.readUInt16BE(0).toString(16)}`);
  const littleEndian = b0 === 0x49;
  const version = littleEndian ? head.readUInt16LE(2) : head.readUInt16BE(2);
  if (version === 42) {
    const firstIfd = littleEndian ? head.readUInt32LE(4) : head.readUInt32BE(4);
    return { littleEndian, bigTiff: false, firstIfd: BigInt(firstIfd) };
  }
  if (version === 43) {
    if (src.size < 16) fail('TIFF_BAD_HEADER', 'BigTIFF header is truncated');
    const offsetSize = littleEndian ? head.readUInt16LE(4) : head.readUInt16BE(4);
    const reserved = littleEndian ? head.readUInt16LE(6) : head.readUInt16BE(6);
    if (offsetSize !== 8 || reserved !== 0) fail('TIFF_BAD_HEADER', `BigTIFF header declares offset size ${offsetSize} (must be 8)`);
    const firstIfd = littleEndian ? head.readBigUInt64LE(8) : head.readBigUInt64BE(8);
    return { littleEndian, bigTiff: true, firstIfd };
  }
  return fail('TIFF_BAD_HEADER', `TIFF version ${version} is neither 42 (classic) nor 43 (BigTIFF)`);
}

class Walker {
  private readonly visited = new Set<number>();
  readonly all: TiffIfd[] = [];
  readonly warnings: string[] = [];
  private readonly headerSize: number;

  constructor(
    private readonly src: ByteSource,
    readonly littleEndian: boolean,
    readonly bigTiff: boolean,
    private readonly limits: TiffLimits,
  ) {
    this.headerSize = bigTiff ? 16 : 8;
  }

  private u16(buf: Buffer, at: number): number {
    return this.littleEndian ? buf.readUInt16LE(at) : buf.readUInt16BE(at);
  }

  private u32(buf: Buffer, at: number): number {
    return this.littleEndian ? buf.readUInt32LE(at) : buf.readUInt32BE(at);
  }

  private u64(buf: Buffer, at: number): bigint {
    return this.littleEndian ? buf.readBigUInt64LE(at) : buf.readBigUInt64BE(at);
  }

  /** Checks an IFD pointer and returns it as a number. */
  checkIfdOffset(offset: bigint, what: string): number {
    const entrySizeMin = this.bigTiff ? 8 + 8 : 2 + 4;
    if (offset === 0n) fail('TIFF_BAD_OFFSET', `${what} offset is 0`);
    if (offset < BigInt(this.headerSize) || offset + BigInt(entrySizeMin) > BigInt(this.src.size)) {
      fail('TIFF_BAD_OFFSET', `${what} offset ${offset} lies outside the file (${this.src.size} bytes)`, { offset: offset.toString() });
    }
    return Number(offset);
  }

  async walkChain(first: number, parent: TiffIfd | null, label: (i: number) => string): Promise<TiffIfd[]> {
    const chain: TiffIfd[] = [];
    let offset: number | null = first;
    while (offset !== null) {
      const ifd = await this.readIfd(offset, parent ? -1 : chain.length, parent, label(chain.length));
      chain.push(ifd);
      offset = ifd.nextOffset === 0n ? null : this.checkIfdOffset(ifd.nextOffset, `next IFD after ${ifd.path}`);
      if (offset !== null && this.visited.has(offset)) {
        fail('TIFF_IFD_LOOP', `${ifd.path} points back to an earlier IFD at offset ${offset}`, { offset });
      }
    }
    return chain;
  }

  private async readIfd(offset: number, chainIndex: number, parent: TiffIfd | null, path: string): Promise<TiffIfd & { nextOffset: bigint }> {
    if (offset % 2 === 0) return this.readIfdAt(offset, chainIndex, parent, path);
    // TIFF 6 wants word-aligned IFDs but real writers emit odd offsets (girder/
    // large_image's yb10kx5k.zstd.tiff starts at 14691) and libtiff reads them.
    // An odd offset that does not lead to a valid IFD is reported as a bad offset.
    try {
      return await this.readIfdAt(offset, chainIndex, parent, path);
    } catch (err) {
      if (err instanceof WsiError && err.code !== 'TIFF_BAD_OFFSET' && err.code !== 'TIFF_IFD_LOOP') {
        throw new WsiError('TIFF_BAD_OFFSET', `${path} offset ${offset} is odd and does not point at a valid IFD (${err.message})`, { offset });
      }
      throw err;
    }
  }

  private async readIfdAt(offset: number, chainIndex: number, parent: TiffIfd | null, path: string): Promise<TiffIfd & { nextOffset: bigint }> {
    if (this.visited.has(offset)) fail('TIFF_IFD_LOOP', `${path} at offset ${offset} was already visited`, { offset });
    if (this.visited.size >= this.limits.maxIfds) fail('TIFF_TOO_MANY_IFDS', `file has more than ${this.limits.maxIfds} IFDs`);
    this.visited.add(offset);

    const countSize = this.bigTiff ? 8 : 2;
    const entrySize = this.bigTiff ? 20 : 12;
    const nextSize = this.bigTiff ? 8 : 4;
    const countBuf = await this.src.read(offset, countSize);
    const count = this.bigTiff ? this.u64(countBuf, 0) : BigInt(this.u16(countBuf, 0));
    if (count > BigInt(this.limits.maxEntries)) {
      fail('TIFF_TOO_MANY_ENTRIES', `${path} declares ${count} entries (limit ${this.limits.maxEntries})`, { count: count.toString() });
    }
    if (count === 0n) fail('TIFF_BAD_OFFSET', `${path} at offset ${offset} has no entries: the offset does not point at an IFD`, { offset });
    const n = Number(count);
    const tableBytes = n * entrySize + nextSize;
    if (offset + countSize + tableBytes > this.src.size) {
      fail('TIFF_TRUNCATED', `${path} entry table runs past the end of the file`, { offset });
    }
    const table = await this.src.read(offset + countSize, tableBytes);
    const entries = new Map<number, IfdEntry>();
    const inlineSize = this.bigTiff ? 8 : 4;
    for (let i = 0; i < n; i++) {
      const at = i * entrySize;
      const tag = this.u16(table, at);
      const type = this.u16(table, at + 2);
      const rawCount = this.bigTiff ? this.u64(table, at + 4) : BigInt(this.u32(table, at + 4));
      const size = typeSize(type);
      if (size === 0) continue; // unknown field type: readers must skip it
      const bytes = rawCount * BigInt(size);
      if (bytes > BigInt(this.limits.maxValueBytes) || bytes > BigInt(this.src.size)) {
        fail('TIFF_VALUE_TOO_LARGE', `${path} tag ${tag} declares ${rawCount} values (${bytes} bytes), more than the file or limit allows`, {
          tag,
          count: rawCount.toString(),
        });
      }
      const valueField = offset + countSize + at + (this.bigTiff ? 12 : 8);
      let valueOffset = valueField;
      if (bytes > BigInt(inlineSize)) {
        const ptr = this.bigTiff ? this.u64(table, at + 12) : BigInt(this.u32(table, at + 8));
        if (ptr + bytes > BigInt(this.src.size)) {
          if (CRITICAL_TAGS.has(tag)) {
            fail('TIFF_BAD_OFFSET', `${path} tag ${tag} value at offset ${ptr} (${bytes} bytes) lies outside the file`, { tag, offset: ptr.toString() });
          }
          this.warnings.push(`${path} tag ${tag}${tag === Tag.ImageDescription ? ' (ImageDescription)' : ''} points outside the file and was ignored`);
          continue;
        }
        valueOffset = Number(ptr);
      }
      entries.set(tag, { tag, type, count: Number(rawCount), bytes: Number(bytes), valueOffset });
    }
    const nextOffset = this.bigTiff ? this.u64(table, n * entrySize) : BigInt(this.u32(table, n * entrySize));

    const ifd = await this.describeImage(offset, chainIndex, parent, path, entries);
    this.all.push(ifd);

    const subEntry = entries.get(Tag.SubIFDs);
    if (subEntry) {
      if (subEntry.count > this.limits.maxSubIfds) fail('TIFF_VALUE_TOO_LARGE', `${path} lists ${subEntry.count} SubIFDs`);
      const subOffsets = await this.readNumbers(subEntry);
      // The SubIFD array is the level list. Bio-Formats 6 and tifffile also
      // link each SubIFD to the next one through its next-IFD pointer, so
      // walking entry k's chain may already have reached entries k+1, k+2…:
      // such an entry is that same level, not a loop. An entry that repeats
      // an earlier one, or points anywhere else already visited, is a loop.
      let previous = -1;
      for (const [k, sub] of subOffsets.entries()) {
        const subOffset = this.checkIfdOffset(BigInt(sub), `${path} SubIFD ${k}`);
        const reached = ifd.subIfds.findIndex((s) => s.offset === subOffset);
        if (reached > previous) {
          previous = reached;
          continue;
        }
        if (this.visited.has(subOffset)) fail('TIFF_IFD_LOOP', `${path} SubIFD ${k} points to an IFD already visited (offset ${subOffset})`, { offset: subOffset });
        previous = ifd.subIfds.length;
        const subs = await this.walkChain(subOffset, ifd, (j) => `${path} SubIFD ${k + j}`);
        ifd.subIfds.push(...subs);
      }
    }
    return Object.assign(ifd, { nextOffset });
  }

  /** Reads the numeric values of an entry (integers or rationals as floats). */
  async readNumbers(entry: IfdEntry): Promise<number[]> {
    const buf = await this.src.read(entry.valueOffset, entry.bytes);
    return decodeNumbers(buf, entry, this.littleEndian);
  }

  private async scalar(entries: Map<number, IfdEntry>, tag: number, fallback: number | null, path: string): Promise<number> {
    const e = entries.get(tag);
    if (!e || e.count === 0) {
      if (fallback === null) fail('TIFF_MISSING_TAG', `${path} has no tag ${tag}`, { tag });
      return fallback;
    }
    const v = (await this.readNumbers({ ...e, count: 1, bytes: typeSize(e.type) }))[0];
    if (v === undefined || !Number.isFinite(v)) fail('TIFF_BAD_FIELD', `${path} tag ${tag} has no usable value`, { tag });
    return v;
  }

  private async describeImage(
    offset: number,
    chainIndex: number,
    parent: TiffIfd | null,
    path: string,
    entries: Map<number, IfdEntry>,
  ): Promise<TiffIfd> {
    const lim = this.limits;
    const width = await this.scalar(entries, Tag.ImageWidth, null, path);
    const height = await this.scalar(entries, Tag.ImageLength, null, path);
    if (!(width >= 1 && height >= 1 && width <= lim.maxDimension && height <= lim.maxDimension)) {
      fail('TIFF_BAD_DIMENSIONS', `${path} is ${width}x${height} px (allowed 1..${lim.maxDimension})`, { width, height });
    }
    const samplesPerPixel = await this.scalar(entries, Tag.SamplesPerPixel, 1, path);
    if (!(samplesPerPixel >= 1 && samplesPerPixel <= 16)) {
      fail('UNSUPPORTED_PIXEL_FORMAT', `${path} SamplesPerPixel is ${samplesPerPixel}`, { field: 'SamplesPerPixel', value: samplesPerPixel });
    }
    const planarRaw = await this.scalar(entries, Tag.PlanarConfiguration, 1, path);
    if (planarRaw !== 1 && planarRaw !== 2) {
      fail('UNSUPPORTED_PIXEL_FORMAT', `${path} PlanarConfiguration is ${planarRaw}`, { field: 'PlanarConfiguration', value: planarRaw });
    }
    const planar = planarRaw as 1 | 2;
    const compression = await this.scalar(entries, Tag.Compression, 1, path);
    const tiled = entries.has(Tag.TileWidth) || entries.has(Tag.TileOffsets);
    let blockWidth: number;
    let blockHeight: number;
    let offsetsTag: number;
    let countsTag: number;
    if (tiled) {
      blockWidth = await this.scalar(entries, Tag.TileWidth, null, path);
      blockHeight = await this.scalar(entries, Tag.TileLength, null, path);
      const okTile = (t: number, extent: number): boolean =>
        t >= 1 && t <= lim.maxTileDimension && (t % 16 === 0 || t >= extent);
      if (!okTile(blockWidth, width) || !okTile(blockHeight, height)) {
        fail('TIFF_BAD_DIMENSIONS', `${path} tile size ${blockWidth}x${blockHeight} is invalid (multiples of 16 up to ${lim.maxTileDimension})`, {
          tileWidth: blockWidth,
          tileHeight: blockHeight,
        });
      }
      offsetsTag = Tag.TileOffsets;
      countsTag = Tag.TileByteCounts;
    } else {
      blockWidth = width;
      const rows = await this.scalar(entries, Tag.RowsPerStrip, 2 ** 32 - 1, path);
      if (!(rows >= 1)) fail('TIFF_BAD_DIMENSIONS', `${path} RowsPerStrip is ${rows}`, { rowsPerStrip: rows });
      blockHeight = Math.min(rows, height);
      offsetsTag = Tag.StripOffsets;
      countsTag = Tag.StripByteCounts;
    }
    const blocksAcross = Math.ceil(width / blockWidth);
    const blocksDown = Math.ceil(height / blockHeight);
    const blockCount = blocksAcross * blocksDown * (planar === 2 ? samplesPerPixel : 1);
    const offs = entries.get(offsetsTag);
    const counts = entries.get(countsTag);
    if (!offs || !counts) {
      fail('TIFF_MISSING_TAG', `${path} lacks ${tiled ? 'TileOffsets/TileByteCounts' : 'StripOffsets/StripByteCounts'}`, { tag: offs ? countsTag : offsetsTag });
    }
    const countOk = tiled ? offs.count === blockCount : offs.count >= blockCount;
    if (!countOk || counts.count !== offs.count) {
      fail('TIFF_BAD_TILE_TABLE', `${path} has ${offs.count} offsets and ${counts.count} byte counts; its layout needs ${blockCount}`, {
        offsets: offs.count,
        byteCounts: counts.count,
        expected: blockCount,
      });
    }
    return {
      offset,
      path,
      chainIndex,
      parent,
      entries,
      width,
      height,
      samplesPerPixel,
      planar,
      compression,
      tiled,
      blockWidth,
      blockHeight,
      blocksAcross,
      blocksDown,
      blockCount,
      subIfds: [],
    };
  }
}

/** Decodes the values of a numeric entry from its bytes. */
export function decodeNumbers(buf: Buffer, entry: IfdEntry, littleEndian: boolean): number[] {
  const out: number[] = [];
  const le = littleEndian;
  const size = typeSize(entry.type);
  for (let i = 0; i < entry.count; i++) {
    const at = i * size;
    switch (entry.type) {
      case FieldType.BYTE:
      case FieldType.UNDEFINED:
      case FieldType.ASCII:
        out.push(buf.readUInt8(at));
        break;
      case FieldType.SBYTE:
        out.push(buf.readInt8(at));
        break;
      case FieldType.SHORT:
        out.push(le ? buf.readUInt16LE(at) : buf.readUInt16BE(at));
        break;
      case FieldType.SSHORT:
        out.push(le ? buf.readInt16LE(at) : buf.readInt16BE(at));
        break;
      case FieldType.LONG:
      case FieldType.IFD:
        out.push(le ? buf.readUInt32LE(at) : buf.readUInt32BE(at));
        break;
      case FieldType.SLONG:
        out.push(le ? buf.readInt32LE(at) : buf.readInt32BE(at));
        break;
      case FieldType.RATIONAL: {
        const num = le ? buf.readUInt32LE(at) : buf.readUInt32BE(at);
        const den = le ? buf.readUInt32LE(at + 4) : buf.readUInt32BE(at + 4);
        out.push(den === 0 ? Number.NaN : num / den);
        break;
      }
      case FieldType.SRATIONAL: {
        const num = le ? buf.readInt32LE(at) : buf.readInt32BE(at);
        const den = le ? buf.readInt32LE(at + 4) : buf.readInt32BE(at + 4);
        out.push(den === 0 ? Number.NaN : num / den);
        break;
      }
      case FieldType.FLOAT:
        out.push(le ? buf.readFloatLE(at) : buf.readFloatBE(at));
        break;
      case FieldType.DOUBLE:
        out.push(le ? buf.readDoubleLE(at) : buf.readDoubleBE(at));
        break;
      case FieldType.LONG8:
      case FieldType.IFD8:
      case FieldType.SLONG8: {
        const big = entry.type === FieldType.SLONG8
          ? (le ? buf.readBigInt64LE(at) : buf.readBigInt64BE(at))
          : (le ? buf.readBigUInt64LE(at) : buf.readBigUInt64BE(at));
        if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < -BigInt(Number.MAX_SAFE_INTEGER)) {
          throw new WsiError('TIFF_VALUE_TOO_LARGE', `tag ${entry.tag} value ${big} is out of range`, { tag: entry.tag });
        }
        out.push(Number(big));
        break;
      }
      default:
        throw new WsiError('TIFF_BAD_FIELD', `tag ${entry.tag} has unsupported type ${entry.type}`, { tag: entry.tag });
    }
  }
  return out;
}

/** Walks and validates the whole IFD graph of a TIFF. */
export async function readTiffStructure(src: ByteSource, limits: TiffLimits = DEFAULT_LIMITS): Promise<TiffStructure> {
  const { littleEndian, bigTiff, firstIfd } = await readHeader(src);
  const walker = new Walker(src, littleEndian, bigTiff, limits);
  const first = walker.checkIfdOffset(firstIfd, 'first IFD');
  const chain = await walker.walkChain(first, null, (i) => `IFD ${i}`);
  return { warnings: walker.warnings, littleEndian, bigTiff, fileSize: src.size, chain, all: walker.all };
}

/** Reads the numeric values of one entry of a validated structure. */
export async function readEntryNumbers(src: ByteSource, structure: TiffStructure, ifd: TiffIfd, tag: number): Promise<number[] | null> {
  const e = ifd.entries.get(tag);
  if (!e) return null;
  const buf = await src.read(e.valueOffset, e.bytes);
  return decodeNumbers(buf, e, structure.littleEndian);
}

/** Reads an entry's raw bytes (ASCII text, JPEGTables, XMP). */
export async function readEntryBytes(src: ByteSource, ifd: TiffIfd, tag: number): Promise<Buffer | null> {
  const e = ifd.entries.get(tag);
  if (!e) return null;
  return src.read(e.valueOffset, e.bytes);
}

/** Reads an ASCII entry as a string without its trailing NULs. */
export async function readEntryString(src: ByteSource, ifd: TiffIfd, tag: number): Promise<string | null> {
  const buf = await readEntryBytes(src, ifd, tag);
  if (!buf) return null;
  let end = buf.length;
  while (end > 0 && buf[end - 1] === 0) end--;
  return buf.toString('utf8', 0, end);
}
