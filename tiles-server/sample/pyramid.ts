/**
 * Writes a pyramidal tiled TIFF from a band source, streaming: level 0 is
 * rendered in bands of one tile row, each band is encoded and reduced 2×2 into
 * the next level, so memory stays at one tile row per level. Optional
 * thumbnail, label and macro pages follow the Aperio layout (level 0,
 * thumbnail, other levels, label, macro).
 */
import { promisify } from 'node:util';
import { deflate } from 'node:zlib';
import sharp from 'sharp';
import { splitJpegTables } from '../decode/jpeg.js';
import { lzwEncode } from '../tiff/lzw-encode.js';
import { Compression, Photometric } from '../tiff/tags.js';
import { TiffWriter, type PageHandle, type PageSpec } from '../tiff/writer.js';

const deflateAsync = promisify(deflate);

export type TileCodec = 'jpeg' | 'deflate' | 'lzw' | 'none' | 'webp';

export interface RasterRgb {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface AssociatedPage {
  description: string;
  newSubfileType: number;
  image: RasterRgb;
  codec: 'jpeg' | 'lzw' | 'none';
}

export interface PyramidSpec {
  width: number;
  height: number;
  tileSize: number;
  /** Which 2×2 reductions to store: [0,1,2,…] or [0,2,4] for ×4 steps. */
  storedLevels: number[];
  codec: TileCodec;
  jpegQuality?: number;
  /** Share one JPEGTables per level (abbreviated tiles) instead of full JPEGs. */
  sharedJpegTables?: boolean;
  description?: (reduction: number, width: number, height: number) => string | undefined;
  resolutionPerCm?: number;
  bigTiff?: boolean;
  /** Stripped JPEG thumbnail as the second IFD, no larger than this. */
  thumbnailMax?: number;
  associated?: AssociatedPage[];
  onProgress?: (fraction: number) => void;
}

export type BandSource = (y0: number, rows: number) => Uint8Array | Promise<Uint8Array>;

/** 2×2 box reduction of an interleaved raster (RGB by default); odd edges average what exists. */
export function halve(src: Uint8Array, w: number, h: number, channels = 3): RasterRgb {
  const ow = Math.ceil(w / 2);
  const oh = Math.ceil(h / 2);
  const out = new Uint8Array(ow * oh * channels);
  for (let y = 0; y < oh; y++) {
    const y0 = 2 * y;
    const y1 = Math.min(h - 1, y0 + 1);
    for (let x = 0; x < ow; x++) {
      const x0 = 2 * x;
      const x1 = Math.min(w - 1, x0 + 1);
      const a = (y0 * w + x0) * channels;
      const b = (y0 * w + x1) * channels;
      const c = (y1 * w + x0) * channels;
      const d = (y1 * w + x1) * channels;
      const o = (y * ow + x) * channels;
      for (let k = 0; k < channels; k++) {
        out[o + k] = ((src[a + k] as number) + (src[b + k] as number) + (src[c + k] as number) + (src[d + k] as number) + 2) >> 2;
      }
    }
  }
  return { data: out, width: ow, height: oh };
}

async function encodeJpeg(raw: Uint8Array, w: number, h: number, quality: number): Promise<Buffer> {
  return sharp(raw, { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality, chromaSubsampling: '4:2:0', optimiseCoding: false, trellisQuantisation: false, overshootDeringing: false })
    .toBuffer();
}

interface LevelState {
  reduction: number;
  width: number;
  height: number;
  acc: Uint8Array;
  filled: number;
  y: number;
  page: PageHandle | null;
  tables: Buffer | null;
}

export async function writePyramid(path: string, spec: PyramidSpec, source: BandSource): Promise<void> {
  const ts = spec.tileSize;
  const maxReduction = Math.max(...spec.storedLevels);
  const quality = spec.jpegQuality ?? 85;
  const shared = spec.sharedJpegTables ?? true;
  const writer = await TiffWriter.create(path, { bigTiff: spec.bigTiff ?? false });
  try {
    const compression = { jpeg: Compression.JPEG, deflate: Compression.ADOBE_DEFLATE, lzw: Compression.LZW, none: Compression.NONE, webp: Compression.WEBP }[spec.codec];
    const levels: LevelState[] = [];
    let w = spec.width;
    let h = spec.height;
    let thumbPage: PageHandle | null = null;
    let thumbReduction = -1;
    if (spec.thumbnailMax) {
      let k = 0;
      while (Math.max(Math.ceil(spec.width / 2 ** k), Math.ceil(spec.height / 2 ** k)) > spec.thumbnailMax) k++;
      thumbReduction = k;
    }
    const lastComputed = Math.max(maxReduction, thumbReduction);
    for (let k = 0; k <= lastComputed; k++) {
      const stored = spec.storedLevels.includes(k);
      let page: PageHandle | null = null;
      if (stored) {
        const pageSpec: PageSpec = {
          width: w,
          height: h,
          tileWidth: ts,
          tileHeight: ts,
          samplesPerPixel: 3,
          photometric: spec.codec === 'jpeg' ? Photometric.YCBCR : Photometric.RGB,
          compression,
          newSubfileType: k === 0 ? 0 : 1,
          ...(spec.codec === 'jpeg' ? { ycbcrSubsampling: [2, 2] as [number, number] } : {}),
          ...(spec.resolutionPerCm ? { resolutionPerCm: spec.resolutionPerCm / 2 ** k } : {}),
        };
        const desc = spec.description?.(k, w, h);
        if (desc !== undefined) pageSpec.description = desc;
        page = writer.addPage(pageSpec);
      }
      levels.push({ reduction: k, width: w, height: h, acc: new Uint8Array(ts * w * 3), filled: 0, y: 0, page, tables: null });
      if (k === 0 && thumbReduction >= 0) {
        const tw = Math.ceil(spec.width / 2 ** thumbReduction);
        const th = Math.ceil(spec.height / 2 ** thumbReduction);
        thumbPage = writer.addPage({
          width: tw,
          height: th,
          rowsPerStrip: 16,
          samplesPerPixel: 3,
          photometric: Photometric.YCBCR,
          ycbcrSubsampling: [2, 2],
          compression: Compression.JPEG,
          description: spec.description ? `${spec.description(0, spec.width, spec.height)?.split('|')[0] ?? ''} -> ${tw}x${th} - ` : undefined,
        } as PageSpec);
      }
      w = Math.ceil(w / 2);
      h = Math.ceil(h / 2);
    }
    const assocPages = (spec.associated ?? []).map((a) => {
      const page = writer.addPage({
        width: a.image.width,
        height: a.image.height,
        rowsPerStrip: a.codec === 'jpeg' ? 16 : 8,
        samplesPerPixel: 3,
        photometric: a.codec === 'jpeg' ? Photometric.YCBCR : Photometric.RGB,
        compression: a.codec === 'jpeg' ? Compression.JPEG : a.codec === 'lzw' ? Compression.LZW : Compression.NONE,
        newSubfileType: a.newSubfileType,
        description: a.description,
        ...(a.codec === 'jpeg' ? { ycbcrSubsampling: [2, 2] as [number, number] } : {}),
      });
      return { page, a };
    });
    let thumbRaster: RasterRgb | null = null;
    const thumbRows: Uint8Array[] = [];

    const encodeTile = async (st: LevelState, raw: Uint8Array): Promise<Buffer> => {
      switch (spec.codec) {
        case 'jpeg': {
          const full = await encodeJpeg(raw, ts, ts, quality);
          if (!shared) return full;
          const { tables, abbreviated } = splitJpegTables(full);
          if (!st.tables) {
            st.tables = tables;
            if (st.page) st.page.spec.jpegTables = tables;
          } else if (!st.tables.equals(tables)) {
            throw new Error('JPEG tables differ between tiles; cannot share JPEGTables');
          }
          return abbreviated;
        }
        case 'deflate':
          return deflateAsync(raw, { level: 6 });
        case 'lzw':
          return Buffer.from(lzwEncode(raw));
        case 'webp':
          return sharp(raw, { raw: { width: ts, height: ts, channels: 3 } }).webp({ quality, lossless: false }).toBuffer();
        default:
          return Buffer.from(raw);
      }
    };

    const flush = async (k: number): Promise<void> => {
      const st = levels[k] as LevelState;
      const rows = st.filled;
      if (rows === 0) return;
      const band = st.acc.subarray(0, rows * st.width * 3);
      if (st.page) {
        const across = Math.ceil(st.width / ts);
        const tileRow = st.y / ts;
        const tiles = await Promise.all(
          Array.from({ length: across }, (_, c) => {
            const raw = new Uint8Array(ts * ts * 3).fill(255);
            const cw = Math.min(ts, st.width - c * ts);
            for (let y = 0; y < rows; y++) raw.set(band.subarray((y * st.width + c * ts) * 3, (y * st.width + c * ts + cw) * 3), y * ts * 3);
            return encodeTile(st, raw);
          }),
        );
        for (let c = 0; c < across; c++) await writer.writeBlock(st.page, tileRow * across + c, tiles[c] as Buffer);
      }
      if (k === thumbReduction) thumbRows.push(band.slice());
      st.y += rows;
      st.filled = 0;
      if (k < lastComputed) {
        const down = halve(band, st.width, rows);
        await push(k + 1, down.data, down.height);
      }
    };

    const push = async (k: number, data: Uint8Array, rows: number): Promise<void> => {
      const st = levels[k] as LevelState;
      let used = 0;
      while (used < rows) {
        const n = Math.min(ts - st.filled, rows - used);
        st.acc.set(data.subarray(used * st.width * 3, (used + n) * st.width * 3), st.filled * st.width * 3);
        st.filled += n;
        used += n;
        if (st.filled === ts || st.y + st.filled === st.height) await flush(k);
      }
    };

    for (let y = 0; y < spec.height; y += ts) {
      const rows = Math.min(ts, spec.height - y);
      const band = await source(y, rows);
      await push(0, band, rows);
      spec.onProgress?.((y + rows) / spec.height);
    }

    if (thumbPage && thumbRows.length > 0) {
      const tw = thumbPage.spec.width;
      const th = thumbPage.spec.height;
      const data = new Uint8Array(tw * th * 3);
      let off = 0;
      for (const r of thumbRows) {
        data.set(r, off);
        off += r.length;
      }
      thumbRaster = { data, width: tw, height: th };
      await writeStrips(writer, thumbPage, thumbRaster, 'jpeg', quality);
    }
    for (const { page, a } of assocPages) await writeStrips(writer, page, a.image, a.codec, quality);
    await writer.finish();
  } catch (err) {
    await writer.abort();
    throw err;
  }
}

/** Writes a raster as strips (full JPEGs, LZW or raw). */
export async function writeStrips(writer: TiffWriter, page: PageHandle, img: RasterRgb, codec: 'jpeg' | 'lzw' | 'none', quality: number): Promise<void> {
  const rowsPer = page.spec.rowsPerStrip ?? img.height;
  for (let s = 0; s * rowsPer < img.height; s++) {
    const rows = Math.min(rowsPer, img.height - s * rowsPer);
    const raw = img.data.subarray(s * rowsPer * img.width * 3, (s * rowsPer + rows) * img.width * 3);
    let bytes: Uint8Array;
    if (codec === 'jpeg') bytes = await encodeJpeg(raw, img.width, rows, quality);
    else if (codec === 'lzw') bytes = lzwEncode(raw);
    else bytes = raw;
    await writer.writeBlock(page, s, bytes);
  }
}
