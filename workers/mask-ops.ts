/**
 * Mask editing as pure functions (run in the mask worker, tested in Node):
 * brush strokes, polygon fills and flood fills written into dense copies of
 * the touched tiles, the pyramid reduction, colouring for display, and the
 * tile wire format (zlib of the 512 × 512 bytes). Tiles come in and go out
 * in their resident form (see src/core/mask/rle.ts); typed arrays are
 * transferred by the worker wrapper.
 */
import { Unzlib, zlibSync } from 'fflate';
import { flatBounds } from '../src/core/flat-geometry.js';
import { downsample2 } from '../src/core/mask/downsample.js';
import { MASK_TILE, MASK_TILE_PIXELS, tileKey } from '../src/core/mask/mask-grid.js';
import { polygonSpans, strokeSpans, type PixelBox } from '../src/core/mask/raster.js';
import { decodeTileInto, encodeTile, isUniform, tilesEqual, type EncodedTile } from '../src/core/mask/rle.js';
import type { PackedTile, PaintJob, PaintResult, TileIn, TileOut } from './protocol.js';

/** Dense working copies of the tiles a job touches. */
class TileSet {
  private readonly dense = new Map<string, Uint8Array>();
  private readonly input = new Map<string, EncodedTile | null>();
  changedPixels = 0;
  /** Pixels left alone because their class is protected. */
  keptPixels = 0;
  /** 1 at the class ids whose pixels are not written (null: none). */
  private readonly protect: Uint8Array | null;

  constructor(tiles: TileIn[], protect: readonly number[] = []) {
    for (const t of tiles) this.input.set(t.key, t.tile);
    this.protect = protect.length ? new Uint8Array(256) : null;
    for (const id of protect) if (this.protect && id > 0 && id < 256) this.protect[id] = 1;
  }

  get(tx: number, ty: number): Uint8Array {
    const key = tileKey(tx, ty);
    let d = this.dense.get(key);
    if (!d) {
      d = new Uint8Array(MASK_TILE_PIXELS);
      const t = this.input.get(key);
      if (t) decodeTileInto(t, d);
      this.dense.set(key, d);
    }
    return d;
  }

  /** A dense copy of the level-0 pixels in `b` (row-major). */
  window(b: PixelBox): Uint8Array {
    const w = b.x1 - b.x0;
    const out = new Uint8Array(w * (b.y1 - b.y0));
    for (let ty = Math.floor(b.y0 / MASK_TILE); ty * MASK_TILE < b.y1; ty++) {
      for (let tx = Math.floor(b.x0 / MASK_TILE); tx * MASK_TILE < b.x1; tx++) {
        const d = this.get(tx, ty);
        const x0 = Math.max(b.x0, tx * MASK_TILE);
        const x1 = Math.min(b.x1, (tx + 1) * MASK_TILE);
        for (let y = Math.max(b.y0, ty * MASK_TILE); y < Math.min(b.y1, (ty + 1) * MASK_TILE); y++) {
          const src = (y - ty * MASK_TILE) * MASK_TILE + (x0 - tx * MASK_TILE);
          out.set(d.subarray(src, src + (x1 - x0)), (y - b.y0) * w + (x0 - b.x0));
        }
      }
    }
    return out;
  }

  /** Sets pixels x0..x1-1 of row y. */
  span(y: number, x0: number, x1: number, value: number): void {
    const ty = Math.floor(y / MASK_TILE);
    const row = (y - ty * MASK_TILE) * MASK_TILE;
    let x = x0;
    while (x < x1) {
      const tx = Math.floor(x / MASK_TILE);
      const end = Math.min(x1, (tx + 1) * MASK_TILE);
      const d = this.get(tx, ty);
      const a = row + (x - tx * MASK_TILE);
      const b = row + (end - tx * MASK_TILE);
      const keep = this.protect;
      for (let i = a; i < b; i++) {
        const was = d[i] as number;
        if (was === value) continue;
        if (keep && keep[was]) {
          this.keptPixels++;
          continue;
        }
        d[i] = value;
        this.changedPixels++;
      }
      x = end;
    }
  }

  results(): TileOut[] {
    const out: TileOut[] = [];
    for (const [key, d] of this.dense) {
      const tile = encodeTile(d);
      const before = this.input.get(key) ?? { uniform: 0 };
      if (tilesEqual(tile, before)) continue;
      out.push({ key, tile });
    }
    return out;
  }
}

/** Spans of a row, gathered per row of a box, so they can be clipped. */
class RowSpans {
  readonly rows: number[][];

  constructor(readonly y0: number, height: number) {
    this.rows = Array.from({ length: Math.max(0, height) }, () => []);
  }

  add = (y: number, x0: number, x1: number): void => {
    this.rows[y - this.y0]?.push(x0, x1);
  };
}

/** Union of span lists (each sorted, non-overlapping) of one row. */
function union(spans: number[]): number[] {
  if (spans.length <= 2) return spans;
  const pairs: Array<[number, number]> = [];
  for (let i = 0; i < spans.length; i += 2) pairs.push([spans[i] as number, spans[i + 1] as number]);
  pairs.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [a, b] of pairs) {
    const n = out.length;
    if (n && a <= (out[n - 1] as number)) out[n - 1] = Math.max(out[n - 1] as number, b);
    else out.push(a, b);
  }
  return out;
}

/** Intersection of two sorted, non-overlapping span lists. */
function intersect(a: number[], b: number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const lo = Math.max(a[i] as number, b[j] as number);
    const hi = Math.min(a[i + 1] as number, b[j + 1] as number);
    if (lo < hi) out.push(lo, hi);
    if ((a[i + 1] as number) < (b[j + 1] as number)) i += 2;
    else j += 2;
  }
  return out;
}

function boxOf(points: ArrayLike<number>, pad: number, bounds: PixelBox): PixelBox {
  const [x0, y0, x1, y1] = flatBounds(points);
  return {
    x0: Math.max(bounds.x0, Math.floor(x0 - pad)),
    y0: Math.max(bounds.y0, Math.floor(y0 - pad)),
    x1: Math.min(bounds.x1, Math.ceil(x1 + pad) + 1),
    y1: Math.min(bounds.y1, Math.ceil(y1 + pad) + 1),
  };
}

/** Row spans of the union of the clip polygons within `box`. */
function clipSpans(clip: Float64Array[][], box: PixelBox): RowSpans {
  const rs = new RowSpans(box.y0, box.y1 - box.y0);
  for (const poly of clip) polygonSpans(poly, box, rs.add);
  for (let i = 0; i < rs.rows.length; i++) rs.rows[i] = union(rs.rows[i] as number[]);
  return rs;
}

function writeClipped(set: TileSet, shape: RowSpans, clip: RowSpans | null, value: number): void {
  shape.rows.forEach((spans, i) => {
    if (spans.length === 0) return;
    const y = shape.y0 + i;
    let s = union(spans);
    if (clip) s = intersect(s, clip.rows[y - clip.y0] ?? []);
    for (let k = 0; k < s.length; k += 2) set.span(y, s[k] as number, s[k + 1] as number, value);
  });
}

function paintStroke(set: TileSet, job: PaintJob): void {
  const { path, radius } = job.stroke as { path: Float64Array; radius: number };
  const box = boxOf(path, radius, job.bounds);
  if (box.x1 <= box.x0 || box.y1 <= box.y0) return;
  const shape = new RowSpans(box.y0, box.y1 - box.y0);
  strokeSpans(path, radius, box, shape.add);
  writeClipped(set, shape, job.clip ? clipSpans(job.clip, box) : null, job.value);
}

function paintPolygons(set: TileSet, job: PaintJob): void {
  for (const poly of job.polygons ?? []) {
    const all = new Float64Array(poly.reduce((n, r) => n + r.length, 0));
    let o = 0;
    for (const r of poly) {
      all.set(r, o);
      o += r.length;
    }
    const box = boxOf(all, 0, job.bounds);
    if (box.x1 <= box.x0 || box.y1 <= box.y0) continue;
    const shape = new RowSpans(box.y0, box.y1 - box.y0);
    polygonSpans(poly, box, shape.add);
    writeClipped(set, shape, job.clip ? clipSpans(job.clip, box) : null, job.value);
  }
}

/**
 * Flood fill within `bounds` (4-connected, pixels equal to the seed's value).
 * A region that reaches the edge of `bounds` where the slide goes on is not
 * closed: nothing is written and the reason is returned.
 */
function flood(set: TileSet, job: PaintJob, slide: PixelBox): string | undefined {
  const b = job.bounds;
  const w = b.x1 - b.x0;
  const h = b.y1 - b.y0;
  const { x, y } = job.flood as { x: number; y: number };
  const sx = Math.floor(x) - b.x0;
  const sy = Math.floor(y) - b.y0;
  if (sx < 0 || sy < 0 || sx >= w || sy >= h) return 'the point is outside the area that can be filled';
  const win = set.window(b);
  const target = win[sy * w + sx] as number;
  if (target === job.value) return 'the region already has this class';
  const seen = new Uint8Array(w * h);
  const stack = new Int32Array(w * h);
  let top = 0;
  stack[top++] = sy * w + sx;
  seen[sy * w + sx] = 1;
  const rows: number[][] = Array.from({ length: h }, () => []);
  const open = { left: b.x0 > slide.x0, right: b.x1 < slide.x1, top: b.y0 > slide.y0, bottom: b.y1 < slide.y1 };
  while (top > 0) {
    const p = stack[--top] as number;
    const py = Math.floor(p / w);
    const base = py * w;
    let l = p - base;
    let r = l;
    // the whole run on this row
    while (l > 0 && !seen[base + l - 1] && win[base + l - 1] === target) seen[base + --l] = 1;
    while (r + 1 < w && !seen[base + r + 1] && win[base + r + 1] === target) seen[base + ++r] = 1;
    if ((l === 0 && open.left) || (r === w - 1 && open.right) || (py === 0 && open.top) || (py === h - 1 && open.bottom)) {
      return 'the region is not closed within the view: close its outline, or zoom out and try again';
    }
    (rows[py] as number[]).push(b.x0 + l, b.x0 + r + 1);
    for (const ny of [py - 1, py + 1]) {
      if (ny < 0 || ny >= h) continue;
      const nb = ny * w;
      for (let i = l; i <= r; i++) {
        if (!seen[nb + i] && win[nb + i] === target) {
          seen[nb + i] = 1;
          stack[top++] = nb + i;
        }
      }
    }
  }
  rows.forEach((spans, i) => {
    const s = union(spans);
    for (let k = 0; k < s.length; k += 2) set.span(b.y0 + i, s[k] as number, s[k + 1] as number, job.value);
  });
  return undefined;
}

/** Runs one edit. `slide` is the whole slide's pixel box (for flood-fill edges). */
export function paint(job: PaintJob, slide: PixelBox = job.bounds): PaintResult {
  if (!Number.isInteger(job.value) || job.value < 0 || job.value > 255) throw new RangeError(`class id must be 0–255, got ${job.value}`);
  const set = new TileSet(job.tiles, job.protect);
  let refused: string | undefined;
  if (job.kind === 'stroke') paintStroke(set, job);
  else if (job.kind === 'polygons') paintPolygons(set, job);
  else refused = flood(set, job, slide);
  if (refused) return { changed: [], pixels: 0, refused };
  return { changed: set.results(), pixels: set.changedPixels, ...(set.keptPixels ? { kept: set.keptPixels } : {}) };
}

/** The tile one level up from four children (top-left, top-right, bottom-left, bottom-right; null = empty). */
export function reduceTiles(children: Array<EncodedTile | null>): EncodedTile {
  const u = children.map((c) => (c === null ? 0 : isUniform(c) ? c.uniform : -1));
  if (u.every((v) => v === u[0] && v !== -1)) return { uniform: u[0] as number };
  const big = new Uint8Array(4 * MASK_TILE_PIXELS);
  const one = new Uint8Array(MASK_TILE_PIXELS);
  children.forEach((c, i) => {
    if (!c || (isUniform(c) && c.uniform === 0)) return;
    decodeTileInto(c, one);
    const ox = (i & 1) * MASK_TILE;
    const oy = (i >> 1) * MASK_TILE;
    for (let y = 0; y < MASK_TILE; y++) big.set(one.subarray(y * MASK_TILE, (y + 1) * MASK_TILE), (oy + y) * 2 * MASK_TILE + ox);
  });
  return encodeTile(downsample2(big, 2 * MASK_TILE, 2 * MASK_TILE));
}

/**
 * RGBA pixels (as Uint32, little-endian ABGR) for display: each class its
 * colour from `lut` (index = class id, 0 = transparent); in outline mode
 * only pixels whose right or lower neighbour differs.
 */
export function colourTile(tile: EncodedTile, lut: Uint32Array, outline: boolean): Uint32Array {
  const out = new Uint32Array(MASK_TILE_PIXELS);
  if (isUniform(tile)) {
    if (!outline) out.fill(lut[tile.uniform] ?? 0);
    return out;
  }
  const d = decodeTileInto(tile, new Uint8Array(MASK_TILE_PIXELS));
  if (!outline) {
    for (let i = 0; i < MASK_TILE_PIXELS; i++) out[i] = lut[d[i] as number] as number;
    return out;
  }
  for (let y = 0; y < MASK_TILE; y++) {
    for (let x = 0; x < MASK_TILE; x++) {
      const i = y * MASK_TILE + x;
      const v = d[i] as number;
      if (v === 0) continue;
      const edge = x === 0 || x === MASK_TILE - 1 || y === 0 || y === MASK_TILE - 1 || d[i - 1] !== v || d[i + 1] !== v || d[i - MASK_TILE] !== v || d[i + MASK_TILE] !== v;
      if (edge) out[i] = lut[v] as number;
    }
  }
  return out;
}

export function compressTile(dense: Uint8Array): Uint8Array {
  return zlibSync(dense, { level: 6 });
}

export function compressEncoded(t: EncodedTile): Uint8Array {
  return compressTile(decodeTileInto(t, new Uint8Array(MASK_TILE_PIXELS)));
}

/**
 * Inflates a stored tile, refusing anything that is not exactly one tile
 * (streamed, so a tile that would inflate to more stops at the bound).
 */
export function decompressTile(bytes: Uint8Array): EncodedTile {
  const dense = new Uint8Array(MASK_TILE_PIXELS);
  let n = 0;
  let over = false;
  let ended = false;
  const inflater = new Unzlib((chunk, final) => {
    if (n + chunk.length > MASK_TILE_PIXELS) over = true;
    else dense.set(chunk, n);
    n += chunk.length;
    if (final) ended = true;
  });
  try {
    for (let i = 0; i < bytes.length && !over; i += 16_384) inflater.push(bytes.subarray(i, Math.min(bytes.length, i + 16_384)), i + 16_384 >= bytes.length);
  } catch (err) {
    throw new Error(`a mask tile could not be inflated: ${(err as Error).message}`);
  }
  if (over) throw new Error(`a mask tile inflated to more than ${MASK_TILE_PIXELS} bytes`);
  if (!ended || n !== MASK_TILE_PIXELS) throw new Error(`a mask tile inflated to ${n} bytes, expected ${MASK_TILE_PIXELS}`);
  return encodeTile(dense);
}

/** Reads the server's tile pack (`WSIM`, count, then tx, ty, version, length, bytes per tile; little-endian). */
export function readPack(buf: ArrayBuffer): PackedTile[] {
  const v = new DataView(buf);
  const magic = String.fromCharCode(v.getUint8(0), v.getUint8(1), v.getUint8(2), v.getUint8(3));
  if (buf.byteLength < 8 || magic !== 'WSIM') throw new Error('not a mask tile pack');
  const n = v.getUint32(4, true);
  const out: PackedTile[] = [];
  let o = 8;
  for (let i = 0; i < n; i++) {
    if (o + 16 > buf.byteLength) throw new Error(`the mask tile pack is truncated at tile ${i}`);
    const tx = v.getInt32(o, true);
    const ty = v.getInt32(o + 4, true);
    const version = v.getUint32(o + 8, true);
    const len = v.getUint32(o + 12, true);
    o += 16;
    if (o + len > buf.byteLength) throw new Error(`the mask tile pack is truncated at tile ${i}`);
    out.push({ tx, ty, version, tile: decompressTile(new Uint8Array(buf, o, len)) });
    o += len;
  }
  return out;
}

