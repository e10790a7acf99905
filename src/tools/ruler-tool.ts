/** The ruler (`m`): drag to measure; it is kept as a line that shows its length in µm (pixels without MPP). */
import { formatLength } from '../core/scale.js';
import { DragGesture } from './drag-gesture.js';
import { labelPreview, strokePreview } from './overlay.js';
import { registerTool } from './registry.js';
import type { Overlay } from './tool.js';

/** "123 µm" from a length in pixels, or "456 px (no MPP)". */
export function rulerText(lengthPx: number, mpp: number | null): string {
  return mpp ? formatLength(lengthPx * mpp) : `${lengthPx.toFixed(0)} px (no MPP)`;
}

export class RulerTool extends DragGesture {
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
    strokePreview(ctx, [p, q], false, true);
    labelPreview(ctx, rulerText(Math.hypot(this.b.x - this.a.x, this.b.y - this.a.y), this.ctx.mpp()), q[0], q[1]);
  };
}

registerTool({ id: 'ruler', label: 'Ruler', icon: '⟷', key: 'm', cursor: 'crosshair', section: 'annotate', create: (ctx) => new RulerTool(ctx) });
