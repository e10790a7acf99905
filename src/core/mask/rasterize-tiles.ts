/**
 * Many polygons into mask tiles, one tile at a time: Flatbush finds the
 * polygons that touch each tile, they are rasterized (polygonSpans, clipped
 * to the tile) into one dense scratch tile in their given order — a later
 * polygon overwrites an earlier one — and the finished tile is handed to
 * the caller (to encode, compress or store) before the next one starts. So
 * a million cells over a whole slide never need more than one dense tile,
 * and the scratch stays in cache.
 */
import Flatbush from 'flatbush';
import { MASK_TILE, MASK_TILE_PIXELS } from './mask-grid.js';
import { polygonSpans, type PixelBox } from './raster.js';
import type { RowExtents } from './rle.js';

export interface PaintPolygon {
  /** Flat rings (even-odd within the polygon). */
  rings: ArrayLike<number>[];
  /** Class id written (0 erases). */
  value: number;
}

export interface TileTarget {
  /**
   * Puts the tile's current content into `dense`, which arrives all 0;
   * returns false when the tile is new (left all 0).
   */
  load(tx: number, ty: number, dense: Uint8Array): boolean;
  /**
   * The tile is finished; `dense` is reused afterwards, so copy or encode it
   * now. `extents` (for a tile that was new) says which parts were written.
   */
  done(tx: number, ty: number, dense: Uint8Array, extents: RowExtents | null): void;
}

/** Below this many pixels a span is written with a loop (fill() has a fixed cost of ~100 ns). */
const FILL_MIN = 64;

const box = new Float64Array(4);

/** The rings' bounding box, into `box` (min x, min y, max x, max y). */
function boxOf(rings: ArrayLike<number>[]): Float64Array {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (let k = 0; k < rings.length; k++) {
    const r = rings[k] as ArrayLike<number>;
    const n = r.length - 1;
    for (let i = 0; i < n; i += 2) {
      const x = r[i] as number;
      const y = r[i + 1] as number;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  box[0] = x0;
  box[1] = y0;
  box[2] = x1;
  box[3] = y1;
  return box;
}

/**
 * Paints `polygons` (in order) into the tiles of `bounds` they touch.
 * Returns the tiles visited and the pixels written.
 */
export function rasterizeIntoTiles(polygons: PaintPolygon[], bounds: PixelBox, target: TileTarget): { tiles: number; pixels: number } {
  const n = polygons.length;
  if (n === 0 || bounds.x1 <= bounds.x0 || bounds.y1 <= bounds.y0) return { tiles: 0, pixels: 0 };
  const cols = Math.ceil(bounds.x1 / MASK_TILE);
  const rows = Math.ceil(bounds.y1 / MASK_TILE);
  const index = new Flatbush(n);
  const touched = new Uint8Array(cols * rows);
  for (const p of polygons) {
    const b = boxOf(p.rings);
    const x0 = b[0] as number;
    const y0 = b[1] as number;
    const x1 = b[2] as number;
    const y1 = b[3] as number;
    if (!(x1 >= x0)) {
      index.add(-1, -1, -1, -1); // empty: never found
      continue;
    }
    index.add(x0, y0, x1, y1);
    const tx0 = Math.max(Math.floor(bounds.x0 / MASK_TILE), Math.floor(x0 / MASK_TILE));
    const ty0 = Math.max(Math.floor(bounds.y0 / MASK_TILE), Math.floor(y0 / MASK_TILE));
    const tx1 = Math.min(cols - 1, Math.floor(x1 / MASK_TILE));
    const ty1 = Math.min(rows - 1, Math.floor(y1 / MASK_TILE));
    for (let ty = ty0; ty <= ty1; ty++) for (let tx = tx0; tx <= tx1; tx++) touched[ty * cols + tx] = 1;
  }
  index.finish();
  const dense = new Uint8Array(MASK_TILE_PIXELS);
  const extents: RowExtents = { min: new Int16Array(MASK_TILE).fill(MASK_TILE), max: new Int16Array(MASK_TILE) };
  let value = 0;
  let ox = 0;
  let oy = 0;
  let pixels = 0;
  const sink = (y: number, x0: number, x1: number): void => {
    const r = y - oy;
    const a = x0 - ox;
    const b = x1 - ox;
    const from = r * MASK_TILE + a;
    const to = from + (b - a);
    pixels += x1 - x0;
    if (a < (extents.min[r] as number)) extents.min[r] = a;
    if (b > (extents.max[r] as number)) extents.max[r] = b;
    if (to - from >= FILL_MIN) dense.fill(value, from, to);
    else for (let i = from; i < to; i++) dense[i] = value;
  };
  /** Puts `dense` back to 0 after a tile: only what was written, unless the tile had loaded content. */
  let loaded = false;
  const clear = (): void => {
    if (loaded) dense.fill(0);
    else {
      for (let r = 0; r < MASK_TILE; r++) {
        const lo = extents.min[r] as number;
        const hi = extents.max[r] as number;
        if (lo < hi) dense.fill(0, r * MASK_TILE + lo, r * MASK_TILE + hi);
      }
    }
    extents.min.fill(MASK_TILE);
    extents.max.fill(0);
  };
  let tiles = 0;
  for (let t = 0; t < touched.length; t++) {
    if (!touched[t]) continue;
    const tx = t % cols;
    const ty = (t - tx) / cols;
    ox = tx * MASK_TILE;
    oy = ty * MASK_TILE;
    const clip: PixelBox = { x0: Math.max(bounds.x0, ox), y0: Math.max(bounds.y0, oy), x1: Math.min(bounds.x1, ox + MASK_TILE), y1: Math.min(bounds.y1, oy + MASK_TILE) };
    if (clip.x1 <= clip.x0 || clip.y1 <= clip.y0) continue;
    // in the given order: a later polygon paints over an earlier one
    const ids = Int32Array.from(index.search(clip.x0, clip.y0, clip.x1, clip.y1)).sort();
    loaded = target.load(tx, ty, dense);
    for (const id of ids) {
      const p = polygons[id] as PaintPolygon;
      value = p.value;
      polygonSpans(p.rings, clip, sink);
    }
    target.done(tx, ty, dense, loaded ? null : extents);
    clear();
    tiles++;
  }
  return { tiles, pixels };
}
