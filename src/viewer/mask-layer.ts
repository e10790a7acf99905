/**
 * The painted mask over the slide: a canvas under the annotation overlay
 * that draws, for the current view, the mask pyramid level whose pixels are
 * closest to screen pixels (level 0 from 1 screen px per image px up), one
 * bitmap per 512-px tile, coloured in the mask worker and cached. A change
 * marks the tiles above it stale: the stale bitmap stays on screen until its
 * replacement is ready, so nothing flickers. Pixels are drawn crisp (no
 * smoothing) so class boundaries can be checked at high magnification.
 */
import type OpenSeadragon from 'openseadragon';
import { maskClassId, type AnnotationClass } from '../core/annotation.js';
import { maskLevelGrid, parseTileKey, tileKey } from '../core/mask/mask-grid.js';
import type { TileGrid } from '../core/tile-grid.js';
import type { ClassLayers } from '../state/class-layers.js';
import type { MaskDisplay, MaskSession } from '../session/mask-session.js';
import type { RenderRequest, RenderedTile } from '../../workers/protocol.js';
import { FrameScheduler } from './frame.js';
import { beginOverlayFrame, createOverlayCanvas } from './overlay-canvas.js';
import { canvasTransform, forEachTileInBox, levelForScale, readViewTransform, tileOnCanvas, tilesInBox, visibleImageBox, type ViewTransform } from './view-transform.js';

const MAX_BITMAPS = 96;

interface Cached {
  bitmap: ImageBitmap;
  fresh: boolean;
  used: number;
}

/** #rrggbb → little-endian RGBA as one Uint32 (opaque, or with the alpha given: 0–1). */
export function packColour(hex: string, alpha = 1): number {
  const m = /^#?([0-9a-f]{6})$/i.exec(hex);
  const v = m ? parseInt(m[1] as string, 16) : 0xff00ff;
  const a = Math.round(Math.max(0, Math.min(1, alpha)) * 255);
  return ((a << 24) | ((v & 0xff) << 16) | (v & 0xff00) | ((v >> 16) & 0xff)) >>> 0;
}

/** Class id → colour, from the palette's mask ids. */
export function paletteLut(palette: readonly AnnotationClass[]): Map<number, string> {
  const m = new Map<number, string>();
  for (const c of palette) {
    const id = maskClassId(c);
    if (id !== null) m.set(id, c.color);
  }
  return m;
}

export class MaskLayer implements MaskDisplay {
  readonly canvas: HTMLCanvasElement;
  private readonly cache = new Map<string, Cached>();
  private readonly inflight = new Map<string, number>();
  private readonly generation = new Map<string, number>();
  private clock = 0;
  private readonly frame = new FrameScheduler(() => this.draw());
  private readonly grids: TileGrid[] = [];
  private lut = new Uint32Array(256);
  private opacityValue = 0.5;
  private outlineValue = false;
  visible = true;
  /** Resolvers waiting for level-0 tiles to be drawn fresh (see whenVisible). */
  private readonly waiters: Array<{ keys: Set<string>; resolve: (t: number) => void }> = [];
  private readonly handlers: Array<[string, OpenSeadragon.EventHandler<never>]> = [];
  private readonly unsub: Array<() => void> = [];

  constructor(
    private readonly viewer: OpenSeadragon.Viewer,
    private readonly mask: MaskSession,
    palette: readonly AnnotationClass[],
  ) {
    this.canvas = createOverlayCanvas(viewer, 'mask-canvas');
    this.setColours(paletteLut(palette));
    for (const name of ['update-viewport', 'resize', 'open']) {
      const h = (() => this.draw()) as unknown as OpenSeadragon.EventHandler<never>;
      viewer.addHandler(name as never, h);
      this.handlers.push([name, h]);
    }
    this.unsub.push(mask.attachDisplay(this));
    this.unsub.push(mask.pyramid.onInvalidate((keys) => {
      for (const k of keys) {
        const c = this.cache.get(k);
        if (c) c.fresh = false;
        this.generation.set(k, (this.generation.get(k) ?? 0) + 1);
        this.inflight.delete(k);
      }
      this.redraw();
    }));
  }

  private get pyramid(): MaskSession['pyramid'] {
    return this.mask.pyramid;
  }

  /** The grid of a pyramid level, in level-0 pixels. */
  private grid(level: number): TileGrid {
    const s = this.mask.slideBox;
    return (this.grids[level] ??= maskLevelGrid(s.x1, s.y1, level));
  }

  private colours = new Map<number, string>();
  private classAlpha: (id: number) => number = () => 1;
  private offLayers: (() => void) | null = null;

  /** Class id → colour. */
  setColours(colours: Map<number, string>): void {
    this.colours = colours;
    const lut = new Uint32Array(256);
    for (const [id, c] of colours) if (id > 0 && id < 256) lut[id] = packColour(c, this.classAlpha(id));
    this.lut = lut;
    this.invalidateAll();
  }

  /**
   * Follows the layers per class (src/state/class-layers.ts): a hidden
   * class's pixels are transparent, the others take their class's opacity
   * (under the mask's own opacity). `palette` names the class of a mask id.
   */
  useLayers(layers: ClassLayers, palette: () => readonly AnnotationClass[]): void {
    this.offLayers?.();
    this.classAlpha = (id) => layers.alpha(palette().find((c) => maskClassId(c) === id)?.name ?? null);
    this.offLayers = layers.onChange(() => this.setColours(this.colours));
    this.setColours(this.colours);
  }

  get opacity(): number {
    return this.opacityValue;
  }

  set opacity(v: number) {
    this.opacityValue = Math.max(0, Math.min(1, v));
    this.redraw();
  }

  get outline(): boolean {
    return this.outlineValue;
  }

  set outline(v: boolean) {
    if (v === this.outlineValue) return;
    this.outlineValue = v;
    this.invalidateAll();
  }

  private invalidateAll(): void {
    for (const [k, c] of this.cache) {
      c.fresh = false;
      this.generation.set(k, (this.generation.get(k) ?? 0) + 1);
    }
    this.inflight.clear();
    this.redraw();
  }

  redraw(): void {
    this.frame.request();
  }

  /** The pyramid level drawn at a zoom (CSS px per image px): the one whose pixels are closest to screen pixels. */
  levelFor(zoom: number): number {
    return levelForScale(zoom, this.pyramid.maxLevel);
  }

  /** The level-0 pixels the canvas shows now (null before the slide is open). */
  private view(): { t: ViewTransform; w: number; h: number } | null {
    const t = readViewTransform(this.viewer);
    if (!t) return null;
    return { t, w: this.canvas.width || this.canvas.clientWidth * t.dpr, h: this.canvas.height || this.canvas.clientHeight * t.dpr };
  }

  draw(): void {
    const frame = beginOverlayFrame(this.canvas, this.viewer);
    if (!frame || !this.visible) return;
    const { ctx, view: vt, width: w, height: h } = frame;
    const level = this.levelFor(vt.zoom);
    const grid = this.grid(level);
    const c = canvasTransform(vt);
    ctx.imageSmoothingEnabled = false;
    ctx.globalAlpha = this.opacityValue;
    const drawn: string[] = [];
    forEachTileInBox(grid, visibleImageBox(vt, w, h), (tx, ty) => {
      if (this.pyramid.isEmpty(level, tx, ty)) return;
      const key = `${level}/${tileKey(tx, ty)}`;
      const cached = this.cache.get(key);
      if (!cached || !cached.fresh) this.request(key, level, tx, ty);
      if (!cached) return;
      cached.used = ++this.clock;
      const at = tileOnCanvas(c, grid, tx, ty);
      ctx.drawImage(cached.bitmap, at.x, at.y, at.width, at.height);
      if (cached.fresh && level === 0) drawn.push(tileKey(tx, ty));
    });
    ctx.globalAlpha = 1;
    if (this.waiters.length) this.settleWaiters(drawn);
  }

  private request(key: string, level: number, tx: number, ty: number): void {
    const gen = this.generation.get(key) ?? 0;
    if (this.inflight.get(key) === gen) return;
    this.inflight.set(key, gen);
    void this.pyramid
      .get(level, tx, ty)
      .then((tile) => (tile ? this.mask.renderTile(tile, this.lut, this.outlineValue) : null))
      .then((bitmap) => {
        if ((this.generation.get(key) ?? 0) !== gen) {
          bitmap?.close();
          return;
        }
        this.inflight.delete(key);
        const old = this.cache.get(key);
        if (!bitmap) {
          old?.bitmap.close();
          this.cache.delete(key);
          return;
        }
        if (old && old.bitmap !== bitmap) old.bitmap.close();
        this.cache.set(key, { bitmap, fresh: true, used: ++this.clock });
        this.evict();
        this.redraw();
      })
      .catch(() => {
        this.inflight.delete(key);
      });
  }

  private evict(): void {
    if (this.cache.size <= MAX_BITMAPS) return;
    const old = [...this.cache.entries()].sort((a, b) => a[1].used - b[1].used);
    for (const [k, c] of old.slice(0, this.cache.size - MAX_BITMAPS)) {
      c.bitmap.close();
      this.cache.delete(k);
    }
  }

  /** What an edit should colour right away: the level-0 tiles in view, when level 0 is what is drawn (MaskDisplay). */
  renderRequest(): RenderRequest | null {
    const v = this.view();
    if (!v || !this.visible || this.levelFor(v.t.zoom) !== 0) return null;
    const keys: string[] = [];
    forEachTileInBox(this.grid(0), visibleImageBox(v.t, v.w, v.h), (tx, ty) => keys.push(tileKey(tx, ty)));
    return { lut: this.lut, outline: this.outlineValue, keys };
  }

  /** Bitmaps of level-0 tiles coloured with an edit (their content is already in the store) (MaskDisplay). */
  install(tiles: RenderedTile[]): void {
    for (const { key, bitmap } of tiles) {
      const k = `0/${key}`;
      const old = this.cache.get(k);
      if (old && old.bitmap !== bitmap) old.bitmap.close();
      this.cache.set(k, { bitmap, fresh: true, used: ++this.clock });
      // a render already asked for the same content is not needed any more
      this.generation.set(k, (this.generation.get(k) ?? 0) + 1);
      this.inflight.delete(k);
    }
    this.evict();
    this.redraw();
  }

  /**
   * Resolves (with the time) once every given level-0 tile that is in view
   * has been drawn from its current content — how "painted → visible" is
   * measured and how the brush knows when to drop its preview.
   */
  whenVisible(keys0: string[]): Promise<number> {
    const want = new Set(keys0.filter((k) => this.inView(k)));
    if (want.size === 0) return Promise.resolve(performance.now());
    return new Promise((resolve) => {
      this.waiters.push({ keys: want, resolve });
      this.redraw();
    });
  }

  private inView(key0: string): boolean {
    const v = this.view();
    if (!v || this.levelFor(v.t.zoom) !== 0) return false;
    const [tx, ty] = parseTileKey(key0);
    const r = tilesInBox(this.grid(0), visibleImageBox(v.t, this.canvas.width, this.canvas.height));
    return tx >= r.col0 && tx <= r.col1 && ty >= r.row0 && ty <= r.row1;
  }

  private settleWaiters(drawn: string[]): void {
    const now = performance.now();
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const wt = this.waiters[i] as (typeof this.waiters)[number];
      for (const k of drawn) wt.keys.delete(k);
      // keys that left the view no longer count
      for (const k of [...wt.keys]) if (!this.inView(k)) wt.keys.delete(k);
      if (wt.keys.size === 0) {
        this.waiters.splice(i, 1);
        wt.resolve(now);
      }
    }
  }

  destroy(): void {
    this.frame.cancel();
    this.offLayers?.();
    for (const u of this.unsub) u();
    for (const [name, h] of this.handlers) this.viewer.removeHandler(name as never, h);
    for (const c of this.cache.values()) c.bitmap.close();
    this.cache.clear();
    for (const w of this.waiters) w.resolve(performance.now());
    this.waiters.length = 0;
    this.canvas.remove();
  }
}
