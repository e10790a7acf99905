/**
 * An opened TIFF: the validated structure (our walker) plus geotiff.js's
 * parsed directories for the IFDs that passed. Tags are read through
 * geotiff.js; block tables are loaded once per image and bounds-checked.
 */
import GeoTIFF, { GeoTIFFImage, type ImageFileDirectory } from 'geotiff';
import { WsiError } from '../../src/core/errors.js';
import type { ByteSource } from './byte-source.js';
import { DEFAULT_LIMITS, readTiffStructure, type TiffIfd, type TiffLimits, type TiffStructure } from './structure.js';
import { FieldType, Tag } from './tags.js';
import { decodeTiffText } from './text.js';

/** Adapts a ByteSource to geotiff.js's source interface (fetch of slices). */
class GeoTiffSource {
  constructor(private readonly src: ByteSource) {}

  get fileSize(): number {
    return this.src.size;
  }

  async fetch(slices: Array<{ offset: number; length: number }>, signal?: AbortSignal): Promise<ArrayBuffer[]> {
    return Promise.all(
      slices.map(async ({ offset, length }) => {
        // geotiff.js asks for a fixed-size window at each IFD; clamp it at EOF
        const len = Math.max(0, Math.min(length, this.src.size - offset));
        const buf = await this.src.read(offset, len, signal);
        return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
      }),
    );
  }

  async fetchSlice(slice: { offset: number; length: number }, signal?: AbortSignal): Promise<{ offset: number; length: number; data: ArrayBuffer }> {
    const [data] = await this.fetch([slice], signal);
    return { ...slice, data: data as ArrayBuffer };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export interface BlockTable {
  offsets: Float64Array;
  counts: Float64Array;
}

/** Tags of one image, read through geotiff.js. */
export interface TiffImage {
  ifd: TiffIfd;
  directory: ImageFileDirectory;
  geotiff: GeoTIFFImage;
  description: string | null;
  photometric: number;
  bitsPerSample: number;
  sampleFormat: number;
  predictor: number;
  newSubfileType: number;
  orientation: number;
  xResolution: number | null;
  yResolution: number | null;
  resolutionUnit: number;
  jpegTables: Uint8Array | null;
  colorMap: number[] | null;
  extraSamples: number[];
  software: string | null;
}

function num(v: unknown, fallback: number): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v) || ArrayBuffer.isView(v)) {
    const first = (v as ArrayLike<number | bigint>)[0];
    return first === undefined ? fallback : Number(first);
  }
  return fallback;
}

function rational(v: unknown): number | null {
  // geotiff.js gives rationals as [numerator, denominator]
  if ((Array.isArray(v) || ArrayBuffer.isView(v)) && (v as ArrayLike<number>).length >= 2) {
    const a = v as ArrayLike<number>;
    const n = Number(a[0]);
    const d = Number(a[1]);
    return d > 0 && n > 0 && Number.isFinite(n / d) ? n / d : null;
  }
  if (typeof v === 'number') return v > 0 && Number.isFinite(v) ? v : null;
  return null;
}

function text(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  return v.replace(/\0+$/, '');
}

/**
 * A text tag decoded from its own bytes (UTF-8 or UTF-16, see text.ts), so
 * a UTF-16 description survives; values of other types go through geotiff.js.
 */
async function readText(src: ByteSource, ifd: TiffIfd, tag: number, load: (tag: number) => Promise<unknown>): Promise<string | null> {
  const entry = ifd.entries.get(tag);
  if (!entry) return null;
  if (entry.type !== FieldType.ASCII && entry.type !== FieldType.BYTE && entry.type !== FieldType.UNDEFINED) return text(await load(tag));
  // the walker checked that the value lies inside the file and under the size cap
  return decodeTiffText(await src.read(entry.valueOffset, entry.bytes));
}

export class TiffFile {
  private readonly tables = new Map<TiffIfd, Promise<BlockTable>>();

  private constructor(
    readonly src: ByteSource,
    readonly structure: TiffStructure,
    readonly images: TiffImage[],
  ) {}

  static async open(src: ByteSource, limits: TiffLimits = DEFAULT_LIMITS): Promise<TiffFile> {
    const structure = await readTiffStructure(src, limits);
    const source = new GeoTiffSource(src);
    // geotiff.js reads the header itself; every IFD we hand it has been validated
    const tiff = await GeoTIFF.fromSource(source as never);
    const images: TiffImage[] = [];
    for (const ifd of structure.all) {
      const directory = await tiff.parser.parseFileDirectoryAt(ifd.offset);
      const geotiff = new GeoTIFFImage(directory, structure.littleEndian, false, source as never);
      // only tags that passed validation are read (a dropped tag stays unread)
      const load = (tag: number): Promise<unknown> => (ifd.entries.has(tag) ? directory.loadValue(tag) : Promise.resolve(undefined));
      const bits = await load(Tag.BitsPerSample);
      const bitsArr = Array.isArray(bits) || ArrayBuffer.isView(bits) ? Array.from(bits as ArrayLike<number>, Number) : [num(bits, 1)];
      if (bitsArr.some((b) => b !== bitsArr[0])) {
        throw new WsiError('UNSUPPORTED_PIXEL_FORMAT', `${ifd.path} mixes BitsPerSample ${bitsArr.join(',')}`, { field: 'BitsPerSample' });
      }
      const jpegTablesRaw = await load(Tag.JPEGTables);
      const colorMapRaw = await load(320);
      const extra = await load(Tag.ExtraSamples);
      images.push({
        ifd,
        directory,
        geotiff,
        description: await readText(src, ifd, Tag.ImageDescription, load),
        photometric: num(await load(Tag.Photometric), ifd.samplesPerPixel >= 3 ? 2 : 1),
        bitsPerSample: bitsArr[0] ?? 1,
        sampleFormat: num(await load(Tag.SampleFormat), 1),
        predictor: num(await load(Tag.Predictor), 1),
        newSubfileType: num(await load(Tag.NewSubfileType), 0),
        orientation: num(await load(Tag.Orientation), 1),
        xResolution: rational(await load(Tag.XResolution)),
        yResolution: rational(await load(Tag.YResolution)),
        resolutionUnit: num(await load(Tag.ResolutionUnit), 2),
        jpegTables: jpegTablesRaw && ArrayBuffer.isView(jpegTablesRaw) ? Uint8Array.from(jpegTablesRaw as Uint8Array) : null,
        colorMap: colorMapRaw && (Array.isArray(colorMapRaw) || ArrayBuffer.isView(colorMapRaw)) ? Array.from(colorMapRaw as ArrayLike<number>, Number) : null,
        extraSamples: extra === undefined ? [] : Array.isArray(extra) || ArrayBuffer.isView(extra) ? Array.from(extra as ArrayLike<number>, Number) : [num(extra, 0)],
        software: text(await load(Tag.Software)),
      });
    }
    return new TiffFile(src, structure, images);
  }

  /** Offsets and byte counts of an image's blocks (loaded once). */
  blockTable(image: TiffImage): Promise<BlockTable> {
    let p = this.tables.get(image.ifd);
    if (!p) {
      p = (async () => {
        const tiled = image.ifd.tiled;
        const offs = await image.directory.loadValue(tiled ? Tag.TileOffsets : Tag.StripOffsets);
        const counts = await image.directory.loadValue(tiled ? Tag.TileByteCounts : Tag.StripByteCounts);
        const toF64 = (v: unknown): Float64Array => {
          if (typeof v === 'number' || typeof v === 'bigint') return Float64Array.of(Number(v));
          return Float64Array.from(v as ArrayLike<number | bigint>, (x) => Number(x));
        };
        return { offsets: toF64(offs), counts: toF64(counts) };
      })();
      p.catch(() => this.tables.delete(image.ifd));
      this.tables.set(image.ifd, p);
    }
    return p;
  }

  close(): Promise<void> {
    return this.src.close();
  }
}
