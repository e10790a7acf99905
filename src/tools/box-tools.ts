/** The rectangle (`r`) and ellipse (`e`) tools: drag from corner to corner; too small a box is not kept. */
import type { Position } from '../core/annotation.js';
import { ellipseRing, rectangleRing } from '../core/shapes.js';
import { DragGesture } from './drag-gesture.js';
import { strokePreview } from './overlay.js';
import { registerTool } from './registry.js';
import type { Overlay, ToolContext } from './tool.js';

export class BoxTool extends DragGesture {
  constructor(
    ctx: ToolContext,
    readonly kind: 'rectangle' | 'ellipse',
  ) {
    super(ctx);
  }

  private ring(): Position[] | null {
    if (!this.a || !this.b) return null;
    const { a, b } = this;
    if (this.kind === 'rectangle') return rectangleRing(a.x, a.y, b.x, b.y);
    return ellipseRing((a.x + b.x) / 2, (a.y + b.y) / 2, Math.abs(b.x - a.x) / 2, Math.abs(b.y - a.y) / 2);
  }

  finish(): void {
    const min = 2 * this.ctx.imagePxPerScreenPx();
    const big = this.a && this.b && Math.abs(this.b.x - this.a.x) >= min && Math.abs(this.b.y - this.a.y) >= min;
    const ring = this.ring();
    this.a = this.b = null;
    if (big && ring) this.ctx.commit({ create: [this.ctx.newRecord(this.kind, { type: 'Polygon', coordinates: [ring] })] }, `Draw ${this.kind}`);
    this.ctx.redraw();
  }

  drawOverlay: Overlay = (ctx, toScreen) => {
    const ring = this.ring();
    if (ring) strokePreview(ctx, ring.map((p) => toScreen(p[0], p[1])), true);
  };
}

registerTool({ id: 'rectangle', label: 'Rectangle', icon: '▭', key: 'r', cursor: 'crosshair', section: 'annotate', create: (ctx) => new BoxTool(ctx, 'rectangle') });
registerTool({ id: 'ellipse', label: 'Ellipse', icon: '◯', key: 'e', cursor: 'crosshair', section: 'annotate', create: (ctx) => new BoxTool(ctx, 'ellipse') });
