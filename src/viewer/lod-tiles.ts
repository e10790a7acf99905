/**
 * Raster level of detail for dense views: the annotations drawn into
 * 256-px tiles at power-of-two scales, rendered a slice at a time within a
 * per-frame budget (so no task grows long), cached, and redrawn only where a
 * change set touched them. Objects that are only added (a page of a large
 * slide arriving) are drawn on top of the tiles they fall in, so loading a
 * million objects costs one drawing of each. While a tile renders, its
 * parent stands in.
 */
import { unboundedGrid, type TileGrid } from '../core/tile-grid.js';
import type { AnnotationStore, ChangeSet, Handle } from '../state/annotation-store.js';
import type { SpatialIndex } from '../state/spatial-index.js';
import { drawHandles, type DrawStyle } from './draw-annotations.js';
import { forEachTileInBox, levelForScale, tileOnCanvas, type CanvasTransform, type ImageBox } from './view-transform.js';

const TILE = 256;
const MAX_TILES = 160;
/** Objects drawn per step; small, so a step never outgrows the frame budget by much. */
const SLICE = 200;

interface Tile {
  key: string;
  level: number;
  tx: number;
  ty: number;
  canvas: OffscreenCanvas | HTMLCanvasElement | ImageBitmap;
  /** Shown bitmap is current (false while a re-render is pending). */
  fresh: boolean;
  ready: boolean;
  /** Work in progress: handles to draw and how far we got. */
  work: { handles: Handle[]; pos: number; canvas: OffscreenCanvas | HTMLCanvasElement } | null;
  /** Objects added since the bitmap was drawn (which is otherwise current): drawn on top. */
  appends: Handle[] | null;
  /** When the view first needed this tile's current bitmap (ms), or 0. */
  wantedAt: number;
  used: number;
}

function makeCanvas(): OffscreenCanvas | HTMLCanvasElement {
  if (typeof OffscreenCanvas !== 'undefined') return new OffscreenCanvas(TILE, TILE);
  const c = document.createElement('canvas');
  c.width = TILE;
  c.height = TILE;
  return c;
}

/** The tiles of a level in level-0 pixels: 256 px of the level, 256 × 2^level level-0 px; no last tile (annotations may lie past the image). */
const GRIDS: TileGrid[] = [];
function gridAt(level: number): TileGrid {
  return (GRIDS[level] ??= unboundedGrid(TILE * 2 ** level));
}

/** Level-0 bounds of a tile: [x0, x1] × [y0, y1]. */
function tileBox(t: Tile): [number, number, number, number] {
  const g = gridAt(t.level);
  const x0 = t.tx * g.tileWidth;
  const y0 = t.ty * g.tileHeight;
  return [x0, y0, x0 + g.tileWidth, y0 + g.tileHeight];
}

export class LodTiles {
  private readonly tiles = new Map<string, Tile>();
  private clock = 0;
  private style: DrawStyle;
  private queue: Tile[] = [];
  private hidden: ReadonlySet<Handle> = new Set();
  /** Canvases whose bitmap was transferred (blank again): the next renders draw on them instead of making new ones. */
  private readonly spare: Array<OffscreenCanvas | HTMLCanvasElement> = [];
  /** How long shown tiles waited for their bitmap (ms), most recent last: for benchmarks and diagnostics. */
  readonly latencies: number[] = [];

  constructor(
    private readonly store: AnnotationStore,
    private readonly index: SpatialIndex,
    style: DrawStyle,
  ) {
    this.style = style;
    store.observe((cs) => this.onChange(cs));
  }

  setStyle(style: DrawStyle): void {
    this.style = style;
    this.invalidateAll();
  }

  invalidateAll(): void {
    for (const t of this.tiles.values()) {
      t.fresh = false;
      t.work = null;
      t.appends = null;
    }
  }

  private onChange(cs: ChangeSet): void {
    if (cs.updated.length === 0 && cs.deleted.length === 0) {
      this.appendCreated(cs.created);
      return;
    }
    if (cs.created.length > 2000) {
      this.invalidateAll();
      return;
    }
    const boxes: Array<[number, number, number, number]> = [];
    for (const h of cs.created) boxes.push(this.store.bounds(h));
    for (const u of cs.updated) boxes.push(this.store.bounds(u.handle));
    for (const d of [...cs.updated.map((u) => u.before), ...cs.deleted.map((d) => d.before)]) {
      const g = d.geometry;
      const pts: number[][] = g.type === 'Point' ? [g.coordinates] : g.type === 'Polygon' ? g.coordinates.flat() : g.type === 'MultiPolygon' ? g.coordinates.flat(2) : g.coordinates;
      let x0 = Infinity;
      let y0 = Infinity;
      let x1 = -Infinity;
      let y1 = -Infinity;
      for (const p of pts) {
        x0 = Math.min(x0, p[0] as number);
        y0 = Math.min(y0, p[1] as number);
        x1 = Math.max(x1, p[0] as number);
        y1 = Math.max(y1, p[1] as number);
      }
      boxes.push([x0, y0, x1, y1]);
    }
    this.invalidateBoxes(boxes);
  }

  private invalidateBoxes(boxes: Array<[number, number, number, number]>): void {
    if (boxes.length === 0) return;
    for (const t of this.tiles.values()) {
      const [tx0, ty0, tx1, ty1] = tileBox(t);
      if (boxes.some(([x0, y0, x1, y1]) => x1 >= tx0 && x0 <= tx1 && y1 >= ty0 && y0 <= ty1)) {
        t.fresh = false;
        t.work = null;
        t.appends = null;
      }
    }
  }

  /** New objects only: each tile they fall in draws them on top of what it has. */
  private appendCreated(created: Handle[]): void {
    if (created.length === 0 || this.tiles.size === 0) return;
    const b = this.store.boundsColumn();
    let ax0 = Infinity;
    let ay0 = Infinity;
    let ax1 = -Infinity;
    let ay1 = -Infinity;
    for (const h of created) {
      ax0 = Math.min(ax0, b[h * 4] as number);
      ay0 = Math.min(ay0, b[h * 4 + 1] as number);
      ax1 = Math.max(ax1, b[h * 4 + 2] as number);
      ay1 = Math.max(ay1, b[h * 4 + 3] as number);
    }
    for (const t of this.tiles.values()) {
      const [tx0, ty0, tx1, ty1] = tileBox(t);
      if (ax1 < tx0 || ax0 > tx1 || ay1 < ty0 || ay0 > ty1) continue;
      // a tile waiting for a full render will find them itself
      if (!t.work && !(t.ready && (t.fresh || t.appends))) continue;
      const mine: Handle[] = [];
      for (const h of created) {
        if ((b[h * 4 + 2] as number) >= tx0 && (b[h * 4] as number) <= tx1 && (b[h * 4 + 3] as number) >= ty0 && (b[h * 4 + 1] as number) <= ty1) mine.push(h);
      }
      if (mine.length === 0) continue;
      if (t.work) {
        // its query ran before these existed
        for (const h of mine) t.work.handles.push(h);
      } else {
        t.appends = t.appends ? t.appends.concat(mine) : mine;
        t.fresh = false;
      }
    }
  }

  /**
   * Objects a tool is showing in its own overlay (being moved or reshaped):
   * left out of the tiles, which are re-rendered where they lie.
   */
  setHidden(hidden: ReadonlySet<Handle>): void {
    const boxes: Array<[number, number, number, number]> = [];
    for (const h of this.hidden) if (!hidden.has(h)) boxes.push(this.store.bounds(h));
    for (const h of hidden) if (!this.hidden.has(h)) boxes.push(this.store.bounds(h));
    this.hidden = hidden;
    this.invalidateBoxes(boxes);
  }

  private tile(level: number, tx: number, ty: number, create: boolean): Tile | undefined {
    const key = `${level}/${tx}/${ty}`;
    let t = this.tiles.get(key);
    if (!t && create) {
      t = { key, level, tx, ty, canvas: makeCanvas(), fresh: false, ready: false, work: null, appends: null, wantedAt: 0, used: 0 };
      this.tiles.set(key, t);
      this.evict();
    }
    if (t) t.used = ++this.clock;
    return t;
  }

  private evict(): void {
    if (this.tiles.size <= MAX_TILES) return;
    const old = [...this.tiles.values()].sort((a, b) => a.used - b.used);
    for (const t of old.slice(0, this.tiles.size - MAX_TILES)) this.tiles.delete(t.key);
  }

  /** Draws cached tiles for the view (the visible level-0 box, drawn through `c`) and queues missing or stale ones. Returns true when all shown tiles are current. */
  draw(ctx: CanvasRenderingContext2D, box: ImageBox, c: CanvasTransform): boolean {
    // the level whose tile pixels are at least as fine as the canvas's
    const level = levelForScale(c.scale);
    const grid = gridAt(level);
    let complete = true;
    this.queue = [];
    forEachTileInBox(grid, box, (tx, ty) => {
      const t = this.tile(level, tx, ty, true) as Tile;
      if (!t.fresh) {
        complete = false;
        this.queue.push(t);
        if (!t.wantedAt) t.wantedAt = performance.now();
      }
      const at = tileOnCanvas(c, grid, tx, ty);
      if (t.ready) ctx.drawImage(t.canvas, at.x, at.y, at.width, at.height);
      else {
        // a parent tile, scaled, until this one is ready
        const p = this.tile(level + 1, tx >> 1, ty >> 1, false);
        if (p?.ready) ctx.drawImage(p.canvas, (tx & 1) * (TILE / 2), (ty & 1) * (TILE / 2), TILE / 2, TILE / 2, at.x, at.y, at.width, at.height);
      }
    });
    return complete;
  }

  /** Renders queued tiles for up to `budgetMs`. Returns true if any tile finished. */
  work(budgetMs: number): boolean {
    const t0 = performance.now();
    let finished = false;
    while (this.queue.length > 0 && performance.now() - t0 < budgetMs) {
      const t = this.queue[0] as Tile;
      if (!t.work) {
        const [x0, y0, x1, y1] = tileBox(t);
        const canvas = this.spare.pop() ?? makeCanvas();
        let handles: Handle[];
        if (t.appends && t.ready) {
          // start from the current bitmap and draw the new objects over it
          (canvas.getContext('2d') as OffscreenCanvasRenderingContext2D).drawImage(t.canvas, 0, 0);
          handles = t.appends;
        } else handles = this.index.query(x0, y0, x1, y1);
        t.appends = null;
        if (this.hidden.size) handles = handles.filter((h) => !this.hidden.has(h));
        t.work = { handles, pos: 0, canvas };
      }
      const w = t.work;
      const ctx = w.canvas.getContext('2d') as OffscreenCanvasRenderingContext2D;
      const scale = 1 / 2 ** t.level;
      const [x0, y0] = tileBox(t);
      while (w.pos < w.handles.length && performance.now() - t0 < budgetMs) {
        const to = Math.min(w.handles.length, w.pos + SLICE);
        drawHandles(ctx, this.store, w.handles, w.pos, to, { ox: -x0 * scale, oy: -y0 * scale, scale }, this.style);
        w.pos = to;
      }
      if (w.pos >= w.handles.length) {
        // rasterise now, inside the budget, rather than when the tile is first shown
        if ('transferToImageBitmap' in w.canvas) {
          t.canvas = w.canvas.transferToImageBitmap();
          // the transfer leaves the canvas blank with its size: reused for the next tile (a new canvas and context per tile cost more than its drawing)
          if (this.spare.length < 4) this.spare.push(w.canvas);
        } else t.canvas = w.canvas;
        t.work = null;
        t.fresh = true;
        t.ready = true;
        if (t.wantedAt) {
          this.latencies.push(performance.now() - t.wantedAt);
          if (this.latencies.length > 2000) this.latencies.splice(0, 1000);
          t.wantedAt = 0;
        }
        this.queue.shift();
        finished = true;
      }
    }
    return finished;
  }

  get pending(): number {
    return this.queue.length;
  }
}
