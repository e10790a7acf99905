/**
 * Renders the pixels a plan (plan.ts) asks for: composes decoded tiles of
 * one stored level, resamples with libvips, orients and encodes. Work per
 * request is bounded by `maxSourcePixels`.
 */
import sharp from 'sharp';
import { WsiError } from '../../src/core/errors.js';
import { makeGrid, tilesCovering, type Rect } from '../../src/core/tile-grid.js';
import type { RgbImage } from '../slides/types.js';
import { orientRaster } from './orientation.js';
import type { ComposePlan, EncodeOptions } from './plan.js';
import type { TileReader } from './tile-reader.js';

export type { EncodeOptions, OutputFormat, OutputQuality } from './plan.js';

export interface Rendered {
  bytes: Buffer;
  /** True when the bytes are the stored tile, not re-encoded. */
  passthrough: boolean;
}

export interface RenderLimits {
  /** Most stored-level pixels one request may decode. */
  maxSourcePixels: number;
  /** Tiles decoded at once for one request. */
  tileConcurrency: number;
}

async function mapLimited<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  });
  await Promise.all(workers);
  return out;
}

export async function encodeRaster(img: RgbImage, outWidth: number, outHeight: number, enc: EncodeOptions): Promise<Buffer> {
  let pipe = sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } });
  if (outWidth !== img.width || outHeight !== img.height) {
    pipe = pipe.resize(outWidth, outHeight, { fit: 'fill', kernel: outWidth < img.width ? 'lanczos3' : 'cubic' });
  }
  if (enc.quality === 'gray') pipe = pipe.toColourspace('b-w');
  if (enc.quality === 'bitonal') pipe = pipe.toColourspace('b-w').threshold(128);
  switch (enc.format) {
    case 'png':
      return pipe.png({ compressionLevel: 3 }).toBuffer();
    case 'webp':
      return pipe.webp({ quality: enc.jpegQuality }).toBuffer();
    default:
      return pipe.jpeg({ quality: enc.jpegQuality, chromaSubsampling: '4:2:0', optimiseCoding: false }).toBuffer();
  }
}

/** Composes the stored-level rectangle `rect` of `level` from its tiles (of the chosen channels, if any). */
export async function composeLevelRect(reader: TileReader, level: number, rect: Rect, limits: RenderLimits, signal?: AbortSignal, channels?: readonly number[]): Promise<RgbImage> {
  const info = reader.slide.meta.levels[level];
  if (!info) throw new WsiError('TILE_OUT_OF_RANGE', `level ${level} does not exist`);
  if (rect.width * rect.height > limits.maxSourcePixels) {
    throw new WsiError('REGION_TOO_LARGE', `region needs ${rect.width}x${rect.height} source pixels (limit ${limits.maxSourcePixels})`);
  }
  const grid = makeGrid(info.width, info.height, info.tileWidth, info.tileHeight);
  const { col0, row0, col1, row1 } = tilesCovering(grid, rect);
  const jobs: Array<{ col: number; row: number }> = [];
  for (let row = row0; row <= row1; row++) for (let col = col0; col <= col1; col++) jobs.push({ col, row });
  const canvas = new Uint8Array(rect.width * rect.height * 3);
  await mapLimited(jobs, limits.tileConcurrency, async ({ col, row }) => {
    const tile = await reader.read(level, col, row, signal, channels);
    const tx = col * grid.tileWidth;
    const ty = row * grid.tileHeight;
    const x0 = Math.max(rect.x, tx);
    const y0 = Math.max(rect.y, ty);
    const x1 = Math.min(rect.x + rect.width, tx + tile.width);
    const y1 = Math.min(rect.y + rect.height, ty + tile.height);
    for (let y = y0; y < y1; y++) {
      const src = ((y - ty) * tile.width + (x0 - tx)) * 3;
      const dst = ((y - rect.y) * rect.width + (x0 - rect.x)) * 3;
      canvas.set(tile.data.subarray(src, src + (x1 - x0) * 3), dst);
    }
  });
  return { data: canvas, width: rect.width, height: rect.height };
}

/**
 * Carries out a compose plan: reads the level rectangle from its tiles,
 * resamples it to the output size with libvips, turns it into display
 * orientation and encodes it.
 */
export async function renderComposed(reader: TileReader, plan: ComposePlan, enc: EncodeOptions, limits: RenderLimits, signal?: AbortSignal): Promise<Buffer> {
  const img = await composeLevelRect(reader, plan.level, plan.rect, limits, signal, plan.channels);
  if (plan.orientation === 1) return encodeRaster(img, plan.outWidth, plan.outHeight, enc);
  const raw = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(plan.outWidth, plan.outHeight, { fit: 'fill' })
    .raw()
    .toBuffer();
  const turned = orientRaster(plan.orientation, raw, plan.outWidth, plan.outHeight);
  return encodeRaster(turned, turned.width, turned.height, enc);
}
