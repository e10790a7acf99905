/**
 * Raster level of detail for dense views: the annotations drawn into
 * 512-px tiles at power-of-two scales, rendered a slice at a time within a
 * per-frame budget (so no task grows long), cached, and redrawn only where a
 * change set touched them. While a tile renders, its parent stands in.
 */
import type { AnnotationStore, ChangeSet, Handle } from '../state/annotation-store.js';
import type { SpatialIndex } from '../state/spatial-index.js';
import { drawHandles, type DrawStyle } from './draw-annotations.js';

const TILE = 512;
const MAX_TILES = 96;
const SLICE = 2000;

interface Tile {
  key: string;
  level: number;
  tx: number;
  ty: number;
  canvas: OffscreenCanvas | HTMLCanvasElement;
  /** Shown bitmap is current (false while a re-render is pending). */
  fresh: boolean;
  ready: boolean;
  /** Work in progress: handles to draw and how far we got. */
  work: { handles: Handle[]; pos: number; canvas: OffscreenCanvas | HTMLCanvasElement } | null;
  used: number;
}

function makeCanvas(): OffscreenCanvas | HTMLCanvasElement {
  if (typeof OffscreenCanvas !== 'undefined') return new OffscreenCanvas(TILE, TILE);
  const c = document.createElement('canvas');
  c.width = TILE;
  c.height = TILE;
  return c;
}

export interface ImageView {
  /** Visible image rectangle (level-0 px). */
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  /** Canvas px per image px, and canvas position of image (0, 0). */
  scale: number;
  ox: number;
  oy: number;
}

export class LodTiles {
  private readonly tiles = new Map<string, Tile>();
  private clock = 0;
  private style: DrawStyle;
  private queue: Tile[] = [];

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
    }
  }

  private onChange(cs: ChangeSet): void {
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
    for (const t of this.tiles.values()) {
      const span = TILE * 2 ** t.level;
      const tx0 = t.tx * span;
      const ty0 = t.ty * span;
      if (boxes.some(([x0, y0, x1, y1]) => x1 >= tx0 && x0 <= tx0 + span && y1 >= ty0 && y0 <= ty0 + span)) {
        t.fresh = false;
        t.work = null;
      }
    }
  }

  /** Level whose tile pixels are at least as fine as the screen's. */
  static levelFor(scale: number): number {
    return Math.max(0, Math.floor(Math.log2(1 / scale)));
  }

  private tile(level: number, tx: number, ty: number, create: boolean): Tile | undefined {
    const key = `${level}/${tx}/${ty}`;
    let t = this.tiles.get(key);
    if (!t && create) {
      t = { key, level, tx, ty, canvas: makeCanvas(), fresh: false, ready: false, work: null, used: 0 };
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

  /** Draws cached tiles for the view and queues missing or stale ones. Returns true when all shown tiles are current. */
  draw(ctx: CanvasRenderingContext2D, view: ImageView): boolean {
    const level = LodTiles.levelFor(view.scale);
    const span = TILE * 2 ** level;
    const tx0 = Math.max(0, Math.floor(view.x0 / span));
    const ty0 = Math.max(0, Math.floor(view.y0 / span));
    const tx1 = Math.floor(view.x1 / span);
    const ty1 = Math.floor(view.y1 / span);
    let complete = true;
    this.queue = [];
    for (let ty = ty0; ty <= ty1; ty++) {
      for (let tx = tx0; tx <= tx1; tx++) {
        const t = this.tile(level, tx, ty, true) as Tile;
        if (!t.fresh) {
          complete = false;
          this.queue.push(t);
        }
        const size = span * view.scale;
        const x = view.ox + tx * span * view.scale;
        const y = view.oy + ty * span * view.scale;
        if (t.ready) ctx.drawImage(t.canvas, x, y, size, size);
        else {
          // a parent tile, scaled, until this one is ready
          const p = this.tile(level + 1, tx >> 1, ty >> 1, false);
          if (p?.ready) ctx.drawImage(p.canvas, (tx & 1) * (TILE / 2), (ty & 1) * (TILE / 2), TILE / 2, TILE / 2, x, y, size, size);
        }
      }
    }
    return complete;
  }

  /** Renders queued tiles for up to `budgetMs`. Returns true if any tile finished. */
  work(budgetMs: number): boolean {
    const t0 = performance.now();
    let finished = false;
    while (this.queue.length > 0 && performance.now() - t0 < budgetMs) {
      const t = this.queue[0] as Tile;
      if (!t.work) {
        const span = TILE * 2 ** t.level;
        const handles = this.index.query(t.tx * span, t.ty * span, (t.tx + 1) * span, (t.ty + 1) * span);
        const canvas = makeCanvas();
        t.work = { handles, pos: 0, canvas };
      }
      const w = t.work;
      const ctx = w.canvas.getContext('2d') as OffscreenCanvasRenderingContext2D;
      const scale = 1 / 2 ** t.level;
      const span = TILE * 2 ** t.level;
      while (w.pos < w.handles.length && performance.now() - t0 < budgetMs) {
        const to = Math.min(w.handles.length, w.pos + SLICE);
        drawHandles(ctx, this.store, w.handles, w.pos, to, { ox: -t.tx * span * scale, oy: -t.ty * span * scale, scale }, this.style);
        w.pos = to;
      }
      if (w.pos >= w.handles.length) {
        t.canvas = w.canvas;
        t.work = null;
        t.fresh = true;
        t.ready = true;
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
