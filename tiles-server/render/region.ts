/**
 * Renders any region of a slide at any size: picks the stored level, passes
 * a stored JPEG tile through untouched when the request is exactly that
 * tile, and otherwise composes decoded tiles, resamples with libvips and
 * encodes. Work per request is bounded by `maxSourcePixels`.
 */
import sharp from 'sharp';
import { WsiError } from '../../src/core/errors.js';
import { chooseLevel, makeGrid, tilesCovering, type Rect } from '../../src/core/tile-grid.js';
import type { RgbImage, SlideSource } from '../slides/types.js';
import { displayRectToStored, orientRaster, transposes } from './orientation.js';
import type { TileReader } from './tile-reader.js';

export type OutputFormat = 'jpeg' | 'png' | 'webp';
export type OutputQuality = 'default' | 'color' | 'gray' | 'bitonal';

export interface EncodeOptions {
  format: OutputFormat;
  quality: OutputQuality;
  jpegQuality: number;
}

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

/** Composes the stored-level rectangle `rect` of `level` from its tiles. */
export async function composeLevelRect(reader: TileReader, level: number, rect: Rect, limits: RenderLimits, signal?: AbortSignal): Promise<RgbImage> {
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
    const tile = await reader.read(level, col, row, signal);
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
 * Renders a rectangle of a stored level (stored orientation) at an output
 * size. Passes the stored JPEG through when the request is exactly one tile.
 */
export async function renderLevelRect(
  reader: TileReader,
  level: number,
  rect: Rect,
  outWidth: number,
  outHeight: number,
  enc: EncodeOptions,
  limits: RenderLimits,
  signal?: AbortSignal,
): Promise<Rendered> {
  const info = reader.slide.meta.levels[level];
  if (!info) throw new WsiError('TILE_OUT_OF_RANGE', `level ${level} does not exist`);
  const aligned =
    enc.format === 'jpeg' &&
    (enc.quality === 'default' || enc.quality === 'color') &&
    outWidth === rect.width &&
    outHeight === rect.height &&
    rect.width === info.tileWidth &&
    rect.height === info.tileHeight &&
    rect.x % info.tileWidth === 0 &&
    rect.y % info.tileHeight === 0;
  if (aligned) {
    const bytes = await reader.slide.passthroughTile(level, rect.x / info.tileWidth, rect.y / info.tileHeight, signal);
    if (bytes) return { bytes, passthrough: true };
  }
  const img = await composeLevelRect(reader, level, rect, limits, signal);
  return { bytes: await encodeRaster(img, outWidth, outHeight, enc), passthrough: false };
}

/**
 * Renders a display-space rectangle of level 0 at an output size: maps the
 * orientation, picks the stored level (coarser ones if the best would
 * exceed the budget), and orients the result.
 */
export async function renderRegion(
  reader: TileReader,
  rectL0: Rect,
  outWidth: number,
  outHeight: number,
  enc: EncodeOptions,
  limits: RenderLimits,
  signal?: AbortSignal,
): Promise<Rendered> {
  const slide: SlideSource = reader.slide;
  const meta = slide.meta;
  const base = meta.levels[0];
  if (!base) throw new WsiError('INTERNAL', 'slide has no levels');
  const o = meta.orientation;
  const stored = displayRectToStored(o, rectL0, base.width, base.height);
  const [outW, outH] = transposes(o) ? [outHeight, outWidth] : [outWidth, outHeight];
  const wanted = Math.min(stored.width / outW, stored.height / outH);
  const downsamples = meta.levels.map((l) => l.downsample);
  let level = chooseLevel(downsamples, wanted);
  for (;;) {
    const info = meta.levels[level];
    if (!info) throw new WsiError('INTERNAL', 'level vanished');
    const sx = info.width / base.width;
    const sy = info.height / base.height;
    const x0 = Math.max(0, Math.floor(stored.x * sx + 1e-9));
    const y0 = Math.max(0, Math.floor(stored.y * sy + 1e-9));
    const x1 = Math.min(info.width, Math.max(x0 + 1, Math.ceil((stored.x + stored.width) * sx - 1e-9)));
    const y1 = Math.min(info.height, Math.max(y0 + 1, Math.ceil((stored.y + stored.height) * sy - 1e-9)));
    const rect = { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
    if (rect.width * rect.height > limits.maxSourcePixels && level < meta.levels.length - 1) {
      level++;
      continue;
    }
    if (o === 1) return renderLevelRect(reader, level, rect, outW, outH, enc, limits, signal);
    const img = await composeLevelRect(reader, level, rect, limits, signal);
    const raw = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
      .resize(outW, outH, { fit: 'fill' })
      .raw()
      .toBuffer();
    const turned = orientRaster(o, raw, outW, outH);
    return { bytes: await encodeRaster(turned, turned.width, turned.height, enc), passthrough: false };
  }
}
