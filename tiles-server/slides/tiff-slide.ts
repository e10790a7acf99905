/**
 * SlideSource for TIFF-based slides (Aperio SVS, generic pyramidal TIFF,
 * OME-TIFF, QPTIFF). Reads stored tiles, checks each block's bounds before
 * reading it, decodes JPEG/WebP with libvips and everything else in the
 * pool, and composites multi-channel levels in the channel colours.
 */
import { WsiError } from '../../src/core/errors.js';
import { levelDownsample, makeGrid, inGrid, tileRect, type TileGrid } from '../../src/core/tile-grid.js';
import { blockBytes, type BlockDecodeRequest, type DecodedBlock } from '../decode/block-decoder.js';
import { assembleJpeg, checkJpegTile } from '../decode/jpeg.js';
import type { DecodePool } from '../decode/pool.js';
import { decodeWithSharp } from '../decode/sharp-decode.js';
import type { ByteSource } from '../tiff/byte-source.js';
import { Photometric } from '../tiff/tags.js';
import { TiffFile } from '../tiff/tiff-file.js';
import { noteShortBlock } from './read-warnings.js';
import { alphaSampleOf, compressionName, type Layout, type Plane, type PlannedLevel } from './tiff-layout.js';
import { planLayout } from './tiff-layouts.js';
import type { ChannelInfo, RgbImage, SlideMeta, SlideSource } from './types.js';

export interface TiffSlideOptions {
  pool: DecodePool;
}

interface LevelState {
  plan: PlannedLevel;
  grid: TileGrid;
}

/** Tiles of a tiled, single-plane JPEG level are complete JPEGs once the tables are merged in. */
function storesWholeJpegs(plan: PlannedLevel): boolean {
  return plan.mode === 'jpeg' && plan.planes.length === 1 && (plan.planes[0]?.image.ifd.tiled ?? false);
}

function orientedSize(w: number, h: number, orientation: number): [number, number] {
  return orientation >= 5 ? [h, w] : [w, h];
}

export class TiffSlide implements SlideSource {
  readonly meta: SlideMeta;
  private readonly levels: LevelState[];

  private constructor(
    private readonly file: TiffFile,
    layout: Layout,
    private readonly opts: TiffSlideOptions,
  ) {
    const base = layout.levels[0] as PlannedLevel;
    this.levels = layout.levels.map((plan) => ({ plan, grid: makeGrid(plan.width, plan.height, plan.tileWidth, plan.tileHeight) }));
    const [width, height] = orientedSize(base.width, base.height, layout.orientation);
    const channels: ChannelInfo[] | null = layout.channels;
    this.meta = {
      vendor: layout.vendor,
      levels: layout.levels.map((l) => ({
        width: l.width,
        height: l.height,
        downsample: levelDownsample(base, l),
        tileWidth: l.tileWidth,
        tileHeight: l.tileHeight,
        tiled: l.planes[0]?.image.ifd.tiled ?? false,
        passthrough: storesWholeJpegs(l),
      })),
      orientation: layout.orientation,
      width,
      height,
      mpp: layout.mpp,
      objectivePower: layout.objectivePower,
      associated: layout.associated.map((a) => ({ kind: a.kind, width: a.image.ifd.width, height: a.image.ifd.height })),
      channels,
      compression: compressionName(base.planes[0]?.image.ifd.compression ?? 1),
      warnings: layout.warnings,
    };
  }

  static async open(src: ByteSource, opts: TiffSlideOptions): Promise<TiffSlide> {
    const file = await TiffFile.open(src);
    try {
      return new TiffSlide(file, planLayout(file), opts);
    } catch (err) {
      await file.close();
      throw err;
    }
  }

  private level(level: number, col: number, row: number): LevelState {
    const st = this.levels[level];
    if (!st) throw new WsiError('TILE_OUT_OF_RANGE', `level ${level} does not exist`);
    if (!inGrid(st.grid, col, row)) throw new WsiError('TILE_OUT_OF_RANGE', `tile ${col},${row} is outside level ${level}`);
    return st;
  }

  /** Reads the stored bytes of one block, or null for a sparse (empty) block. */
  private async blockData(plane: Plane, level: number, col: number, row: number, signal?: AbortSignal): Promise<Buffer | null> {
    const ifd = plane.image.ifd;
    const perPlane = ifd.blocksAcross * ifd.blocksDown;
    const index = plane.sample * (ifd.planar === 2 ? perPlane : 0) + row * ifd.blocksAcross + col;
    const table = await this.file.blockTable(plane.image);
    const offset = table.offsets[index];
    const count = table.counts[index];
    if (offset === undefined || count === undefined) {
      throw new WsiError('TIFF_BAD_TILE_TABLE', `level ${level} has no table entry for tile ${col},${row}`, { level, col, row });
    }
    if (count === 0) return null;
    const where = { level, col, row, offset, byteCount: count, fileSize: this.file.src.size };
    if (!(offset >= 0) || offset + count > this.file.src.size) {
      throw new WsiError('TIFF_TRUNCATED', `level ${level} tile ${col},${row}: ${count} bytes at offset ${offset} run past the end of the file (${this.file.src.size} bytes)`, where);
    }
    const raw = blockBytes({ width: ifd.blockWidth, height: ifd.blockHeight, samples: ifd.planar === 2 ? 1 : ifd.samplesPerPixel, bitsPerSample: plane.image.bitsPerSample });
    const limit = raw * 2 + 65536;
    if (count > limit) {
      throw new WsiError('TILE_TOO_LARGE', `level ${level} tile ${col},${row} stores ${count} bytes for a ${raw}-byte block`, where);
    }
    try {
      return await this.file.src.read(offset, count, signal);
    } catch (err) {
      if (err instanceof WsiError && err.code === 'TIFF_TRUNCATED') {
        throw new WsiError('TIFF_TRUNCATED', `level ${level} tile ${col},${row} is cut short: the file ended while reading ${count} bytes at ${offset}`, where);
      }
      throw err;
    }
  }

  private jpegFor(plane: Plane, data: Buffer): Buffer {
    const img = plane.image;
    return assembleJpeg(img.jpegTables, data, img.photometric === Photometric.RGB && img.ifd.samplesPerPixel === 3);
  }

  async storedJpeg(level: number, col: number, row: number, signal?: AbortSignal): Promise<Buffer | null> {
    const st = this.level(level, col, row);
    const rect = tileRect(st.grid, col, row);
    if (!storesWholeJpegs(st.plan) || rect.width !== st.grid.tileWidth || rect.height !== st.grid.tileHeight) return null;
    const plane = st.plan.planes[0] as Plane;
    const data = await this.blockData(plane, level, col, row, signal);
    if (!data) return null;
    const jpeg = this.jpegFor(plane, data);
    const h = checkJpegTile(jpeg, st.grid.tileWidth, st.grid.tileHeight, plane.image.ifd.samplesPerPixel);
    if (h.width !== st.grid.tileWidth || h.height !== st.grid.tileHeight) return null;
    return jpeg;
  }

  async readTile(level: number, col: number, row: number, signal?: AbortSignal, channels?: readonly number[]): Promise<RgbImage> {
    const st = this.level(level, col, row);
    const rect = tileRect(st.grid, col, row);
    const planes = st.plan.planes;
    if (planes.length === 1) {
      const data = await this.decodePlane(st, planes[0] as Plane, level, col, row, rect.width, rect.height, 'rgb', signal);
      return { data, width: rect.width, height: rect.height };
    }
    const chosen = channels ?? planes.map((_, i) => i);
    for (const c of chosen) if (!planes[c]) throw new WsiError('BAD_REQUEST', `channel ${c} does not exist (0..${planes.length - 1})`);
    const decoded = await Promise.all(chosen.map((c) => this.decodePlane(st, planes[c] as Plane, level, col, row, rect.width, rect.height, 'gray', signal)));
    const n = rect.width * rect.height;
    const out = new Uint8Array(n * 3);
    const colors: Array<[number, number, number]> =
      this.meta.channels?.map((c) => c.color) ?? (planes.length === 3 ? [[255, 0, 0], [0, 255, 0], [0, 0, 255]] : planes.map(() => [255, 255, 255]));
    for (let k = 0; k < decoded.length; k++) {
      const src = decoded[k] as Uint8Array;
      const [r, g, b] = colors[chosen[k] as number] ?? [255, 255, 255];
      for (let p = 0; p < n; p++) {
        const v = src[p] as number;
        const o = p * 3;
        out[o] = Math.min(255, (out[o] as number) + (((v * r + 127) / 255) | 0));
        out[o + 1] = Math.min(255, (out[o + 1] as number) + (((v * g + 127) / 255) | 0));
        out[o + 2] = Math.min(255, (out[o + 2] as number) + (((v * b + 127) / 255) | 0));
      }
    }
    return { data: out, width: rect.width, height: rect.height };
  }

  /** Decodes one plane of a tile to `w`×`h` pixels (RGB or gray). */
  private async decodePlane(
    st: LevelState,
    plane: Plane,
    level: number,
    col: number,
    row: number,
    w: number,
    h: number,
    output: 'rgb' | 'gray',
    signal?: AbortSignal,
  ): Promise<Uint8Array> {
    const channels = output === 'rgb' ? 3 : 1;
    const data = await this.blockData(plane, level, col, row, signal);
    if (!data) return new Uint8Array(w * h * channels).fill(output === 'rgb' ? 255 : 0);
    const img = plane.image;
    const ifd = img.ifd;
    // tiles are always stored whole; only the last strip may be shorter
    const blockRows = ifd.tiled ? ifd.blockHeight : Math.min(ifd.blockHeight, ifd.height - row * ifd.blockHeight);
    if (st.plan.mode === 'jpeg' || st.plan.mode === 'sharp') {
      let input = data;
      if (st.plan.mode === 'jpeg') {
        input = this.jpegFor(plane, data);
        checkJpegTile(input, ifd.blockWidth, ifd.blockHeight, ifd.samplesPerPixel);
      }
      const dec = await decodeWithSharp(input, { maxWidth: ifd.blockWidth, maxHeight: ifd.blockHeight, width: w, height: h, output });
      if (dec.width < w || dec.height < h) {
        throw new WsiError('TILE_DECODE_ERROR', `level ${level} tile ${col},${row} decodes to ${dec.width}x${dec.height}, ${w}x${h} expected`);
      }
      return dec.data;
    }
    const req: BlockDecodeRequest = {
      compression: ifd.compression,
      width: ifd.blockWidth,
      height: blockRows,
      samples: ifd.planar === 2 ? 1 : ifd.samplesPerPixel,
      bitsPerSample: img.bitsPerSample,
      sampleFormat: img.sampleFormat,
      predictor: img.predictor,
      photometric: ifd.planar === 2 ? Photometric.MINISBLACK : img.photometric,
      colorMap: img.colorMap ?? undefined,
      alphaSample: ifd.planar === 2 ? -1 : alphaSampleOf(img),
      output,
      littleEndian: this.file.structure.littleEndian,
    };
    let block: DecodedBlock;
    try {
      block = await this.opts.pool.decode(req, data, signal);
    } catch (err) {
      if (err instanceof WsiError && (err.code === 'TILE_DECODE_ERROR' || err.code === 'TILE_DECODE_OVERFLOW')) {
        throw new WsiError(err.code, `level ${level} tile ${col},${row}: ${err.message}`, { level, col, row });
      }
      throw err;
    }
    if (block.short) noteShortBlock(this.meta.warnings, `level ${level} tile ${col},${row}`, block.short);
    return cropRows(block.data, ifd.blockWidth, w, h, channels);
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

/** Copies the top-left w×h pixels out of a block `stride` pixels wide. */
function cropRows(block: Uint8Array, stride: number, w: number, h: number, channels: number): Uint8Array {
  if (stride === w && block.length === w * h * channels) return block;
  const out = new Uint8Array(w * h * channels);
  for (let y = 0; y < h; y++) out.set(block.subarray(y * stride * channels, (y * stride + w) * channels), y * w * channels);
  return out;
}
