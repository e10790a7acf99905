/**
 * Painted pixels per class inside a region: the mask's pixels whose centre
 * lies inside the polygon (even-odd, the same spans the rasterizer paints),
 * counted span by span on the tiles it crosses. A uniform tile is counted
 * without decoding; others are decoded once each, one band of tiles at a time. For the per-ROI
 * measurements (viewer/measurements-view.ts).
 */
import { MASK_TILE, tileKey } from './mask-grid.js';
import { polygonSpans, type PixelBox } from './raster.js';
import { decodeTile, isUniform, type EncodedTile } from './rle.js';

/**
 * @param rings each ring flat [x0, y0, x1, y1, …] in level-0 pixels
 * @param clip the slide's pixels (or less): integer box, half-open
 * @param tileAt the resident tile at (tx, ty), or null (unpainted)
 * @returns pixels per class id (index = id; 0 = unlabelled, painted-over nothing)
 */
export function maskCountsInRings(rings: ArrayLike<number>[], clip: PixelBox, tileAt: (tx: number, ty: number) => EncodedTile | null): Float64Array {
  const counts = new Float64Array(256);
  const dense = new Map<string, Uint8Array | number | null>();
  const tileOf = (tx: number, ty: number): Uint8Array | number | null => {
    const k = tileKey(tx, ty);
    let d = dense.get(k);
    if (d === undefined) {
      const t = tileAt(tx, ty);
      d = t === null ? null : isUniform(t) ? t.uniform : decodeTile(t);
      dense.set(k, d);
    }
    return d;
  };
  let band = -1;
  polygonSpans(rings, clip, (y, x0, x1) => {
    const ty = Math.floor(y / MASK_TILE);
    // rows come in increasing y: a band of tiles is done once the next begins (memory stays one band)
    if (ty !== band) {
      dense.clear();
      band = ty;
    }
    const row = (y - ty * MASK_TILE) * MASK_TILE;
    for (let tx = Math.floor(x0 / MASK_TILE); tx * MASK_TILE < x1; tx++) {
      const a = Math.max(x0, tx * MASK_TILE);
      const b = Math.min(x1, (tx + 1) * MASK_TILE);
      const d = tileOf(tx, ty);
      if (d === null) counts[0] = (counts[0] as number) + (b - a);
      else if (typeof d === 'number') counts[d] = (counts[d] as number) + (b - a);
      else for (let x = a; x < b; x++) counts[d[row + x - tx * MASK_TILE] as number]++;
    }
  });
  return counts;
}
