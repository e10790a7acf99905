/**
 * Count points (`c`): for counting cells by eye (mitoses, lymphocytes) —
 * each click adds a point of the current class, as the point tool does, and
 * the tool's panel section shows how many points of each class lie in the
 * view, following the view as it pans and zooms. It is also the example of
 * a tool that is one file plus one line in catalogue.ts.
 */
import { html, nothing } from 'lit';
import type { PixelBox } from '../core/mask/raster.js';
import type { AnnotationStore } from '../state/annotation-store.js';
import type { SpatialIndex } from '../state/spatial-index.js';
import { PointTool } from './point-tool.js';
import { registerTool } from './registry.js';
import type { Tool, ToolContext } from './tool.js';

/** Above this many objects in view the count is not taken (zoom in). */
const MAX_SCANNED = 200_000;

/** Points per class name (null: unclassified) inside a level-0 box; null when the view holds too many objects to scan. */
export function pointsPerClass(store: AnnotationStore, index: SpatialIndex, box: PixelBox): Map<string | null, number> | null {
  const hs = index.query(box.x0, box.y0, box.x1, box.y1);
  if (hs.length > MAX_SCANNED) return null;
  const names = store.classes();
  const out = new Map<string | null, number>();
  for (const h of hs) {
    if (!store.isLive(h) || store.kindOf(h) !== 'point') continue;
    const i = store.classIndexOf(h);
    const name = i < 0 ? null : (names[i] ?? null);
    out.set(name, (out.get(name) ?? 0) + 1);
  }
  return out;
}

class CountPointsTool extends PointTool {
  private shownBox = '';

  constructor(private readonly host: ToolContext) {
    super(host);
  }

  /** Called on every frame the view moves: the counts follow it. */
  drawOverlay = (): void => {
    const b = this.host.visibleBox();
    const key = [b.x0, b.y0, b.x1, b.y1].map(Math.round).join(',');
    if (key === this.shownBox) return;
    this.shownBox = key;
    this.host.panelChanged();
  };
}

function countPanel(_tool: Tool, ctx: ToolContext): unknown {
  const counts = pointsPerClass(ctx.store, ctx.index, ctx.visibleBox());
  if (!counts) return html`<div class="status warn" data-testid="point-counts">Too many objects in view to count: zoom in.</div>`;
  const colour = new Map(ctx.palette().map((c) => [c.name, c.color]));
  const rows = [...counts].sort((a, b) => b[1] - a[1]);
  const total = rows.reduce((n, [, c]) => n + c, 0);
  return html`<div data-testid="point-counts">
    <div>Points in view: <strong data-testid="point-count-total">${total}</strong></div>
    ${rows.length === 0
      ? nothing
      : rows.map(
          ([name, n]) =>
            html`<div data-class=${name ?? ''}><span class="swatch" style=${`background:${(name && colour.get(name)) ?? '#888'}`}></span>${name ?? 'no class'}: <strong>${n}</strong></div>`,
        )}
  </div>`;
}

registerTool({
  id: 'count',
  label: 'Count points',
  icon: '#',
  key: 'c',
  cursor: 'crosshair',
  section: 'annotate',
  create: (ctx) => new CountPointsTool(ctx),
  panel: countPanel,
});
