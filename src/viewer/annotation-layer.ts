/**
 * The annotation overlay of the viewer: a canvas over OpenSeadragon's,
 * redrawn on every viewport frame. Few objects in view → their outlines,
 * culled through the spatial index; many → cached level-of-detail tiles.
 * Pointer events from OpenSeadragon go to the active tool (tools that hold a
 * drag stop the view from panning); selection and gestures in progress are
 * drawn on top.
 */
import OpenSeadragon from 'openseadragon';
import type { AnnotationKind, Geometry } from '../core/annotation.js';
import { GeomType } from '../core/flat-geometry.js';
import type { AnnotationRecord, Handle } from '../state/annotation-store.js';
import { hitTest } from '../state/hit-test.js';
import { BoxTool, FreehandTool, PointTool, PolygonTool, RulerTool, rulerText } from '../tools/draw-tools.js';
import { subtract, unionAll } from '../tools/geometry-ops.js';
import { SelectTool } from '../tools/select-tool.js';
import type { ImagePoint, Modifiers, Tool, ToolContext, ToolId } from '../tools/tool.js';
import type { AnnotationSession } from './annotation-session.js';
import { drawHandles, paletteColours, type DrawStyle, type Transform } from './draw-annotations.js';
import { imageTransform } from './image-transform.js';
import { LodTiles } from './lod-tiles.js';

/** Above this many objects in view, draw the raster level of detail. */
export const VECTOR_LIMIT = 1500;

export interface LayerOptions {
  mpp: number | null;
  currentClass: () => string | null;
  onToolChange?: (id: ToolId) => void;
  /** More tools (the mask's brush, eraser and flood fill). */
  extraTools?: Tool[];
}

function newId(): string {
  return crypto.randomUUID();
}

export class AnnotationLayer {
  readonly canvas: HTMLCanvasElement;
  private readonly tools: Map<ToolId, Tool>;
  private tool: Tool;
  private hidden = new Set<Handle>();
  private readonly lod: LodTiles;
  private style: DrawStyle;
  private capturing = false;
  private frame = 0;
  private readonly handlers: Array<[string, OpenSeadragon.EventHandler<never>]> = [];
  private readonly unsub: Array<() => void> = [];
  private readonly scratch: Handle[] = [];
  /** Above this many objects in view, draw cached raster tiles instead of outlines each frame. */
  vectorLimit = VECTOR_LIMIT;
  fillAlpha = 0.25;
  outlineOnly = false;
  visible = true;
  /** Draw times (ms) of recent frames, for the benchmark and diagnostics. */
  readonly drawTimes: number[] = [];
  lastMode: 'vector' | 'lod' = 'vector';

  constructor(
    private readonly viewer: OpenSeadragon.Viewer,
    readonly session: AnnotationSession,
    private readonly opts: LayerOptions,
  ) {
    this.canvas = document.createElement('canvas');
    Object.assign(this.canvas.style, { position: 'absolute', left: '0', top: '0', width: '100%', height: '100%', pointerEvents: 'none' });
    this.canvas.setAttribute('data-testid', 'annotation-canvas');
    viewer.canvas.appendChild(this.canvas);
    this.style = this.makeStyle();
    this.lod = new LodTiles(session.store, session.index, this.style);
    const ctx = this.toolContext();
    this.tools = new Map<ToolId, Tool>([
      ['select', new SelectTool(ctx)],
      ['polygon', new PolygonTool(ctx)],
      ['freehand', new FreehandTool(ctx)],
      ['rectangle', new BoxTool(ctx, 'rectangle')],
      ['ellipse', new BoxTool(ctx, 'ellipse')],
      ['point', new PointTool(ctx)],
      ['ruler', new RulerTool(ctx)],
    ]);
    for (const t of opts.extraTools ?? []) this.tools.set(t.id, t);
    this.tool = this.tools.get('select') as Tool;
    this.listen();
    this.unsub.push(session.store.observe(() => this.redraw()));
    this.unsub.push(session.selection.onChange(() => this.redraw()));
    this.redraw();
  }

  private makeStyle(): DrawStyle {
    const palette = new Map(this.session.palette.map((c) => [c.name, c.color]));
    return { colour: paletteColours(this.session.store, palette), fillAlpha: this.fillAlpha, lineWidth: 1.5 * devicePixelRatio, outlineOnly: this.outlineOnly };
  }

  /** Re-reads palette, opacity and outline mode. */
  restyle(): void {
    this.style = this.makeStyle();
    this.lod.setStyle(this.style);
    this.redraw();
  }

  private toolContext(): ToolContext {
    const s = this.session;
    return {
      store: s.store,
      index: s.index,
      selection: s.selection,
      imagePxPerScreenPx: () => 1 / this.zoom(),
      mpp: () => this.opts.mpp,
      currentClass: this.opts.currentClass,
      commit: (edit, label) => s.store.apply(edit, 'local', label),
      redraw: () => this.redraw(),
      hide: (hs) => {
        this.hidden = new Set(hs);
        this.lod.setHidden(this.hidden);
        this.redraw();
      },
      newRecord: (kind: AnnotationKind, geometry: Geometry): AnnotationRecord => ({
        id: newId(),
        kind,
        geometry,
        classification: kind === 'ruler' ? null : this.opts.currentClass(),
        name: null,
        note: null,
        locked: false,
        objectType: 'annotation',
        properties: {},
        version: 0,
      }),
    };
  }

  get toolId(): ToolId {
    return this.tool.id;
  }

  /** True when a tool with this id exists (paint tools only when the mask is available). */
  hasTool(id: ToolId): boolean {
    return this.tools.has(id);
  }

  setTool(id: ToolId): void {
    if (id === this.tool.id || !this.tools.has(id)) return;
    this.tool.finish?.();
    this.tool = this.tools.get(id) as Tool;
    this.viewer.canvas.style.cursor = this.tool.cursor;
    this.opts.onToolChange?.(id);
    this.redraw();
  }

  // ---- coordinates

  private item(): OpenSeadragon.TiledImage | undefined {
    return this.viewer.world.getItemAt(0);
  }

  /** CSS px per image px. */
  zoom(): number {
    const item = this.item();
    return item ? item.viewportToImageZoom(this.viewer.viewport.getZoom(true)) : 1;
  }

  toImage(p: OpenSeadragon.Point): ImagePoint {
    const item = this.item();
    if (!item) return { x: 0, y: 0 };
    const q = item.viewerElementToImageCoordinates(p);
    return { x: q.x, y: q.y };
  }

  private transform(): Transform {
    return imageTransform(this.viewer) ?? { ox: 0, oy: 0, scale: 1 };
  }

  // ---- events

  private mods(e: { originalEvent?: Event }): Modifiers {
    const ev = e.originalEvent as MouseEvent | undefined;
    return { shift: !!ev?.shiftKey, alt: !!ev?.altKey, ctrl: !!(ev?.ctrlKey || ev?.metaKey) };
  }

  private on(name: string, fn: (e: OpenSeadragon.CanvasPressEvent & { preventDefaultAction?: boolean; quick?: boolean }) => void): void {
    const h = fn as unknown as OpenSeadragon.EventHandler<never>;
    this.viewer.addHandler(name as never, h);
    this.handlers.push([name, h]);
  }

  private listen(): void {
    this.on('canvas-press', (e) => {
      this.capturing = this.tool.press?.(this.toImage(e.position), this.mods(e)) ?? false;
    });
    this.on('canvas-drag', (e) => {
      if (!this.capturing) return;
      e.preventDefaultAction = true;
      this.tool.drag?.(this.toImage(e.position), this.mods(e));
    });
    this.on('canvas-drag-end', (e) => {
      if (this.capturing) e.preventDefaultAction = true;
    });
    this.on('canvas-release', (e) => {
      if (!this.capturing) return;
      this.capturing = false;
      this.tool.release?.(this.toImage(e.position), this.mods(e));
    });
    this.on('canvas-click', (e) => {
      if (!e.quick) return;
      e.preventDefaultAction = true;
      this.tool.click?.(this.toImage(e.position), this.mods(e));
    });
    this.on('canvas-double-click', (e) => {
      if (this.tool.id !== 'select' || this.session.selection.size > 0) e.preventDefaultAction = true;
      this.tool.dblclick?.(this.toImage(e.position), this.mods(e));
    });
    this.on('canvas-scroll', (e) => {
      const ev = e.originalEvent as WheelEvent | undefined;
      if (ev && this.tool.scroll?.(ev.deltaY, this.mods(e))) e.preventDefaultAction = true;
    });
    for (const name of ['update-viewport', 'resize', 'open']) this.on(name, () => this.draw());
    const move = (ev: PointerEvent): void => {
      if (!this.tool.move) return;
      const r = this.viewer.canvas.getBoundingClientRect();
      this.tool.move(this.toImage(new OpenSeadragon.Point(ev.clientX - r.left, ev.clientY - r.top)));
    };
    this.viewer.canvas.addEventListener('pointermove', move);
    this.unsub.push(() => this.viewer.canvas.removeEventListener('pointermove', move));
  }

  /** Keyboard for the tools and editing. Returns true when handled. */
  key(e: KeyboardEvent): boolean {
    const undoKey = (e.ctrlKey || e.metaKey) && !e.altKey;
    if (undoKey && (e.key === 'z' || e.key === 'Z')) {
      this.tool.finish?.();
      if (e.shiftKey) this.session.undo.redo();
      else this.session.undo.undo();
      return true;
    }
    if (undoKey && (e.key === 'y' || e.key === 'Y')) {
      this.session.undo.redo();
      return true;
    }
    if (e.ctrlKey || e.metaKey || e.altKey) return false;
    return this.tool.key?.(e) ?? false;
  }

  /** How long raster tiles the view needed waited for their bitmap (ms), most recent last. */
  get tileLatencies(): number[] {
    return this.lod.latencies;
  }

  /** Level-of-detail tiles still to render for the current view. */
  get renderPending(): number {
    return this.visible && this.lastMode === 'lod' ? this.lod.pending : 0;
  }

  /** The object under an image point with the selection tool's tolerance (for integrations and benchmarks). */
  hitTest(x: number, y: number): Handle | null {
    return hitTest(this.session.store, this.session.index, x, y, 6 / this.zoom())?.handle ?? null;
  }

  // ---- edits on the selection

  private selected(): Handle[] {
    return this.session.selection
      .list()
      .map((id) => this.session.store.handleOf(id))
      .filter((h): h is Handle => h !== undefined);
  }

  private isArea(h: Handle): boolean {
    const t = this.session.store.geometry(h).type;
    return t === GeomType.Polygon || t === GeomType.MultiPolygon;
  }

  /** Merges the selected regions into the first one (one undo step). */
  union(): boolean {
    const store = this.session.store;
    const hs = this.selected().filter((h) => this.isArea(h) && !store.lockedOf(h));
    if (hs.length < 2) return false;
    const g = unionAll(hs.map((h) => store.record(h).geometry));
    if (!g) return false;
    const [first, ...rest] = hs as [Handle, ...Handle[]];
    store.apply({ update: [{ id: store.idOf(first), changes: { geometry: g, kind: 'polygon' } }], delete: rest.map((h) => store.idOf(h)) }, 'local', `Union of ${hs.length}`);
    this.session.selection.set([store.idOf(first)]);
    return true;
  }

  /** Cuts the other selected regions out of the first selected one. */
  subtract(): boolean {
    const store = this.session.store;
    const [first, ...rest] = this.selected().filter((h) => this.isArea(h));
    if (first === undefined || rest.length === 0 || store.lockedOf(first)) return false;
    const g = subtract(store.record(first).geometry, rest.map((h) => store.record(h).geometry));
    if (!g) {
      store.apply({ delete: [store.idOf(first)] }, 'local', 'Subtract (nothing left)');
      return true;
    }
    store.apply({ update: [{ id: store.idOf(first), changes: { geometry: g, kind: 'polygon' } }] }, 'local', 'Subtract');
    return true;
  }

  toggleLock(): boolean {
    const store = this.session.store;
    const hs = this.selected();
    if (hs.length === 0) return false;
    const lock = hs.some((h) => !store.lockedOf(h));
    store.apply({ update: hs.map((h) => ({ id: store.idOf(h), changes: { locked: lock } })) }, 'local', lock ? 'Lock' : 'Unlock');
    return true;
  }

  classify(name: string | null): boolean {
    const store = this.session.store;
    const hs = this.selected().filter((h) => !store.lockedOf(h));
    if (hs.length === 0) return false;
    store.apply({ update: hs.map((h) => ({ id: store.idOf(h), changes: { classification: name } })) }, 'local', `Set class ${name ?? '(none)'}`);
    return true;
  }

  deleteSelected(): boolean {
    const store = this.session.store;
    const hs = this.selected().filter((h) => !store.lockedOf(h));
    if (hs.length === 0) return false;
    store.apply({ delete: hs.map((h) => store.idOf(h)) }, 'local', hs.length > 1 ? `Delete ${hs.length} objects` : 'Delete');
    return true;
  }

  // ---- drawing

  redraw(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  draw(): void {
    const t0 = performance.now();
    const canvas = this.canvas;
    const dpr = devicePixelRatio;
    const w = Math.round(canvas.clientWidth * dpr);
    const h = Math.round(canvas.clientHeight * dpr);
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
    }
    const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
    ctx.clearRect(0, 0, w, h);
    if (!this.item() || w === 0) return;
    const t = this.transform();
    const x0 = -t.ox / t.scale;
    const y0 = -t.oy / t.scale;
    const x1 = (w - t.ox) / t.scale;
    const y1 = (h - t.oy) / t.scale;
    let lodBusy = false;
    if (this.visible) {
      const estimate = this.session.density.estimate(x0, y0, x1, y1);
      if (estimate > this.vectorLimit) {
        this.lastMode = 'lod';
        this.lod.draw(ctx, { x0, y0, x1, y1, scale: t.scale, ox: t.ox, oy: t.oy });
        if (this.lod.pending > 0) {
          this.lod.work(3);
          lodBusy = true;
        }
      } else {
        this.lastMode = 'vector';
        const hs = this.scratch;
        hs.length = 0;
        this.session.index.query(x0, y0, x1, y1, hs);
        const shown = this.hidden.size ? hs.filter((x) => !this.hidden.has(x)) : hs;
        drawHandles(ctx, this.session.store, shown, 0, shown.length, t, this.style);
        this.drawRulerLabels(ctx, shown, t);
      }
    }
    const toScreen = (x: number, y: number): [number, number] => [t.ox + x * t.scale, t.oy + y * t.scale];
    for (const tool of new Set([this.tool, this.tools.get('select') as Tool])) tool.drawOverlay?.(ctx, toScreen);
    this.drawTimes.push(performance.now() - t0);
    if (this.drawTimes.length > 600) this.drawTimes.splice(0, 300);
    if (lodBusy) this.redraw();
  }

  private drawRulerLabels(ctx: CanvasRenderingContext2D, hs: Handle[], t: Transform): void {
    const store = this.session.store;
    ctx.save();
    ctx.font = `${12 * devicePixelRatio}px system-ui, sans-serif`;
    for (const h of hs) {
      if (store.kindOf(h) !== 'ruler') continue;
      const c = store.geometry(h).coords;
      if (c.length < 4) continue;
      const len = Math.hypot((c[2] as number) - (c[0] as number), (c[3] as number) - (c[1] as number));
      const text = rulerText(len, this.opts.mpp);
      const x = t.ox + (((c[0] as number) + (c[2] as number)) / 2) * t.scale;
      const y = t.oy + (((c[1] as number) + (c[3] as number)) / 2) * t.scale;
      ctx.fillStyle = 'rgba(0,0,0,0.7)';
      ctx.fillRect(x + 6, y - 16 * devicePixelRatio, ctx.measureText(text).width + 8, 18 * devicePixelRatio);
      ctx.fillStyle = '#fff';
      ctx.fillText(text, x + 10, y - 3 * devicePixelRatio);
    }
    ctx.restore();
  }

  destroy(): void {
    if (this.frame) cancelAnimationFrame(this.frame);
    for (const [name, h] of this.handlers) this.viewer.removeHandler(name as never, h);
    for (const u of this.unsub) u();
    this.canvas.remove();
  }
}
