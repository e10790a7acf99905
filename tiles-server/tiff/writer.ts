/**
 * A streaming TIFF/BigTIFF writer: block data is appended as it is produced
 * (in any order, any page), and the IFDs are written at the end. Used for the
 * sample slide, the test fixtures, the benchmark slide and mask export.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { IfdLayout, type OutEntry } from './ifd-layout.js';
import { FieldType, Tag } from './tags.js';

export interface ExtraTag {
  tag: number;
  type: number;
  /** Numbers, raw bytes (BYTE/UNDEFINED, or ASCII written as given: UTF-16 text) or a string (ASCII, as UTF-8). */
  value: number[] | Uint8Array | string;
}

export interface PageSpec {
  width: number;
  height: number;
  /** Tiled when set; otherwise strips of `rowsPerStrip` rows. */
  tileWidth?: number;
  tileHeight?: number;
  rowsPerStrip?: number;
  samplesPerPixel: number;
  bitsPerSample?: number;
  sampleFormat?: number;
  photometric: number;
  compression: number;
  predictor?: number;
  planar?: 1 | 2;
  newSubfileType?: number;
  description?: string;
  software?: string;
  orientation?: number;
  /** Pixels per centimetre. */
  resolutionPerCm?: number;
  jpegTables?: Uint8Array;
  ycbcrSubsampling?: [number, number];
  extraSamples?: number[];
  extraTags?: ExtraTag[];
}

export interface PageHandle {
  spec: PageSpec;
  blocksAcross: number;
  blocksDown: number;
  offsets: Float64Array;
  counts: Float64Array;
  subPages: PageHandle[];
}

function blockLayout(spec: PageSpec): { across: number; down: number; total: number } {
  const planes = spec.planar === 2 ? spec.samplesPerPixel : 1;
  if (spec.tileWidth && spec.tileHeight) {
    const across = Math.ceil(spec.width / spec.tileWidth);
    const down = Math.ceil(spec.height / spec.tileHeight);
    return { across, down, total: across * down * planes };
  }
  const rows = spec.rowsPerStrip ?? spec.height;
  const down = Math.ceil(spec.height / rows);
  return { across: 1, down, total: down * planes };
}

export class TiffWriter {
  private pos: number;
  private readonly pages: PageHandle[] = [];
  private readonly layout: IfdLayout;

  private constructor(
    private readonly fh: FileHandle,
    readonly bigTiff: boolean,
    readonly littleEndian: boolean,
    readonly linkSubIfds: boolean,
  ) {
    this.layout = new IfdLayout(bigTiff, littleEndian);
    this.pos = this.layout.headerSize;
  }

  /**
   * `linkSubIfds`: the layout Bio-Formats 6 and tifffile write, where each
   * SubIFD's next-IFD pointer is the following SubIFD of the same parent
   * (besides being listed in the parent's SubIFDs array). Otherwise a
   * SubIFD's next pointer is 0.
   */
  static async create(path: string, opts: { bigTiff?: boolean; littleEndian?: boolean; linkSubIfds?: boolean } = {}): Promise<TiffWriter> {
    const fh = await open(path, 'w');
    const w = new TiffWriter(fh, opts.bigTiff ?? false, opts.littleEndian ?? true, opts.linkSubIfds ?? false);
    await fh.write(Buffer.alloc(w.pos), 0, w.pos, 0);
    return w;
  }

  /** Declares a page in the main IFD chain (or a SubIFD of `parent`). */
  addPage(spec: PageSpec, parent?: PageHandle): PageHandle {
    const { across, down, total } = blockLayout(spec);
    const page: PageHandle = { spec, blocksAcross: across, blocksDown: down, offsets: new Float64Array(total), counts: new Float64Array(total), subPages: [] };
    if (parent) parent.subPages.push(page);
    else this.pages.push(page);
    return page;
  }

  /** Appends the encoded bytes of block `index` of `page`. */
  async writeBlock(page: PageHandle, index: number, data: Uint8Array): Promise<void> {
    if (index < 0 || index >= page.offsets.length) throw new RangeError(`block ${index} outside page (${page.offsets.length} blocks)`);
    const offset = this.pos;
    if (!this.bigTiff && offset + data.byteLength > 0xffffffff) throw new RangeError('classic TIFF cannot exceed 4 GiB; use bigTiff');
    await this.fh.write(data, 0, data.byteLength, offset);
    page.offsets[index] = offset;
    page.counts[index] = data.byteLength;
    this.pos += data.byteLength;
  }

  /** Records a block that is stored elsewhere (or empty: count 0). */
  setBlock(page: PageHandle, index: number, offset: number, count: number): void {
    page.offsets[index] = offset;
    page.counts[index] = count;
  }

  get size(): number {
    return this.pos;
  }

  private entry(tag: number, type: number, value: number[] | ArrayLike<number> | Uint8Array | string): OutEntry {
    if (typeof value === 'string') {
      return this.layout.asciiEntry(tag, value);
    }
    if (type === FieldType.BYTE || type === FieldType.UNDEFINED || (type === FieldType.ASCII && value instanceof Uint8Array)) {
      const bytes = Buffer.from(value as Uint8Array);
      return { tag, type, count: bytes.length, bytes };
    }
    const arr = Array.from(value as ArrayLike<number>);
    switch (type) {
      case FieldType.SHORT:
        return { tag, type, count: arr.length, bytes: this.layout.words(arr, 2) };
      case FieldType.LONG:
      case FieldType.IFD:
        return { tag, type, count: arr.length, bytes: this.layout.words(arr, 4) };
      case FieldType.LONG8:
      case FieldType.IFD8:
        return { tag, type, count: arr.length, bytes: this.layout.words(arr, 8) };
      case FieldType.RATIONAL: {
        const parts: number[] = [];
        for (const x of arr) parts.push(Math.round(x * 10000), 10000);
        return { tag, type, count: arr.length, bytes: this.layout.words(parts, 4) };
      }
      default:
        throw new Error(`writer does not support field type ${type}`);
    }
  }

  private entriesFor(page: PageHandle, subOffsets: number[]): OutEntry[] {
    const s = page.spec;
    const offType = this.bigTiff ? FieldType.LONG8 : FieldType.LONG;
    const tiled = !!(s.tileWidth && s.tileHeight);
    const bits = s.bitsPerSample ?? 8;
    const e: OutEntry[] = [];
    if (s.newSubfileType !== undefined) e.push(this.entry(Tag.NewSubfileType, FieldType.LONG, [s.newSubfileType]));
    e.push(this.entry(Tag.ImageWidth, FieldType.LONG, [s.width]));
    e.push(this.entry(Tag.ImageLength, FieldType.LONG, [s.height]));
    e.push(this.entry(Tag.BitsPerSample, FieldType.SHORT, Array(s.samplesPerPixel).fill(bits) as number[]));
    e.push(this.entry(Tag.Compression, FieldType.SHORT, [s.compression]));
    e.push(this.entry(Tag.Photometric, FieldType.SHORT, [s.photometric]));
    if (s.description !== undefined) e.push(this.entry(Tag.ImageDescription, FieldType.ASCII, s.description));
    if (!tiled) e.push(this.entry(Tag.StripOffsets, offType, page.offsets));
    if (s.orientation !== undefined) e.push(this.entry(Tag.Orientation, FieldType.SHORT, [s.orientation]));
    e.push(this.entry(Tag.SamplesPerPixel, FieldType.SHORT, [s.samplesPerPixel]));
    if (!tiled) {
      e.push(this.entry(Tag.RowsPerStrip, FieldType.LONG, [s.rowsPerStrip ?? s.height]));
      e.push(this.entry(Tag.StripByteCounts, offType, page.counts));
    }
    if (s.resolutionPerCm !== undefined) {
      e.push(this.entry(Tag.XResolution, FieldType.RATIONAL, [s.resolutionPerCm]));
      e.push(this.entry(Tag.YResolution, FieldType.RATIONAL, [s.resolutionPerCm]));
    }
    e.push(this.entry(Tag.PlanarConfiguration, FieldType.SHORT, [s.planar ?? 1]));
    if (s.resolutionPerCm !== undefined) e.push(this.entry(Tag.ResolutionUnit, FieldType.SHORT, [3]));
    if (s.software !== undefined) e.push(this.entry(Tag.Software, FieldType.ASCII, s.software));
    if (s.predictor !== undefined) e.push(this.entry(Tag.Predictor, FieldType.SHORT, [s.predictor]));
    if (tiled) {
      e.push(this.entry(Tag.TileWidth, FieldType.LONG, [s.tileWidth as number]));
      e.push(this.entry(Tag.TileLength, FieldType.LONG, [s.tileHeight as number]));
      e.push(this.entry(Tag.TileOffsets, offType, page.offsets));
      e.push(this.entry(Tag.TileByteCounts, offType, page.counts));
    }
    if (subOffsets.length > 0) e.push(this.entry(Tag.SubIFDs, this.bigTiff ? FieldType.IFD8 : FieldType.IFD, subOffsets));
    if (s.extraSamples) e.push(this.entry(Tag.ExtraSamples, FieldType.SHORT, s.extraSamples));
    if (s.sampleFormat !== undefined) e.push(this.entry(Tag.SampleFormat, FieldType.SHORT, Array(s.samplesPerPixel).fill(s.sampleFormat) as number[]));
    if (s.jpegTables) e.push(this.entry(Tag.JPEGTables, FieldType.UNDEFINED, s.jpegTables));
    if (s.ycbcrSubsampling) e.push(this.entry(Tag.YCbCrSubSampling, FieldType.SHORT, s.ycbcrSubsampling));
    for (const x of s.extraTags ?? []) {
      const i = e.findIndex((y) => y.tag === x.tag);
      const ne = this.entry(x.tag, x.type, x.value);
      if (i >= 0) e[i] = ne;
      else e.push(ne);
    }
    return e.sort((a, b) => a.tag - b.tag);
  }

  /** Writes all IFDs and the header, and closes the file. */
  async finish(): Promise<void> {
    if (this.pos & 1) {
      await this.fh.write(Buffer.alloc(1), 0, 1, this.pos);
      this.pos++;
    }
    // lay out: each main page followed by its sub pages
    const order: Array<{ page: PageHandle; siblings: PageHandle[] }> = [];
    for (const p of this.pages) {
      order.push({ page: p, siblings: this.pages });
      for (const s of p.subPages) order.push({ page: s, siblings: this.linkSubIfds ? p.subPages : [] });
    }
    // sizes do not depend on offsets, so compute them with placeholder offsets
    const offsetOf = new Map<PageHandle, number>();
    let at = this.pos;
    for (const { page } of order) {
      offsetOf.set(page, at);
      at += this.layout.size(this.entriesFor(page, page.subPages.map(() => 0)));
    }
    const chunks: Buffer[] = [];
    for (const { page, siblings } of order) {
      const idx = siblings.indexOf(page);
      const next = idx >= 0 && idx + 1 < siblings.length ? (offsetOf.get(siblings[idx + 1] as PageHandle) as number) : 0;
      const entries = this.entriesFor(page, page.subPages.map((s) => offsetOf.get(s) as number));
      chunks.push(this.layout.serialize(entries, offsetOf.get(page) as number, next));
    }
    const tail = Buffer.concat(chunks);
    if (!this.bigTiff && this.pos + tail.length > 0xffffffff) throw new RangeError('classic TIFF cannot exceed 4 GiB; use bigTiff');
    await this.fh.write(tail, 0, tail.length, this.pos);
    const first = offsetOf.get(this.pages[0] as PageHandle) ?? 0;
    const header = this.layout.header(first);
    await this.fh.write(header, 0, header.length, 0);
    this.pos += tail.length;
    await this.fh.sync();
    await this.fh.close();
  }

  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}
