/**
 * The triage tool's score colours (issue 13): every queued prediction in
 * view outlined in its score's colour. A frame of a pan or of a triage
 * step's flight used to trace every outline in view again; here the
 * outlines are traced once, into one Path2D per colour in level-0 image
 * coordinates, per cell of CELL² level-0 pixels (an object belongs to the
 * cell of its bounds' centre), and kept until an object of the cell changes.
 * A frame strokes the cached paths of the cells in view under one
 * transform, colour by colour: its cost grows with the cells and colours
 * in view, not with the objects or their vertices. Cells not traced yet are
 * traced within a per-frame budget; the rest come in the next frames.
 */
import { GeomType, forEachRing } from '../core/flat-geometry.js';
import { geometryBounds } from '../core/annotation.js';
import type { AnnotationStore, ChangeSet, Handle } from '../state/annotation-store.js';
import type { SpatialIndex } from '../state/spatial-index.js';

/** Side of a cell in level-0 pixels: a few cells make a view at the task's magnification. */
export const CELL = 2048;
/** Objects kept traced in all (about 9 bytes a vertex): the least recently drawn cells beyond it are dropped. */
const MAX_CACHED = 200_000;
/** Tracing per frame (ms) before the remaining cells wait for the next frame. */
const BUDGET_MS = 4;
/** More cells than this in view: the colours are not drawn (the view is far too wide for outlines). */
const MAX_CELLS_IN_VIEW = 4096;
/** A change set larger than this drops every cell (a page of a load, a bulk action). */
const MANY = 2000;

/** What the overlay needs to know of a prediction: its colour's index (0..colours−1), or −1 when it is not drawn. */
export type ColourOf = (h: Handle) => number;

interface Cell {
  /** One path per colour index (image coordinates). */
  paths: Array<Path2D | undefined>;
  /** Point objects: drawn as fixed-size circles each frame (their size is in screen pixels). */
  points: number[];
  /** Bounds of what the cell traced (objects may reach past the cell). */
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  count: number;
  used: number;
}

const key = (cx: number, cy: number): number => (cy + 32768) * 65536 + (cx + 32768);

export class ScoreOverlay {
  private readonly cells = new Map<number, Cell>();
  /** Predictions per cell by their centres, counted when the queue is read: how many a view holds before any is traced. */
  private counts = new Map<number, number>();
  /** How far past its cell an object may reach (half the largest object's side), so cells just out of view are not missed. */
  private reach = 0;
  private clock = 0;
  private cached = 0;
  private readonly scratch: Handle[] = [];
  /** Cells traced, in all (for tests and diagnostics). */
  traced = 0;

  constructor(
    private readonly store: AnnotationStore,
    private readonly index: SpatialIndex,
    private readonly colours: readonly string[],
    private readonly colourOf: ColourOf,
    /** The frame budget's clock (ms): tests step it by hand, so what a frame traces does not depend on the machine's speed. */
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Forgets every traced cell and counts the predictions again from their bounds (the queue was read, or its filter changed). */
  reset(boxes: Iterable<readonly [number, number, number, number]>): void {
    this.invalidate();
    this.counts = new Map();
    let reach = 0;
    for (const b of boxes) {
      const k = key(Math.floor((b[0] + b[2]) / 2 / CELL), Math.floor((b[1] + b[3]) / 2 / CELL));
      this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
      reach = Math.max(reach, (b[2] - b[0]) / 2, (b[3] - b[1]) / 2);
    }
    this.reach = reach;
  }

  /** Drops the cells whose objects a change set touched (the objects' old and new centres). */
  changed(cs: ChangeSet): void {
    if (this.cells.size === 0) return;
    const many = cs.created.length + cs.updated.length + cs.deleted.length > MANY;
    if (many) this.invalidate();
    const drop = (b: readonly number[], arrived: boolean): void => {
      this.reach = Math.max(this.reach, ((b[2] as number) - (b[0] as number)) / 2, ((b[3] as number) - (b[1] as number)) / 2);
      const k = key(Math.floor(((b[0] as number) + (b[2] as number)) / 2 / CELL), Math.floor(((b[1] as number) + (b[3] as number)) / 2 / CELL));
      // a cell an object arrived in is traced even if no prediction of the queue had its centre there
      if (arrived) this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
      const cell = this.cells.get(k);
      if (!cell) return;
      this.cached -= cell.count;
      this.cells.delete(k);
    };
    for (const h of cs.created) drop(this.store.bounds(h), true);
    for (const u of cs.updated) {
      drop(this.store.bounds(u.handle), true);
      if (!many) drop(geometryBounds(u.before.geometry), false);
    }
    if (many) return;
    for (const d of cs.deleted) drop(geometryBounds(d.before.geometry), false);
  }

  /** Drops every traced cell (the colours of objects changed). */
  invalidate(): void {
    this.cells.clear();
    this.cached = 0;
  }

  /**
   * Strokes the cells in the level-0 box `b` through canvas = o + image × s;
   * false when `limit` predictions or more are in view (nothing drawn) or
   * some cells are still to trace (drawn in a later frame: ask for one).
   */
  draw(g: CanvasRenderingContext2D, b: { x0: number; y0: number; x1: number; y1: number }, ox: number, oy: number, s: number, limit: number): { drawn: boolean; complete: boolean } {
    const r = this.reach;
    const cx0 = Math.floor((b.x0 - r) / CELL);
    const cy0 = Math.floor((b.y0 - r) / CELL);
    const cx1 = Math.floor((b.x1 + r) / CELL);
    const cy1 = Math.floor((b.y1 + r) / CELL);
    if ((cx1 - cx0 + 1) * (cy1 - cy0 + 1) > MAX_CELLS_IN_VIEW) return { drawn: false, complete: true };
    let inView = 0;
    for (let cy = cy0; cy <= cy1; cy++) for (let cx = cx0; cx <= cx1; cx++) inView += this.counts.get(key(cx, cy)) ?? 0;
    if (inView > limit) return { drawn: false, complete: true };
    const t0 = this.now();
    const frame = this.clock + 1;
    const shown: Cell[] = [];
    let complete = true;
    for (let cy = cy0; cy <= cy1; cy++) {
      for (let cx = cx0; cx <= cx1; cx++) {
        const k = key(cx, cy);
        let cell = this.cells.get(k);
        if (!cell) {
          // no prediction of the queue (nor a changed object) has its centre there: nothing to trace
          if (!this.counts.has(k)) continue;
          if (this.now() - t0 > BUDGET_MS) {
            complete = false;
            continue;
          }
          cell = this.trace(cx, cy);
          this.cells.set(k, cell);
          this.cached += cell.count;
        }
        cell.used = ++this.clock;
        if (cell.count > 0 && cell.x1 >= b.x0 && cell.x0 <= b.x1 && cell.y1 >= b.y0 && cell.y0 <= b.y1) shown.push(cell);
      }
    }
    this.evict(frame);
    g.save();
    g.setTransform(s, 0, 0, s, ox, oy);
    g.lineWidth = 2 / s;
    const dots: Array<Path2D | undefined> = [];
    for (let c = 0; c < this.colours.length; c++) {
      let styled = false;
      for (const cell of shown) {
        const p = cell.paths[c];
        if (!p) continue;
        if (!styled) {
          g.strokeStyle = this.colours[c] as string;
          styled = true;
        }
        g.stroke(p);
      }
    }
    // points keep a size on screen: circles of 5 px, traced per frame (few objects are points)
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.lineWidth = 2;
    for (const cell of shown) {
      const pts = cell.points;
      for (let i = 0; i < pts.length; i += 3) {
        const c = pts[i + 2] as number;
        const x = ox + (pts[i] as number) * s;
        const y = oy + (pts[i + 1] as number) * s;
        const p = (dots[c] ??= new Path2D());
        p.moveTo(x + 5, y);
        p.arc(x, y, 5, 0, Math.PI * 2);
      }
    }
    dots.forEach((p, c) => {
      if (!p) return;
      g.strokeStyle = this.colours[c] as string;
      g.stroke(p);
    });
    g.restore();
    return { drawn: true, complete };
  }

  private trace(cx: number, cy: number): Cell {
    const { store } = this;
    const x0 = cx * CELL;
    const y0 = cy * CELL;
    const cell: Cell = { paths: [], points: [], x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity, count: 0, used: 0 };
    const hs = this.index.query(x0, y0, x0 + CELL, y0 + CELL, (this.scratch.length = 0, this.scratch));
    for (const h of hs) {
      const bb = store.bounds(h);
      const mx = (bb[0] + bb[2]) / 2;
      const my = (bb[1] + bb[3]) / 2;
      // its own cell only: an object across a border is traced once
      if (mx < x0 || mx >= x0 + CELL || my < y0 || my >= y0 + CELL) continue;
      const colour = this.colourOf(h);
      if (colour < 0) continue;
      const g = store.geometry(h);
      const c = g.coords;
      if (g.type === GeomType.Polygon || g.type === GeomType.MultiPolygon) {
        const path = (cell.paths[colour] ??= new Path2D());
        forEachRing(g.type, g.parts, (start, count) => {
          path.moveTo(c[start * 2] as number, c[start * 2 + 1] as number);
          for (let i = 1; i < count; i++) path.lineTo(c[(start + i) * 2] as number, c[(start + i) * 2 + 1] as number);
          path.closePath();
        });
      } else {
        // anything else is marked at its vertices
        for (let k = 0; k < c.length; k += 2) cell.points.push(c[k] as number, c[k + 1] as number, colour);
      }
      cell.x0 = Math.min(cell.x0, bb[0]);
      cell.y0 = Math.min(cell.y0, bb[1]);
      cell.x1 = Math.max(cell.x1, bb[2]);
      cell.y1 = Math.max(cell.y1, bb[3]);
      this.reach = Math.max(this.reach, (bb[2] - bb[0]) / 2, (bb[3] - bb[1]) / 2);
      cell.count++;
    }
    this.traced++;
    return cell;
  }

  /** Drops the least recently drawn cells beyond MAX_CACHED objects, never one this frame shows. */
  private evict(frame: number): void {
    if (this.cached <= MAX_CACHED) return;
    const old = [...this.cells].sort((a, b) => a[1].used - b[1].used);
    for (const [k, cell] of old) {
      if (this.cached <= MAX_CACHED || cell.used >= frame) break;
      this.cells.delete(k);
      this.cached -= cell.count;
    }
  }

  /** Traced cells now (for tests and diagnostics). */
  get size(): number {
    return this.cells.size;
  }
}
