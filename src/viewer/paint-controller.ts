/**
 * Painting in the viewer: ties the mask (MaskSession), its display
 * (MaskLayer) and the paint tools together. It decides when painting is
 * allowed (from `minMagnification`, 10× by default), the brush size (screen
 * pixels, shown in µm), "paint inside ROIs only" (strokes clipped to the
 * regions of interest under them), ROI fills and flood fills.
 */
import type OpenSeadragon from 'openseadragon';
import type { AnnotationClass } from '../core/annotation.js';
import { GeomType, flatBounds, forEachRing } from '../core/flat-geometry.js';
import { formatLength } from '../core/scale.js';
import type { Handle } from '../state/annotation-store.js';
import { BrushTool, FloodTool, type PaintContext } from '../tools/paint-tools.js';
import type { ImagePoint, Tool } from '../tools/tool.js';
import type { AnnotationSession } from './annotation-session.js';
import { imageTransform } from './image-transform.js';
import { MaskLayer } from './mask-layer.js';
import type { MaskSession } from './mask-session.js';

export interface PaintOptions {
  /** Magnification now (null when the slide has no calibration). */
  magnification(): number | null;
  currentClass(): string | null;
  mpp: number | null;
  /** Something the panel shows changed. */
  onChange(): void;
  redraw(): void;
}

/** The class id painted for a palette entry (the registry's stable id). */
export function classId(c: AnnotationClass | undefined): number | null {
  const id = (c as (AnnotationClass & { id?: number }) | undefined)?.id;
  return typeof id === 'number' && id > 0 && id < 256 ? id : null;
}

export class PaintController implements PaintContext {
  readonly layer: MaskLayer;
  readonly tools: Tool[];
  brushPx = 24;
  insideRoisOnly = false;
  minMagnification = 10;
  message: string | null = null;
  /** Milliseconds from each stroke's commit (pointer-up) to its tiles on screen, most recent last: for benchmarks and diagnostics. */
  readonly strokeLatencies: number[] = [];

  constructor(
    private readonly viewer: OpenSeadragon.Viewer,
    private readonly session: AnnotationSession,
    readonly mask: MaskSession,
    private readonly opts: PaintOptions,
  ) {
    this.layer = new MaskLayer(viewer, mask.pyramid, (t, lut, outline) => mask.worker.render(t, lut, outline), this.colours());
    this.tools = [new BrushTool('brush', this), new BrushTool('eraser', this), new FloodTool(this)];
    mask.renderHint = () => this.layer.renderHint();
    mask.onRendered = (tiles) => this.layer.install(tiles);
    mask.onReplaySkipped = (n, label) => this.notify(`${label}: ${n} tile${n === 1 ? '' : 's'} changed on the server since and ${n === 1 ? 'was' : 'were'} left as ${n === 1 ? 'it is' : 'they are'}.`);
  }

  private colours(): Map<number, string> {
    const m = new Map<number, string>();
    for (const c of this.session.palette) {
      const id = classId(c);
      if (id !== null) m.set(id, c.color);
    }
    return m;
  }

  /** Re-reads the palette's colours. */
  restyle(): void {
    this.layer.setColours(this.colours());
  }

  private paintClass(): AnnotationClass | undefined {
    const name = this.opts.currentClass();
    return this.session.palette.find((c) => c.name === name);
  }

  disabledReason(): string | null {
    if (!this.mask.loaded) return this.mask.loadError ? `The mask could not be loaded: ${this.mask.loadError}` : 'The mask is still loading.';
    const mag = this.opts.magnification();
    if (mag !== null && mag < this.minMagnification - 1e-6) {
      return `Painting works from ${this.minMagnification}× up (now ${mag < 10 ? mag.toFixed(1) : Math.round(mag)}×): zoom in.`;
    }
    if (classId(this.paintClass()) === null) return 'Choose a class to paint.';
    return null;
  }

  brushScreenPx(): number {
    return this.brushPx;
  }

  setBrushScreenPx(px: number): void {
    this.brushPx = px;
    this.opts.onChange();
  }

  private zoom(): number {
    const t = imageTransform(this.viewer);
    return t ? t.scale / devicePixelRatio : 1;
  }

  imagePxPerScreenPx(): number {
    return 1 / this.zoom();
  }

  /** The brush diameter in µm at the current zoom (null without MPP). */
  brushText(): string {
    const img = this.brushPx * this.imagePxPerScreenPx();
    return this.opts.mpp ? formatLength(img * this.opts.mpp) : `${Math.round(img)} px`;
  }

  paintColour(): string {
    return this.paintClass()?.color ?? '#888';
  }

  notify(message: string | null): void {
    this.message = message;
    this.opts.onChange();
  }

  redraw(): void {
    this.opts.redraw();
  }

  /** Regions of interest (annotation polygons, not detections) touching a box, as flat rings per polygon. */
  private roisIn(x0: number, y0: number, x1: number, y1: number, only?: Handle[]): Float64Array[][] {
    const store = this.session.store;
    const hs = only ?? this.session.index.query(x0, y0, x1, y1);
    const out: Float64Array[][] = [];
    for (const h of hs) {
      if (!store.isLive(h)) continue;
      const g = store.geometry(h);
      if (g.type !== GeomType.Polygon && g.type !== GeomType.MultiPolygon) continue;
      if (!only && store.record(h).objectType !== 'annotation') continue;
      // a MultiPolygon's parts are filled together: even-odd keeps holes, and parts never overlap
      const rings: Float64Array[] = [];
      forEachRing(g.type, g.parts, (start, count) => rings.push(g.coords.slice(start * 2, (start + count) * 2)));
      out.push(rings);
    }
    return out;
  }

  async stroke(path: Float64Array, radiusImgPx: number, erase: boolean): Promise<string | null> {
    const value = erase ? 0 : classId(this.paintClass());
    if (value === null) return 'Choose a class to paint.';
    let clip: Float64Array[][] | null = null;
    if (this.insideRoisOnly && !erase) {
      const [x0, y0, x1, y1] = flatBounds(path);
      clip = this.roisIn(x0 - radiusImgPx, y0 - radiusImgPx, x1 + radiusImgPx, y1 + radiusImgPx);
      if (clip.length === 0) return 'No region of interest under this stroke: outline one first, or turn off "inside ROIs only".';
    }
    const t0 = performance.now();
    const out = await this.mask.stroke(path, radiusImgPx, value, clip);
    if (out.refused) return out.refused;
    const shown = await this.layer.whenVisible(out.keys);
    this.strokeLatencies.push(shown - t0);
    if (this.strokeLatencies.length > 1000) this.strokeLatencies.splice(0, 500);
    return null;
  }

  async flood(p: ImagePoint): Promise<string | null> {
    const value = classId(this.paintClass());
    if (value === null) return 'Choose a class to paint.';
    const t = imageTransform(this.viewer);
    if (!t) return null;
    const c = this.viewer.canvas;
    const bounds = { x0: -t.ox / t.scale, y0: -t.oy / t.scale, x1: (c.clientWidth * devicePixelRatio - t.ox) / t.scale, y1: (c.clientHeight * devicePixelRatio - t.oy) / t.scale };
    const out = await this.mask.flood(p.x, p.y, value, bounds);
    if (out.refused) return out.refused;
    await this.layer.whenVisible(out.keys);
    return null;
  }

  /** Fills the selected regions of interest with the current class (one undo step). */
  async fillSelected(): Promise<string | null> {
    const value = classId(this.paintClass());
    if (value === null) return 'Choose a class to paint.';
    if (!this.mask.loaded) return this.disabledReason();
    const store = this.session.store;
    const hs = this.session.selection
      .list()
      .map((id) => store.handleOf(id))
      .filter((h): h is Handle => h !== undefined);
    const polys = this.roisIn(0, 0, 0, 0, hs);
    if (polys.length === 0) return 'Select one or more regions (polygons) to fill.';
    const out = await this.mask.fillPolygons(polys, value, `Fill ${polys.length} region${polys.length === 1 ? '' : 's'}`);
    if (out.refused) return out.refused;
    await this.layer.whenVisible(out.keys);
    return null;
  }

  /** Paint keys: `[`/`]` are the brush tool's; here `i` toggles inside-ROIs-only and `G` fills the selection. */
  key(e: KeyboardEvent): boolean {
    if (e.key === 'i') {
      this.insideRoisOnly = !this.insideRoisOnly;
      this.opts.onChange();
      return true;
    }
    if (e.key === 'G') {
      void this.fillSelected().then((m) => this.notify(m));
      return true;
    }
    return false;
  }

  destroy(): void {
    this.mask.renderHint = null;
    this.mask.onRendered = null;
    this.mask.onReplaySkipped = null;
    this.layer.destroy();
  }
}
