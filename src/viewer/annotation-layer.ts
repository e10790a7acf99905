/**
 * The annotation overlay of the viewer: a canvas over OpenSeadragon's,
 * redrawn on every viewport frame. Few objects in view → their outlines,
 * culled through the spatial index; many → cached level-of-detail tiles.
 * While the session is still loading, those tiles are rendered in idle time
 * and shown a few times a second, not a slice per frame: a frame (its canvas
 * copied and committed) costs more than the slice it shows, and a million
 * objects arriving would keep frames coming for the whole load.
 * The tools' gestures in progress and the selection are drawn on top
 * (through `overlay`); pointer input goes to the tools through tool-host.ts.
 */
import type OpenSeadragon from 'openseadragon';
import type { Handle } from '../state/annotation-store.js';
import { hitTest } from '../state/hit-test.js';
import type { AnnotationSession } from '../session/annotation-session.js';
import { rulerText } from '../tools/ruler-tool.js';
import { drawHandles, paletteColours, type DrawStyle } from './draw-annotations.js';
import { FrameScheduler } from './frame.js';
import { LodTiles } from './lod-tiles.js';
import { beginOverlayFrame, createOverlayCanvas } from './overlay-canvas.js';
import { canvasTransform, readViewTransform, visibleImageBox, type CanvasTransform } from './view-transform.js';

/** Above this many objects in view, draw the raster level of detail. */
export const VECTOR_LIMIT = 1500;
/** While loading: level-of-detail work per idle slice (ms), and how often tiles finished in the background are shown (ms). */
const IDLE_SLICE_MS = 10;
const LOADING_SHOW_MS = 250;

export type OverlayDrawer = (ctx: CanvasRenderingContext2D, toScreen: (x: number, y: number) => [number, number]) => void;

export class AnnotationLayer {
  readonly canvas: HTMLCanvasElement;
  private hidden = new Set<Handle>();
  private readonly lod: LodTiles;
  private style: DrawStyle;
  private readonly frame = new FrameScheduler(() => this.draw());
  private readonly handlers: Array<[string, OpenSeadragon.EventHandler<never>]> = [];
  private readonly unsub: Array<() => void> = [];
  private readonly scratch: Handle[] = [];
  /** Draws what the tools show on top (gestures in progress, the selection). */
  overlay: OverlayDrawer | null = null;
  /** Draws a preview on top of everything (a version from the history: history-view.ts). */
  preview: OverlayDrawer | null = null;
  /** The level-0 box last drawn (the view), for "the current view" as a region. */
  lastViewBox: [number, number, number, number] | null = null;
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
    private readonly mpp: number | null,
  ) {
    this.canvas = createOverlayCanvas(viewer, 'annotation-canvas');
    this.style = this.makeStyle();
    this.lod = new LodTiles(session.store, session.index, this.style);
    for (const name of ['update-viewport', 'resize', 'open']) {
      const h = (() => this.draw()) as unknown as OpenSeadragon.EventHandler<never>;
      viewer.addHandler(name as never, h);
      this.handlers.push([name, h]);
    }
    this.unsub.push(session.store.observe(() => this.redraw()));
    this.unsub.push(session.selection.onChange(() => this.redraw()));
    // the end of loading brings back the tile work in frames
    this.unsub.push(session.onProgress((p) => p.done && this.redraw()));
    this.watchLayers();
    this.redraw();
  }

  private makeStyle(): DrawStyle {
    const palette = new Map(this.session.palette.map((c) => [c.name, c.color]));
    const store = this.session.store;
    const layers = this.session.layers;
    return {
      colour: paletteColours(store, palette),
      fillAlpha: this.fillAlpha,
      lineWidth: 1.5 * devicePixelRatio,
      outlineOnly: this.outlineOnly,
      classAlpha: (i) => layers.alpha(i < 0 ? null : (store.classes()[i] ?? null)),
      // the compared reader's objects: their own layer's eye and opacity, outlined dashed
      ...(this.session.compared.reader ? { layerOf: (h: Handle) => (this.session.compared.owns(store, h) ? 1 : 0) as 0 | 1, readerAlpha: this.session.compared.alpha() } : {}),
    };
  }

  private offLayers: (() => void) | null = null;

  /** Follows the session's layers per class (visibility, opacity): each change restyles. */
  watchLayers(): void {
    this.offLayers?.();
    const offClasses = this.session.layers.onChange(() => this.restyle());
    const offReader = this.session.compared.onChange(() => this.restyle());
    this.offLayers = () => {
      offClasses();
      offReader();
    };
    this.restyle();
  }

  /** Re-reads palette, opacity and outline mode. */
  restyle(): void {
    this.style = this.makeStyle();
    this.lod.setStyle(this.style);
    this.redraw();
  }

  /** Objects a tool is drawing itself while it moves or reshapes them: left out of the layer. */
  setHidden(handles: Handle[]): void {
    this.hidden = new Set(handles);
    this.lod.setHidden(this.hidden);
    this.redraw();
  }

  /** CSS px per image px. */
  zoom(): number {
    return readViewTransform(this.viewer)?.zoom ?? 1;
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
    return hitTest(this.session.store, this.session.index, x, y, 6 / this.zoom(), this.session.layers.shownIn(this.session.store))?.handle ?? null;
  }

  // ---- drawing

  redraw(): void {
    this.frame.request();
  }

  draw(): void {
    const t0 = performance.now();
    const frame = beginOverlayFrame(this.canvas, this.viewer);
    if (!frame) return;
    const { ctx, view: vt } = frame;
    const t = canvasTransform(vt);
    const box = visibleImageBox(vt, frame.width, frame.height);
    const { x0, y0, x1, y1 } = box;
    this.lastViewBox = [x0, y0, x1, y1];
    let lodBusy = false;
    if (this.visible) {
      const estimate = this.session.density.estimate(x0, y0, x1, y1);
      if (estimate > this.vectorLimit) {
        this.lastMode = 'lod';
        this.lod.draw(ctx, box, t);
        if (this.lod.pending > 0) {
          if (this.session.progress.done) {
            this.lod.work(3);
            lodBusy = true;
          } else this.workWhileLoading();
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
    this.overlay?.(ctx, toScreen);
    this.preview?.(ctx, toScreen);
    this.drawTimes.push(performance.now() - t0);
    if (this.drawTimes.length > 600) this.drawTimes.splice(0, 300);
    if (lodBusy) this.redraw();
  }

  private idleWork = false;
  private showTimer: ReturnType<typeof setTimeout> | null = null;
  private lastShown = 0;

  /** Renders queued tiles in idle slices while the session loads; finished ones are shown at most every LOADING_SHOW_MS. */
  private workWhileLoading(): void {
    if (this.idleWork) return;
    this.idleWork = true;
    const slice = (budgetMs: number): void => {
      this.idleWork = false;
      if (this.destroyed) return;
      if (this.lod.work(budgetMs)) this.showSoon();
      if (this.lod.pending === 0) return;
      if (this.session.progress.done) this.redraw();
      else this.workWhileLoading();
    };
    if (typeof requestIdleCallback === 'function') requestIdleCallback((d) => slice(Math.max(1, Math.min(IDLE_SLICE_MS, d.timeRemaining()))), { timeout: 200 });
    else setTimeout(() => slice(IDLE_SLICE_MS), 0);
  }

  private showSoon(): void {
    if (this.showTimer !== null) return;
    const wait = Math.max(0, this.lastShown + LOADING_SHOW_MS - performance.now());
    this.showTimer = setTimeout(() => {
      this.showTimer = null;
      this.lastShown = performance.now();
      this.redraw();
    }, wait);
  }

  private destroyed = false;

  private drawRulerLabels(ctx: CanvasRenderingContext2D, hs: Handle[], t: CanvasTransform): void {
    const store = this.session.store;
    ctx.save();
    ctx.font = `${12 * devicePixelRatio}px system-ui, sans-serif`;
    for (const h of hs) {
      if (store.kindOf(h) !== 'ruler') continue;
      const c = store.geometry(h).coords;
      if (c.length < 4) continue;
      const len = Math.hypot((c[2] as number) - (c[0] as number), (c[3] as number) - (c[1] as number));
      const text = rulerText(len, this.mpp);
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
    this.destroyed = true;
    if (this.showTimer !== null) clearTimeout(this.showTimer);
    this.frame.cancel();
    for (const [name, h] of this.handlers) this.viewer.removeHandler(name as never, h);
    for (const u of this.unsub) u();
    this.offLayers?.();
    this.canvas.remove();
  }
}
