/**
 * The polygon tool (`p`): click vertices; Enter, Esc or a double-click
 * finishes (Esc keeps a valid shape, it never throws the clicks away),
 * Backspace removes the last vertex, a click on the first vertex closes it.
 */
import type { Position } from '../core/annotation.js';
import { makeValid } from './geometry-ops.js';
import { strokePreview } from './overlay.js';
import { registerTool } from './registry.js';
import type { ImagePoint, Overlay, Tool, ToolContext } from './tool.js';

export class PolygonTool implements Tool {
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
    strokePreview(ctx, pts, false);
    ctx.fillStyle = '#00e5ff';
    for (const p of pts.slice(0, this.pts.length)) ctx.fillRect(p[0] - 3, p[1] - 3, 6, 6);
  };
}

registerTool({
  id: 'polygon',
  label: 'Polygon',
  icon: '⬠',
  key: 'p',
  cursor: 'crosshair',
  section: 'annotate',
  help: [['Enter', 'finish the polygon (also Esc, double-click)'], ['Backspace', 'remove its last vertex']],
  create: (ctx) => new PolygonTool(ctx),
});
