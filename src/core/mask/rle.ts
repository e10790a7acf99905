/**
 * The resident form of a mask tile: either one value for all its pixels
 * (`{uniform}`: empty, or filled by an ROI fill) or row runs (`{rle}`).
 *
 * RLE layout (Uint16Array): for each of the MASK_TILE rows in order, the
 * number of runs n, then n pairs (length, value); the lengths of a row add
 * up to MASK_TILE. A brush stroke across a tile costs a few bytes per row,
 * so a painted slide stays far below one byte per painted pixel in memory;
 * the dense 512 × 512 form exists only while a worker edits or draws a tile.
 */
import { MASK_TILE, MASK_TILE_PIXELS } from './mask-grid.js';

export type EncodedTile = { uniform: number } | { rle: Uint16Array };

export const EMPTY_TILE: EncodedTile = { uniform: 0 };

export function isUniform(t: EncodedTile): t is { uniform: number } {
  return 'uniform' in t;
}

/** Run-length encodes a dense tile; a tile of one value becomes `{uniform}`. */
export function encodeTile(dense: Uint8Array): EncodedTile {
  if (dense.length !== MASK_TILE_PIXELS) throw new RangeError(`a mask tile has ${MASK_TILE_PIXELS} pixels, got ${dense.length}`);
  const first = dense[0] as number;
  let uniform = true;
  for (let i = 1; i < MASK_TILE_PIXELS; i++) {
    if (dense[i] !== first) {
      uniform = false;
      break;
    }
  }
  if (uniform) return { uniform: first };
  // worst case: every pixel its own run
  const out = new Uint16Array(MASK_TILE * (1 + 2 * MASK_TILE));
  let o = 0;
  for (let y = 0; y < MASK_TILE; y++) {
    const row = y * MASK_TILE;
    const countAt = o++;
    let n = 0;
    let x = 0;
    while (x < MASK_TILE) {
      const v = dense[row + x] as number;
      let e = x + 1;
      while (e < MASK_TILE && dense[row + e] === v) e++;
      out[o++] = e - x;
      out[o++] = v;
      n++;
      x = e;
    }
    out[countAt] = n;
  }
  return { rle: out.slice(0, o) };
}

/** Writes the tile's pixels into `dense` (MASK_TILE² bytes). */
export function decodeTileInto(t: EncodedTile, dense: Uint8Array): Uint8Array {
  if (isUniform(t)) {
    dense.fill(t.uniform);
    return dense;
  }
  const r = t.rle;
  let i = 0;
  for (let y = 0; y < MASK_TILE; y++) {
    const n = r[i++] as number;
    let x = y * MASK_TILE;
    for (let k = 0; k < n; k++) {
      const len = r[i++] as number;
      const v = r[i++] as number;
      dense.fill(v, x, x + len);
      x += len;
    }
  }
  return dense;
}

export function decodeTile(t: EncodedTile): Uint8Array {
  return decodeTileInto(t, new Uint8Array(MASK_TILE_PIXELS));
}

/** Pixels per class id (index = id). */
export function tileCounts(t: EncodedTile, counts = new Float64Array(256)): Float64Array {
  if (isUniform(t)) {
    counts[t.uniform] = (counts[t.uniform] as number) + MASK_TILE_PIXELS;
    return counts;
  }
  const r = t.rle;
  let i = 0;
  for (let y = 0; y < MASK_TILE; y++) {
    const n = r[i++] as number;
    for (let k = 0; k < n; k++) {
      const len = r[i++] as number;
      const v = r[i++] as number;
      counts[v] = (counts[v] as number) + len;
    }
  }
  return counts;
}

/** Bytes the tile holds in memory (its typed array; a uniform tile counts 8). */
export function tileBytes(t: EncodedTile): number {
  return isUniform(t) ? 8 : t.rle.byteLength;
}

export function tilesEqual(a: EncodedTile, b: EncodedTile): boolean {
  if (isUniform(a) || isUniform(b)) return isUniform(a) && isUniform(b) && a.uniform === b.uniform;
  if (a.rle.length !== b.rle.length) return false;
  for (let i = 0; i < a.rle.length; i++) if (a.rle[i] !== b.rle[i]) return false;
  return true;
}
