/**
 * Which stored pixels answer a request, decided in one place for DZI tiles,
 * IIIF regions and thumbnails alike: the pyramid level to read, the
 * rectangle of it, and whether one stored tile can be sent as it is.
 *
 * A request that lies exactly on the grid of a power-of-two level (origin
 * on a multiple of 2^k, output = region / 2^k rounded up) reads that level
 * pixel for pixel; any other picks the coarsest level that still has the
 * resolution, falling back to coarser ones while the read would exceed the
 * source-pixel budget.
 */
import { chooseLevel, exactPowerOfTwo, type Rect } from '../../src/core/tile-grid.js';
import type { SlideMeta } from '../slides/types.js';
import { displayRectToStored, transposes } from './orientation.js';

export type OutputFormat = 'jpeg' | 'png' | 'webp';
export type OutputQuality = 'default' | 'color' | 'gray' | 'bitonal';

export interface EncodeOptions {
  format: OutputFormat;
  quality: OutputQuality;
  jpegQuality: number;
}

/** A request in display space: a level-0 rectangle shown at an output size. */
export interface RegionRequest {
  rect: Rect;
  outWidth: number;
  outHeight: number;
  enc: EncodeOptions;
  /** Channels of a multi-channel slide to composite (render/channels.ts); all when absent. */
  channels?: readonly number[];
}

/** Read `rect` of stored `level` (stored orientation), resample to the output size, orient, encode. */
export interface ComposePlan {
  kind: 'compose';
  level: number;
  rect: Rect;
  /** Output size in stored orientation (swapped for orientations 5–8). */
  outWidth: number;
  outHeight: number;
  orientation: number;
  /** Channels to composite, when the request chose some. */
  channels?: readonly number[];
}

/** Send stored tile (col,row) of `level` as it is; compose with `fallback` if the source cannot. */
export interface StoredPlan {
  kind: 'stored';
  level: number;
  col: number;
  row: number;
  fallback: ComposePlan;
}

export type RenderPlan = ComposePlan | StoredPlan;

/**
 * The level rectangle of an exact power-of-two fit, or null when the request
 * is not on such a grid. A region cut short by the image edge (the last DZI
 * column, a few pixels wide) still shows its factor on the other axis, so
 * both axes propose one.
 */
function exactFit(meta: SlideMeta, stored: Rect, outW: number, outH: number): { level: number; rect: Rect } | null {
  const base = meta.levels[0];
  if (!base) return null;
  const proposals = [Math.round(Math.log2(stored.width / outW)), Math.round(Math.log2(stored.height / outH))].sort((a, b) => b - a);
  for (const k of new Set(proposals)) {
    if (k < 0) continue;
    const f = 2 ** k;
    if (stored.x % f !== 0 || stored.y % f !== 0 || outW !== Math.ceil(stored.width / f) || outH !== Math.ceil(stored.height / f)) continue;
    const level = meta.levels.findIndex((l) => exactPowerOfTwo(base, l) === k);
    const info = meta.levels[level];
    if (!info) return null;
    const x = stored.x / f;
    const y = stored.y / f;
    if (x >= info.width || y >= info.height) return null;
    return { level, rect: { x, y, width: Math.max(1, Math.min(outW, info.width - x)), height: Math.max(1, Math.min(outH, info.height - y)) } };
  }
  return null;
}

/** The rectangle of `level` under a stored-space level-0 rectangle. */
function levelRect(meta: SlideMeta, level: number, stored: Rect): Rect {
  const base = meta.levels[0] as SlideMeta['levels'][number];
  const info = meta.levels[level] as SlideMeta['levels'][number];
  const sx = info.width / base.width;
  const sy = info.height / base.height;
  const x0 = Math.max(0, Math.floor(stored.x * sx + 1e-9));
  const y0 = Math.max(0, Math.floor(stored.y * sy + 1e-9));
  const x1 = Math.min(info.width, Math.max(x0 + 1, Math.ceil((stored.x + stored.width) * sx - 1e-9)));
  const y1 = Math.min(info.height, Math.max(y0 + 1, Math.ceil((stored.y + stored.height) * sy - 1e-9)));
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** Whether the output is one whole stored tile, unscaled, in a form the stored JPEG already is. */
function isStoredTile(meta: SlideMeta, plan: ComposePlan, enc: EncodeOptions): boolean {
  const info = meta.levels[plan.level];
  if (!info || !info.passthrough || plan.orientation !== 1) return false;
  if (enc.format !== 'jpeg' || (enc.quality !== 'default' && enc.quality !== 'color')) return false;
  const r = plan.rect;
  return (
    plan.outWidth === r.width &&
    plan.outHeight === r.height &&
    r.width === info.tileWidth &&
    r.height === info.tileHeight &&
    r.x % info.tileWidth === 0 &&
    r.y % info.tileHeight === 0
  );
}

export function planRender(meta: SlideMeta, req: RegionRequest, maxSourcePixels: number): RenderPlan {
  const base = meta.levels[0];
  if (!base) throw new Error('slide has no levels');
  const o = meta.orientation;
  const stored = displayRectToStored(o, req.rect, base.width, base.height);
  const [outWidth, outHeight] = transposes(o) ? [req.outHeight, req.outWidth] : [req.outWidth, req.outHeight];
  const exact = exactFit(meta, stored, outWidth, outHeight);
  let compose: ComposePlan;
  if (exact && exact.rect.width * exact.rect.height <= maxSourcePixels) {
    compose = { kind: 'compose', level: exact.level, rect: exact.rect, outWidth, outHeight, orientation: o };
  } else {
    const wanted = Math.min(stored.width / outWidth, stored.height / outHeight);
    let level = chooseLevel(
      meta.levels.map((l) => l.downsample),
      wanted,
    );
    let rect = levelRect(meta, level, stored);
    while (rect.width * rect.height > maxSourcePixels && level < meta.levels.length - 1) {
      level++;
      rect = levelRect(meta, level, stored);
    }
    compose = { kind: 'compose', level, rect, outWidth, outHeight, orientation: o };
  }
  if (req.channels) compose.channels = req.channels;
  // a stored tile holds every channel: a selection is always composed
  if (req.channels || !isStoredTile(meta, compose, req.enc)) return compose;
  const info = meta.levels[compose.level] as SlideMeta['levels'][number];
  return { kind: 'stored', level: compose.level, col: compose.rect.x / info.tileWidth, row: compose.rect.y / info.tileHeight, fallback: compose };
}
