/**
 * The resident form of a mask tile: either one value for all its pixels
 * (`{uniform}`: empty, or filled by an ROI fill) or row runs (`{rle}`).
 *
 * RLE layout (Uint16Array): for each of the MASK_TILE rows in order, the
 * number of runs n, then n pairs (length, value); the lengths of a row add
 * up to MASK_TILE. n = 0 is a row of 0 (the common case in a sparse tile). A brush stroke across a tile costs a few bytes per row,
 * so a painted slide stays far below one byte per painted pixel in memory;
 * the dense 512 × 512 form exists only while a worker edits or draws a tile.
 */
import { MASK_TILE, MASK_TILE_PIXELS } from './mask-grid.js';

export type EncodedTile = { uniform: number } | { rle: Uint16Array };

export const EMPTY_TILE: EncodedTile = { uniform: 0 };

export function isUniform(t: EncodedTile): t is { uniform: number } {
  return 'uniform' in t;
}

/**
 * Where each row of a tile was written, when the tile started blank: rows
 * with min >= max were not touched (all 0); otherwise pixels outside
 * [min, max) are 0. Lets the encoder skip the untouched parts.
 */
export interface RowExtents {
  min: Int16Array;
  max: Int16Array;
}

/** Room for the worst case (every pixel its own run); the result is a copy of the used part. */
const scratch = new Uint16Array(MASK_TILE * (1 + 2 * MASK_TILE));

/** Length of the run of `v` in `dense` from `i` up to `end` (4 bytes at a time where aligned). */
function runEnd(dense: Uint8Array, words: Uint32Array | null, i: number, end: number, v: number): number {
  let e = i + 1;
  if (words && end - e >= 32) {
    while (e < end && e & 3) {
      if (dense[e] !== v) return e;
      e++;
    }
    const v4 = (v * 0x01010101) >>> 0;
    while (e + 4 <= end && words[e >> 2] === v4) e += 4;
  }
  while (e < end && dense[e] === v) e++;
  return e;
}

/**
 * Run-length encodes a dense tile; a tile of one value becomes `{uniform}`.
 * With `extents` (the tile started blank) untouched rows and row ends are
 * known to be 0 and are not scanned.
 */
export function encodeTile(dense: Uint8Array, extents?: RowExtents): EncodedTile {
  if (dense.length !== MASK_TILE_PIXELS) throw new RangeError(`a mask tile has ${MASK_TILE_PIXELS} pixels, got ${dense.length}`);
  const words = dense.byteOffset % 4 === 0 ? new Uint32Array(dense.buffer, dense.byteOffset, MASK_TILE_PIXELS / 4) : null;
  const first = dense[0] as number;
  let full = true;
  if (extents) for (let y = 0; y < MASK_TILE && full; y++) full = extents.min[y] === 0 && extents.max[y] === MASK_TILE;
  if (full && runEnd(dense, words, 0, MASK_TILE_PIXELS, first) === MASK_TILE_PIXELS) return { uniform: first };
  if (extents && !full) {
    let any = false;
    for (let y = 0; y < MASK_TILE && !any; y++) any = (extents.min[y] as number) < (extents.max[y] as number);
    if (!any) return { uniform: 0 };
  }
  const out = scratch;
  let o = 0;
  for (let y = 0; y < MASK_TILE; y++) {
    const row = y * MASK_TILE;
    const countAt = o++;
    let n = 0;
    let lo = 0;
    let hi = MASK_TILE;
    if (extents) {
      lo = Math.max(0, extents.min[y] as number);
      hi = Math.min(MASK_TILE, extents.max[y] as number);
      if (lo >= hi) {
        out[countAt] = 0;
        continue;
      }
    }
    let x = 0;
    while (x < MASK_TILE) {
      const v = dense[row + x] as number;
      let e: number;
      if (x < lo) {
        // known zeros up to lo, and on while the written part is 0 too
        e = lo;
        if (dense[row + lo] === 0) e = runEnd(dense, words, row + lo, row + hi, 0) - row;
      } else if (x >= hi) e = MASK_TILE;
      else e = runEnd(dense, words, row + x, row + hi, v) - row;
      // a run of 0 reaching the written part's end goes on to the row's end
      if (v === 0 && e === hi) e = MASK_TILE;
      out[o++] = e - x;
      out[o++] = v;
      n++;
      x = e;
    }
    if (n === 1 && out[o - 1] === 0) {
      // a row of 0
      o -= 2;
      n = 0;
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
    if (n === 0) dense.fill(0, x, x + MASK_TILE);
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
    if (n === 0) counts[0] = (counts[0] as number) + MASK_TILE;
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
