/** The freehand tool (`f`): drag a lasso; a lasso that crosses itself becomes the valid shape it encloses. */
import type { Position } from '../core/annotation.js';
import { makeValid, simplify } from './geometry-ops.js';
import { strokePreview } from './overlay.js';
import { registerTool } from './registry.js';
import type { ImagePoint, Overlay, Tool, ToolContext } from './tool.js';

export class FreehandTool implements Tool {
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
      const g = makeValid({ type: 'Polygon', coordinates: [[...pts, pts[0] as Position]] });
      if (g) this.ctx.commit({ create: [this.ctx.newRecord('freehand', g)] }, 'Draw freehand');
    }
    this.ctx.redraw();
  }

  drawOverlay: Overlay = (ctx, toScreen) => strokePreview(ctx, this.pts.map((p) => toScreen(p[0], p[1])), false);
}

registerTool({ id: 'freehand', label: 'Freehand', icon: '✎', key: 'f', cursor: 'crosshair', section: 'annotate', create: (ctx) => new FreehandTool(ctx) });
