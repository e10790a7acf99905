/**
 * Select and edit: click selects (shift adds), drag moves the selection,
 * dragging a vertex of a selected shape moves it, double-click on an edge
 * inserts a vertex, Alt-click on a vertex deletes it, Delete removes the
 * selection. Locked objects can be selected but not changed. Every drag is
 * one change set committed on release.
 */
import type { Geometry, Position } from '../core/annotation.js';
import { unflatten } from '../core/flat-geometry.js';
import type { Handle } from '../state/annotation-store.js';
import { hitTest, nearestVertex } from '../state/hit-test.js';
import { deleteVertex, insertVertex, moveVertex, translate } from './geometry-ops.js';
import { registerTool } from './registry.js';
import { deleteSelected, selectedHandles } from './selection-edits.js';
import type { ImagePoint, Modifiers, Tool, ToolContext } from './tool.js';

type Drag = { kind: 'move'; start: ImagePoint; now: ImagePoint; handles: Handle[] } | { kind: 'vertex'; handle: Handle; vertex: number; now: ImagePoint };

export class SelectTool implements Tool {
  private drag_: Drag | null = null;

  constructor(private readonly ctx: ToolContext) {}

  private tol(): number {
    return 6 * this.ctx.imagePxPerScreenPx();
  }

  private selectedHandles(): Handle[] {
    return selectedHandles(this.ctx);
  }

  press(p: ImagePoint): boolean {
    const store = this.ctx.store;
    const selected = this.selectedHandles();
    // a vertex of the one selected shape
    if (selected.length === 1) {
      const h = selected[0] as Handle;
      const v = nearestVertex(store, h, p.x, p.y, this.tol());
      if (v !== null && !store.lockedOf(h)) {
        this.drag_ = { kind: 'vertex', handle: h, vertex: v, now: p };
        this.ctx.hide([h]);
        return true;
      }
    }
    const hit = hitTest(store, this.ctx.index, p.x, p.y, this.tol(), this.ctx.layers.shownIn(store));
    if (hit && this.ctx.selection.has(store.idOf(hit.handle))) {
      const movable = selected.filter((h) => !store.lockedOf(h));
      if (movable.length === 0) return false;
      this.drag_ = { kind: 'move', start: p, now: p, handles: movable };
      this.ctx.hide(movable);
      return true;
    }
    return false;
  }

  drag(p: ImagePoint): void {
    if (!this.drag_) return;
    this.drag_.now = p;
    this.ctx.redraw();
  }

  release(p: ImagePoint): void {
    const d = this.drag_;
    this.drag_ = null;
    this.ctx.hide([]);
    if (!d) return;
    const store = this.ctx.store;
    if (d.kind === 'move') {
      const dx = p.x - d.start.x;
      const dy = p.y - d.start.y;
      if (dx !== 0 || dy !== 0) {
        this.ctx.commit(
          { update: d.handles.map((h) => ({ id: store.idOf(h), changes: { geometry: translate(this.geometry(h), dx, dy) } })) },
          d.handles.length > 1 ? `Move ${d.handles.length} objects` : 'Move',
        );
      }
    } else {
      const g = moveVertex(this.geometry(d.handle), d.vertex / 2, [p.x, p.y]);
      this.ctx.commit({ update: [{ id: store.idOf(d.handle), changes: { geometry: g, kind: this.editedKind(d.handle) } }] }, 'Move vertex');
    }
    this.ctx.redraw();
  }

  /** A moved vertex makes a rectangle or ellipse an ordinary polygon. */
  private editedKind(h: Handle): 'polygon' | 'freehand' | 'polyline' | 'ruler' | 'point' | 'rectangle' | 'ellipse' {
    const k = this.ctx.store.kindOf(h);
    return k === 'rectangle' || k === 'ellipse' ? 'polygon' : k;
  }

  private geometry(h: Handle): Geometry {
    const g = this.ctx.store.geometry(h);
    return unflatten({ type: g.type, coords: g.coords.slice(), parts: g.parts.slice() });
  }

  click(p: ImagePoint, m: Modifiers): void {
    const store = this.ctx.store;
    const hit = hitTest(store, this.ctx.index, p.x, p.y, this.tol(), this.ctx.layers.shownIn(store));
    if (m.alt && hit && hit.vertex !== null && this.ctx.selection.has(store.idOf(hit.handle)) && !store.lockedOf(hit.handle)) {
      const g = deleteVertex(this.geometry(hit.handle), hit.vertex / 2);
      if (g) this.ctx.commit({ update: [{ id: store.idOf(hit.handle), changes: { geometry: g, kind: this.editedKind(hit.handle) } }] }, 'Delete vertex');
      return;
    }
    if (!hit) {
      if (!m.shift) this.ctx.selection.clear();
    } else if (m.shift) this.ctx.selection.toggle(store.idOf(hit.handle));
    else this.ctx.selection.set([store.idOf(hit.handle)]);
    this.ctx.redraw();
  }

  dblclick(p: ImagePoint): void {
    const [h] = this.selectedHandles();
    if (h === undefined || this.ctx.store.lockedOf(h)) return;
    const g = insertVertex(this.geometry(h), [p.x, p.y], this.tol());
    if (g) this.ctx.commit({ update: [{ id: this.ctx.store.idOf(h), changes: { geometry: g, kind: this.editedKind(h) } }] }, 'Insert vertex');
  }

  key(e: KeyboardEvent): boolean {
    if (e.key === 'Escape') {
      this.ctx.selection.clear();
      this.ctx.redraw();
      return true;
    }
    if (e.key === 'Delete' || e.key === 'Backspace') return deleteSelected(this.ctx);
    return false;
  }

  drawOverlay(ctx: CanvasRenderingContext2D, toScreen: (x: number, y: number) => [number, number]): void {
    const store = this.ctx.store;
    const d = this.drag_;
    for (const h of this.selectedHandles()) {
      let g = this.geometry(h);
      if (d?.kind === 'move' && d.handles.includes(h)) g = translate(g, d.now.x - d.start.x, d.now.y - d.start.y);
      if (d?.kind === 'vertex' && d.handle === h) g = moveVertex(g, d.vertex / 2, [d.now.x, d.now.y]);
      drawSelected(ctx, g, toScreen, store.lockedOf(h));
    }
  }

  finish(): void {
    this.drag_ = null;
    this.ctx.hide([]);
  }
}

function drawSelected(ctx: CanvasRenderingContext2D, g: Geometry, toScreen: (x: number, y: number) => [number, number], locked: boolean): void {
  const rings: Position[][] = g.type === 'Polygon' ? g.coordinates : g.type === 'MultiPolygon' ? g.coordinates.flat() : g.type === 'LineString' ? [g.coordinates] : g.type === 'Point' ? [[g.coordinates]] : [g.coordinates];
  ctx.save();
  ctx.strokeStyle = locked ? '#ff9800' : '#00e5ff';
  ctx.lineWidth = 2.5;
  ctx.fillStyle = '#ffffff';
  for (const r of rings) {
    const pts = r.map((p) => toScreen(p[0], p[1]));
    ctx.beginPath();
    pts.forEach((p, i) => (i ? ctx.lineTo(p[0], p[1]) : ctx.moveTo(p[0], p[1])));
    ctx.stroke();
    if (!locked && pts.length <= 400) {
      for (const p of pts) {
        ctx.fillRect(p[0] - 3.5, p[1] - 3.5, 7, 7);
        ctx.strokeRect(p[0] - 3.5, p[1] - 3.5, 7, 7);
      }
    }
    if (r.length === 1) {
      const p = pts[0] as [number, number];
      ctx.beginPath();
      ctx.arc(p[0], p[1], 7, 0, Math.PI * 2);
      ctx.stroke();
    }
  }
  ctx.restore();
}

registerTool({
  id: 'select',
  label: 'Select',
  icon: '↖',
  key: 'v',
  cursor: 'default',
  section: 'annotate',
  help: [
    ['Del', 'delete the selection'],
    ['Esc', 'clear the selection'],
  ],
  create: (ctx) => new SelectTool(ctx),
});
