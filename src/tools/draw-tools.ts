/**
 * The drawing tools: polygon (click vertices), freehand (drag), rectangle,
 * ellipse, point, and a ruler that shows its length in µm. Each commits one
 * change set when its gesture ends; leaving a tool mid-shape commits the
 * shape if it is one (never drops it silently).
 */
import type { Position } from '../core/annotation.js';
import { formatLength } from '../core/scale.js';
import { ellipseRing, polylineLength, rectangleRing } from '../core/shapes.js';
import { makeValid, simplify } from './geometry-ops.js';
import type { ImagePoint, Tool, ToolContext, ToolId } from './tool.js';

type Overlay = (ctx: CanvasRenderingContext2D, toScreen: (x: number, y: number) => [number, number]) => void;

function stroke(ctx: CanvasRenderingContext2D, pts: Array<[number, number]>, close: boolean, dashed = false): void {
  if (pts.length === 0) return;
  ctx.save();
  ctx.lineWidth = 2;
  ctx.strokeStyle = '#00e5ff';
  if (dashed) ctx.setLineDash([6, 4]);
  ctx.beginPath();
  ctx.moveTo(pts[0]![0], pts[0]![1]);
  for (const p of pts.slice(1)) ctx.lineTo(p[0], p[1]);
  if (close) ctx.closePath();
  ctx.stroke();
  ctx.restore();
}

function label(ctx: CanvasRenderingContext2D, text: string, x: number, y: number): void {
  ctx.save();
  ctx.font = '13px system-ui, sans-serif';
  const w = ctx.measureText(text).width + 8;
  ctx.fillStyle = 'rgba(0,0,0,0.7)';
  ctx.fillRect(x + 8, y - 18, w, 18);
  ctx.fillStyle = '#fff';
  ctx.fillText(text, x + 12, y - 5);
  ctx.restore();
}

export class PolygonTool implements Tool {
  readonly id: ToolId = 'polygon';
  readonly label = 'Polygon';
  readonly cursor = 'crosshair';
  private pts: Position[] = [];
  private hover: ImagePoint | null = null;

  constructor(private readonly ctx: ToolContext) {}

  click(p: ImagePoint): void {
    const first = this.pts[0];
    const snap = 6 * this.ctx.imagePxPerScreenPx();
    if (first && this.pts.length >= 3 && Math.hypot(p.x - first[0], p.y - first[1]) <= snap) {
      this.finish();
      return;
    }
    this.pts.push([p.x, p.y]);
    this.ctx.redraw();
  }

  dblclick(): void {
    // the double-click's own clicks added a vertex twice; drop the duplicate
    const a = this.pts[this.pts.length - 1];
    const b = this.pts[this.pts.length - 2];
    if (a && b && Math.hypot(a[0] - b[0], a[1] - b[1]) < 2 * this.ctx.imagePxPerScreenPx()) this.pts.pop();
    this.finish();
  }

  move(p: ImagePoint): void {
    this.hover = p;
    if (this.pts.length) this.ctx.redraw();
  }

  key(e: KeyboardEvent): boolean {
    if (this.pts.length === 0) return false;
    if (e.key === 'Enter' || e.key === 'Escape') {
      // Esc finishes a valid polygon rather than throwing the clicks away
      this.finish();
      return true;
    }
    if (e.key === 'Backspace') {
      this.pts.pop();
      this.ctx.redraw();
      return true;
    }
    return false;
  }

  finish(): void {
    const pts = this.pts;
    this.pts = [];
    if (pts.length >= 3) {
      const g = makeValid({ type: 'Polygon', coordinates: [[...pts, pts[0] as Position]] });
      if (g) this.ctx.commit({ create: [this.ctx.newRecord('polygon', g)] }, 'Draw polygon');
    }
    this.ctx.redraw();
  }

  drawOverlay: Overlay = (ctx, toScreen) => {
    if (this.pts.length === 0) return;
    const pts = this.pts.map((p) => toScreen(p[0], p[1]));
    if (this.hover) pts.push(toScreen(this.hover.x, this.hover.y));
    stroke(ctx, pts, false);
    ctx.fillStyle = '#00e5ff';
    for (const p of pts.slice(0, this.pts.length)) ctx.fillRect(p[0] - 3, p[1] - 3, 6, 6);
  };
}

export class FreehandTool implements Tool {
  readonly id: ToolId = 'freehand';
  readonly label = 'Freehand';
  readonly cursor = 'crosshair';
  private pts: Position[] = [];

  constructor(private readonly ctx: ToolContext) {}

  press(p: ImagePoint): boolean {
    this.pts = [[p.x, p.y]];
    return true;
  }

  drag(p: ImagePoint): void {
    const last = this.pts[this.pts.length - 1] as Position;
    if (Math.hypot(p.x - last[0], p.y - last[1]) >= 1.5 * this.ctx.imagePxPerScreenPx()) {
      this.pts.push([p.x, p.y]);
      this.ctx.redraw();
    }
  }

  release(): void {
    this.finish();
  }

  finish(): void {
    const pts = simplify(this.pts, 0.75 * this.ctx.imagePxPerScreenPx());
    this.pts = [];
    if (pts.length >= 3) {
      // a lasso that crosses itself becomes the valid shape it encloses
      const g = makeValid({ type: 'Polygon', coordinates: [[...pts, pts[0] as Position]] });
      if (g) this.ctx.commit({ create: [this.ctx.newRecord('freehand', g)] }, 'Draw freehand');
    }
    this.ctx.redraw();
  }

  drawOverlay: Overlay = (ctx, toScreen) => stroke(ctx, this.pts.map((p) => toScreen(p[0], p[1])), false);
}

export class BoxTool implements Tool {
  readonly label: string;
  readonly cursor = 'crosshair';
  private a: ImagePoint | null = null;
  private b: ImagePoint | null = null;

  constructor(
    private readonly ctx: ToolContext,
    readonly id: 'rectangle' | 'ellipse',
  ) {
    this.label = id === 'rectangle' ? 'Rectangle' : 'Ellipse';
  }

  private ring(): Position[] | null {
    if (!this.a || !this.b) return null;
    const { a, b } = this;
    if (this.id === 'rectangle') return rectangleRing(a.x, a.y, b.x, b.y);
    return ellipseRing((a.x + b.x) / 2, (a.y + b.y) / 2, Math.abs(b.x - a.x) / 2, Math.abs(b.y - a.y) / 2);
  }

  press(p: ImagePoint): boolean {
    this.a = p;
    this.b = p;
    return true;
  }

  drag(p: ImagePoint): void {
    this.b = p;
    this.ctx.redraw();
  }

  release(p: ImagePoint): void {
    this.b = p;
    this.finish();
  }

  finish(): void {
    const min = 2 * this.ctx.imagePxPerScreenPx();
    const big = this.a && this.b && Math.abs(this.b.x - this.a.x) >= min && Math.abs(this.b.y - this.a.y) >= min;
    const ring = this.ring();
    this.a = this.b = null;
    if (big && ring) this.ctx.commit({ create: [this.ctx.newRecord(this.id, { type: 'Polygon', coordinates: [ring] })] }, `Draw ${this.id}`);
    this.ctx.redraw();
  }

  drawOverlay: Overlay = (ctx, toScreen) => {
    const ring = this.ring();
    if (ring) stroke(ctx, ring.map((p) => toScreen(p[0], p[1])), true);
  };
}

export class PointTool implements Tool {
  readonly id: ToolId = 'point';
  readonly label = 'Point';
  readonly cursor = 'crosshair';

  constructor(private readonly ctx: ToolContext) {}

  click(p: ImagePoint): void {
    this.ctx.commit({ create: [this.ctx.newRecord('point', { type: 'Point', coordinates: [p.x, p.y] })] }, 'Add point');
  }
}

export class RulerTool implements Tool {
  readonly id: ToolId = 'ruler';
  readonly label = 'Ruler';
  readonly cursor = 'crosshair';
  private a: ImagePoint | null = null;
  private b: ImagePoint | null = null;

  constructor(private readonly ctx: ToolContext) {}

  press(p: ImagePoint): boolean {
    this.a = p;
    this.b = p;
    return true;
  }

  drag(p: ImagePoint): void {
    this.b = p;
    this.ctx.redraw();
  }

  release(p: ImagePoint): void {
    this.b = p;
    this.finish();
  }

  finish(): void {
    const { a, b } = this;
    this.a = this.b = null;
    if (a && b && Math.hypot(b.x - a.x, b.y - a.y) >= 2 * this.ctx.imagePxPerScreenPx()) {
      this.ctx.commit({ create: [this.ctx.newRecord('ruler', { type: 'LineString', coordinates: [[a.x, a.y], [b.x, b.y]] })] }, 'Measure');
    }
    this.ctx.redraw();
  }

  drawOverlay: Overlay = (ctx, toScreen) => {
    if (!this.a || !this.b) return;
    const p = toScreen(this.a.x, this.a.y);
    const q = toScreen(this.b.x, this.b.y);
    stroke(ctx, [p, q], false, true);
    label(ctx, rulerText(Math.hypot(this.b.x - this.a.x, this.b.y - this.a.y), this.ctx.mpp()), q[0], q[1]);
  };
}

/** "123 µm" from a length in pixels, or "456 px (no MPP)". */
export function rulerText(lengthPx: number, mpp: number | null): string {
  return mpp ? formatLength(lengthPx * mpp) : `${lengthPx.toFixed(0)} px (no MPP)`;
}

export function rulerLength(coords: Position[]): number {
  return polylineLength(coords);
}
