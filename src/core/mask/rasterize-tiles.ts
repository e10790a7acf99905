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
import { ringsBounds } from '../flat-geometry.js';
import { decodeTileInto, encodeTile, isUniform, type EncodedTile, type RowExtents } from './rle.js';

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
  return ringsBounds(rings, box);
}

/**
 * The polygons' bounding boxes in a Flatbush index. Build it once to
 * rasterize the same polygons into several parts of the slide (bands).
 */
export class PolygonIndex {
  readonly index: Flatbush;
  /** Per polygon: min x, min y, max x, max y (an empty polygon: NaN). */
  readonly boxes: Float64Array;

  constructor(readonly polygons: PaintPolygon[]) {
    const n = polygons.length;
    this.index = new Flatbush(Math.max(1, n));
    this.boxes = new Float64Array(4 * n);
    for (let i = 0; i < n; i++) {
      const b = boxOf((polygons[i] as PaintPolygon).rings);
      if (!((b[2] as number) >= (b[0] as number))) {
        this.boxes.fill(Number.NaN, 4 * i, 4 * i + 4);
        this.index.add(-1, -1, -1, -1); // empty: never found
        continue;
      }
      this.boxes.set(b, 4 * i);
      this.index.add(b[0] as number, b[1] as number, b[2] as number, b[3] as number);
    }
    if (n === 0) this.index.add(-1, -1, -1, -1);
    this.index.finish();
  }
}

/** The polygons' index, and which tiles of `bounds` they touch (row-major flags). */
interface Plan {
  index: Flatbush;
  touched: Uint8Array;
  cols: number;
}

function plan(p: PolygonIndex, bounds: PixelBox): Plan | null {
  if (p.polygons.length === 0 || bounds.x1 <= bounds.x0 || bounds.y1 <= bounds.y0) return null;
  const cols = Math.ceil(bounds.x1 / MASK_TILE);
  const rows = Math.ceil(bounds.y1 / MASK_TILE);
  const touched = new Uint8Array(cols * rows);
  const minTx = Math.floor(bounds.x0 / MASK_TILE);
  const minTy = Math.floor(bounds.y0 / MASK_TILE);
  for (const i of p.index.search(bounds.x0, bounds.y0, bounds.x1, bounds.y1)) {
    const b = p.boxes;
    const tx0 = Math.max(minTx, Math.floor((b[4 * i] as number) / MASK_TILE));
    const ty0 = Math.max(minTy, Math.floor((b[4 * i + 1] as number) / MASK_TILE));
    const tx1 = Math.min(cols - 1, Math.floor((b[4 * i + 2] as number) / MASK_TILE));
    const ty1 = Math.min(rows - 1, Math.floor((b[4 * i + 3] as number) / MASK_TILE));
    for (let ty = ty0; ty <= ty1; ty++) for (let tx = tx0; tx <= tx1; tx++) touched[ty * cols + tx] = 1;
  }
  return { index: p.index, touched, cols };
}

/**
 * Visits the touched tiles in row-major order with their clip box and the
 * ids of the polygons that may touch them, in the given order.
 */
function eachTile(p: Plan, bounds: PixelBox, visit: (tx: number, ty: number, clip: PixelBox, ids: Int32Array) => void): number {
  let tiles = 0;
  for (let t = 0; t < p.touched.length; t++) {
    if (!p.touched[t]) continue;
    const tx = t % p.cols;
    const ty = (t - tx) / p.cols;
    const ox = tx * MASK_TILE;
    const oy = ty * MASK_TILE;
    const clip: PixelBox = { x0: Math.max(bounds.x0, ox), y0: Math.max(bounds.y0, oy), x1: Math.min(bounds.x1, ox + MASK_TILE), y1: Math.min(bounds.y1, oy + MASK_TILE) };
    if (clip.x1 <= clip.x0 || clip.y1 <= clip.y0) continue;
    // in the given order: a later polygon paints over an earlier one
    visit(tx, ty, clip, Int32Array.from(p.index.search(clip.x0, clip.y0, clip.x1, clip.y1)).sort());
    tiles++;
  }
  return tiles;
}

/** Writes spans of a tile (tile-local rows and columns) into a dense tile, noting the row extents written. */
class DensePainter {
  readonly dense = new Uint8Array(MASK_TILE_PIXELS);
  readonly extents: RowExtents = { min: new Int16Array(MASK_TILE).fill(MASK_TILE), max: new Int16Array(MASK_TILE) };
  value = 0;
  ox = 0;
  oy = 0;
  pixels = 0;
  /** The tile had content loaded into it (so clearing must wipe it all). */
  loaded = false;

  readonly sink = (y: number, x0: number, x1: number): void => {
    const r = y - this.oy;
    const a = x0 - this.ox;
    const b = x1 - this.ox;
    const from = r * MASK_TILE + a;
    const to = from + (b - a);
    this.pixels += x1 - x0;
    const ext = this.extents;
    if (a < (ext.min[r] as number)) ext.min[r] = a;
    if (b > (ext.max[r] as number)) ext.max[r] = b;
    const dense = this.dense;
    const value = this.value;
    if (to - from >= FILL_MIN) dense.fill(value, from, to);
    else for (let i = from; i < to; i++) dense[i] = value;
  };

  /** Puts `dense` back to 0: only what was written, unless the tile had loaded content. */
  clear(): void {
    const { dense, extents } = this;
    if (this.loaded) dense.fill(0);
    else {
      for (let r = 0; r < MASK_TILE; r++) {
        const lo = extents.min[r] as number;
        const hi = extents.max[r] as number;
        if (lo < hi) dense.fill(0, r * MASK_TILE + lo, r * MASK_TILE + hi);
      }
    }
    extents.min.fill(MASK_TILE);
    extents.max.fill(0);
    this.loaded = false;
  }
}

/**
 * Paints `polygons` (in order) into the tiles of `bounds` they touch, one
 * dense scratch tile at a time. Returns the tiles visited and the pixels
 * written.
 */
export function rasterizeIntoTiles(polygons: PaintPolygon[], bounds: PixelBox, target: TileTarget): { tiles: number; pixels: number } {
  const p = plan(new PolygonIndex(polygons), bounds);
  if (!p) return { tiles: 0, pixels: 0 };
  const painter = new DensePainter();
  const tiles = eachTile(p, bounds, (tx, ty, clip, ids) => {
    painter.ox = tx * MASK_TILE;
    painter.oy = ty * MASK_TILE;
    painter.loaded = target.load(tx, ty, painter.dense);
    for (const id of ids) {
      const poly = polygons[id] as PaintPolygon;
      painter.value = poly.value;
      polygonSpans(poly.rings, clip, painter.sink);
    }
    target.done(tx, ty, painter.dense, painter.loaded ? null : painter.extents);
    painter.clear();
  });
  return { tiles, pixels: painter.pixels };
}

/** Up to this many overlapping spans in a row are resolved as intervals; more are painted into a row buffer. */
const PIECES_MAX = 64;

/**
 * The spans written into one new (blank) tile, kept per row in the order
 * they came, then run-length encoded straight from the spans: no dense tile
 * is written, cleared or scanned. Where spans of a row overlap (a later
 * polygon over an earlier one) the later wins: the row's visible pieces
 * are worked out as intervals, or, past PIECES_MAX spans, by painting them
 * in order into a one-row buffer.
 */
class SpanRows {
  private x0 = new Int16Array(1024);
  private x1 = new Int16Array(1024);
  private v = new Uint8Array(1024);
  private next = new Int32Array(1024);
  private readonly head = new Int32Array(MASK_TILE).fill(-1);
  private readonly tail = new Int32Array(MASK_TILE);
  private count = 0;
  /** One row's spans in arrival order, and sorted by start. */
  private order = new Int32Array(64);
  private sorted = new Int32Array(64);
  private readonly row = new Uint8Array(MASK_TILE);
  /** The visible pieces of an overlapping row: disjoint, sorted by start (at most PIECES_MAX spans give 2·PIECES_MAX + 1 pieces). */
  private readonly ps = new Int16Array(2 * PIECES_MAX + 2);
  private readonly pe = new Int16Array(2 * PIECES_MAX + 2);
  private readonly pv = new Uint8Array(2 * PIECES_MAX + 2);
  /** Rows with spans lie in [rowLo, rowHi). */
  private rowLo = MASK_TILE;
  private rowHi = 0;
  /** Encoder state: next free slot in the scratch, runs in the current row. */
  private o = 0;
  private n = 0;
  value = 0;
  ox = 0;
  oy = 0;
  pixels = 0;

  readonly sink = (y: number, x0: number, x1: number): void => {
    const r = y - this.oy;
    const i = this.count;
    if (i === this.next.length) this.grow();
    this.count = i + 1;
    this.x0[i] = x0 - this.ox;
    this.x1[i] = x1 - this.ox;
    this.v[i] = this.value;
    this.next[i] = -1;
    this.pixels += x1 - x0;
    if (r < this.rowLo) this.rowLo = r;
    if (r >= this.rowHi) this.rowHi = r + 1;
    if (this.head[r] === -1) this.head[r] = i;
    else this.next[this.tail[r] as number] = i;
    this.tail[r] = i;
  };

  private grow(): void {
    const size = this.next.length * 2;
    const x0 = new Int16Array(size);
    x0.set(this.x0);
    this.x0 = x0;
    const x1 = new Int16Array(size);
    x1.set(this.x1);
    this.x1 = x1;
    const v = new Uint8Array(size);
    v.set(this.v);
    this.v = v;
    const next = new Int32Array(size);
    next.set(this.next);
    this.next = next;
  }

  /** Appends a run to the row being encoded, merging it into the previous run of the same value. */
  private run(len: number, v: number): void {
    const out = scratch;
    const o = this.o;
    if (this.n > 0 && out[o - 1] === v) out[o - 2] = (out[o - 2] as number) + len;
    else {
      out[o] = len;
      out[o + 1] = v;
      this.o = o + 2;
      this.n++;
    }
  }

  /** Encodes one row that has spans: its run count, then its runs. */
  private encodeRow(first: number): void {
    let k = 0;
    for (let i = first; i !== -1; i = this.next[i] as number) {
      if (k === this.order.length) {
        const bigger = new Int32Array(2 * k);
        bigger.set(this.order);
        this.order = bigger;
        this.sorted = new Int32Array(2 * k);
      }
      this.order[k++] = i;
    }
    // stable insertion sort by start; overlapping spans need the row painted in order
    const { sorted, order, x0, x1, v } = this;
    for (let a = 0; a < k; a++) {
      const id = order[a] as number;
      const s = x0[id] as number;
      let b = a - 1;
      while (b >= 0 && (x0[sorted[b] as number] as number) > s) {
        sorted[b + 1] = sorted[b] as number;
        b--;
      }
      sorted[b + 1] = id;
    }
    let overlap = false;
    for (let a = 1; a < k && !overlap; a++) overlap = (x1[sorted[a - 1] as number] as number) > (x0[sorted[a] as number] as number);
    const countAt = this.o++;
    this.n = 0;
    let x = 0;
    if (!overlap) {
      for (let a = 0; a < k; a++) {
        const id = sorted[a] as number;
        const s = x0[id] as number;
        if (s > x) this.run(s - x, 0);
        const e = x1[id] as number;
        this.run(e - s, v[id] as number);
        x = e;
      }
    } else if (k <= PIECES_MAX) {
      // later spans win: take them newest first, each adding only the parts not yet covered
      let np = 0;
      const { ps, pe, pv } = this;
      for (let a = k - 1; a >= 0; a--) {
        const id = order[a] as number;
        const e = x1[id] as number;
        const value = v[id] as number;
        let cur = x0[id] as number;
        let j = 0;
        while (j < np && (pe[j] as number) <= cur) j++;
        while (cur < e) {
          if (j < np && (ps[j] as number) <= cur) {
            cur = pe[j] as number;
            j++;
            continue;
          }
          const gapEnd = j < np ? Math.min(e, ps[j] as number) : e;
          ps.copyWithin(j + 1, j, np);
          pe.copyWithin(j + 1, j, np);
          pv.copyWithin(j + 1, j, np);
          ps[j] = cur;
          pe[j] = gapEnd;
          pv[j] = value;
          np++;
          j++;
          cur = gapEnd;
        }
      }
      for (let j = 0; j < np; j++) {
        const s = ps[j] as number;
        if (s > x) this.run(s - x, 0);
        const e = pe[j] as number;
        this.run(e - s, pv[j] as number);
        x = e;
      }
    } else {
      // many overlapping spans: paint them in order into one row
      const row = this.row;
      let lo = MASK_TILE;
      let hi = 0;
      for (let a = 0; a < k; a++) {
        const id = order[a] as number;
        const s = x0[id] as number;
        const e = x1[id] as number;
        row.fill(v[id] as number, s, e);
        if (s < lo) lo = s;
        if (e > hi) hi = e;
      }
      if (lo > 0) this.run(lo, 0);
      x = lo;
      while (x < hi) {
        const value = row[x] as number;
        let e = x + 1;
        while (e < hi && row[e] === value) e++;
        this.run(e - x, value);
        x = e;
      }
      row.fill(0, lo, hi);
    }
    if (x < MASK_TILE) this.run(MASK_TILE - x, 0);
    if (this.n === 1 && scratch[this.o - 1] === 0) {
      // a row of 0
      this.o -= 2;
      this.n = 0;
    }
    scratch[countAt] = this.n;
  }

  /** The tile as encodeTile() would encode the same pixels; empties the rows for the next tile. */
  encode(): EncodedTile {
    const out = scratch;
    const lo = this.rowLo;
    const hi = this.rowHi;
    this.rowLo = MASK_TILE;
    this.rowHi = 0;
    this.count = 0;
    if (lo >= hi) return { uniform: 0 };
    // rows without spans are 0: a run count of 0 each
    out.fill(0, 0, lo);
    this.o = lo;
    let uniform = lo > 0 ? 0 : -1; // the value of every row so far when each is one run; -2: not uniform
    for (let y = lo; y < hi; y++) {
      const first = this.head[y] as number;
      let rowValue = 0;
      if (first === -1) out[this.o++] = 0;
      else {
        this.head[y] = -1;
        this.encodeRow(first);
        rowValue = this.n === 0 ? 0 : this.n === 1 ? (out[this.o - 1] as number) : -2;
      }
      if (uniform === -1) uniform = rowValue;
      else if (uniform !== rowValue) uniform = -2;
    }
    if (hi < MASK_TILE && uniform !== 0) uniform = -2;
    out.fill(0, this.o, this.o + (MASK_TILE - hi));
    this.o += MASK_TILE - hi;
    return uniform >= 0 ? { uniform } : { rle: out.slice(0, this.o) };
  }
}

/** Room for the worst case (every pixel its own run). */
const scratch = new Uint16Array(MASK_TILE * (1 + 2 * MASK_TILE));

/** Resident tiles that `rasterizeIntoEncodedTiles` reads and replaces. */
export interface EncodedTileTarget {
  /** The tile's current content, or null when it has none. */
  load(tx: number, ty: number): EncodedTile | null;
  /** The tile's new content. */
  done(tx: number, ty: number, tile: EncodedTile): void;
}

/**
 * Paints `polygons` (in order) into run-length-encoded tiles: the same
 * pixels and the same encoding as rasterizeIntoTiles followed by
 * encodeTile, but a tile that was blank is encoded straight from its spans
 * (a sparse tile of cells costs its spans, not its 262,144 pixels). A tile
 * with content is decoded, painted and encoded again. Pass a PolygonIndex
 * to paint the same polygons band by band without indexing them each time.
 */
export function rasterizeIntoEncodedTiles(polygons: PaintPolygon[] | PolygonIndex, bounds: PixelBox, target: EncodedTileTarget): { tiles: number; pixels: number } {
  const indexed = polygons instanceof PolygonIndex ? polygons : new PolygonIndex(polygons);
  polygons = indexed.polygons;
  const p = plan(indexed, bounds);
  if (!p) return { tiles: 0, pixels: 0 };
  let painter: DensePainter | null = null;
  const spans = new SpanRows();
  const tiles = eachTile(p, bounds, (tx, ty, clip, ids) => {
    const base = target.load(tx, ty);
    if (base && !(isUniform(base) && base.uniform === 0)) {
      painter ??= new DensePainter();
      painter.ox = tx * MASK_TILE;
      painter.oy = ty * MASK_TILE;
      painter.loaded = true;
      decodeTileInto(base, painter.dense);
      for (const id of ids) {
        const poly = polygons[id] as PaintPolygon;
        painter.value = poly.value;
        polygonSpans(poly.rings, clip, painter.sink);
      }
      target.done(tx, ty, encodeTile(painter.dense));
      painter.clear();
      return;
    }
    spans.ox = tx * MASK_TILE;
    spans.oy = ty * MASK_TILE;
    for (const id of ids) {
      const poly = polygons[id] as PaintPolygon;
      spans.value = poly.value;
      polygonSpans(poly.rings, clip, spans.sink);
    }
    target.done(tx, ty, spans.encode());
  });
  return { tiles, pixels: spans.pixels + ((painter as DensePainter | null)?.pixels ?? 0) };
}
