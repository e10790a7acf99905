/**
 * The disagreement map over the slide, for reviewers: a canvas over the
 * mask that draws the map tiles the server cuts (per 64-px block, the share
 * of readers who disagree; docs/agreement.md) at the map level whose pixels
 * are at least one screen pixel, crisp (no smoothing), so one map works
 * from 1× to 40×. Off until switched on; switching on asks the server for
 * the map of every reader with a mask on the slide (two at least).
 */
import type OpenSeadragon from 'openseadragon';
import type { AgreementApi, MapDescription } from '../services/agreement-api.js';
import { FrameScheduler } from './frame.js';
import { beginOverlayFrame, createOverlayCanvas } from './overlay-canvas.js';
import { canvasTransform, visibleImageBox } from './view-transform.js';

const MAX_BITMAPS = 64;

export class DisagreementLayer {
  readonly canvas: HTMLCanvasElement;
  private readonly cache = new Map<string, { bitmap: ImageBitmap; used: number }>();
  private readonly inflight = new Set<string>();
  private readonly frame = new FrameScheduler(() => this.draw());
  private readonly handlers: Array<[string, OpenSeadragon.EventHandler<never>]> = [];
  private map: MapDescription | null = null;
  private readers: string[] = [];
  private clock = 0;
  private visibleValue = false;
  /** Why the map is not shown (fewer than two readers, a refusal), or null. */
  status: string | null = null;
  opacity = 0.8;

  constructor(
    private readonly viewer: OpenSeadragon.Viewer,
    private readonly api: AgreementApi,
    private readonly onChange: () => void = () => undefined,
  ) {
    this.canvas = createOverlayCanvas(viewer, 'disagreement-canvas');
    for (const name of ['update-viewport', 'resize', 'open']) {
      const h = (() => this.frame.request()) as unknown as OpenSeadragon.EventHandler<never>;
      viewer.addHandler(name as never, h);
      this.handlers.push([name, h]);
    }
  }

  get visible(): boolean {
    return this.visibleValue;
  }

  /** Shows the map of every reader of the slide (loading its description first), or hides it. */
  async setVisible(on: boolean): Promise<void> {
    this.visibleValue = on;
    if (on) {
      try {
        const readers = await this.api.readers();
        if (readers.length < 2) {
          this.status = 'The disagreement map needs two readers with a mask on this slide.';
          this.map = null;
        } else {
          this.readers = readers;
          this.map = await this.api.describe(readers);
          this.clearCache();
          this.status = `${readers.length} readers`;
        }
      } catch (err) {
        this.map = null;
        this.status = `No disagreement map: ${(err as Error).message}`;
      }
    }
    this.onChange();
    this.frame.request();
  }

  /** The map level drawn at `zoom` (screen px per level-0 px): the coarsest whose pixels still cover a screen pixel or more. */
  levelFor(zoom: number): number {
    const m = this.map;
    if (!m) return 0;
    const k = Math.floor(Math.log2(1 / (m.block * zoom)));
    return Math.max(0, Math.min(m.levels - 1, k));
  }

  draw(): void {
    const frame = beginOverlayFrame(this.canvas, this.viewer);
    const m = this.map;
    if (!frame || !this.visibleValue || !m) return;
    const { ctx, view, width, height } = frame;
    const level = this.levelFor(view.zoom);
    const px = m.block * 2 ** level; // level-0 px per map pixel
    const span = m.tileSize * px; // level-0 px per map tile
    const cols = Math.ceil(Math.ceil(m.width / 2 ** level) / m.tileSize);
    const rows = Math.ceil(Math.ceil(m.height / 2 ** level) / m.tileSize);
    const box = visibleImageBox(view, width, height);
    const c = canvasTransform(view);
    ctx.imageSmoothingEnabled = false;
    ctx.globalAlpha = this.opacity;
    for (let row = Math.max(0, Math.floor(box.y0 / span)); row <= Math.min(rows - 1, Math.floor(box.y1 / span)); row++) {
      for (let col = Math.max(0, Math.floor(box.x0 / span)); col <= Math.min(cols - 1, Math.floor(box.x1 / span)); col++) {
        const key = `${level}/${col}/${row}`;
        const cached = this.cache.get(key);
        if (!cached) {
          this.request(key, level, col, row);
          continue;
        }
        cached.used = ++this.clock;
        const b = cached.bitmap;
        const x = Math.round(c.ox + col * span * c.scale);
        const y = Math.round(c.oy + row * span * c.scale);
        ctx.drawImage(b, x, y, Math.round(c.ox + (col * span + b.width * px) * c.scale) - x, Math.round(c.oy + (row * span + b.height * px) * c.scale) - y);
      }
    }
    ctx.globalAlpha = 1;
  }

  private request(key: string, level: number, col: number, row: number): void {
    if (this.inflight.has(key)) return;
    this.inflight.add(key);
    const readers = this.readers;
    this.api
      .tile(readers, level, col, row)
      .then((bitmap) => {
        this.inflight.delete(key);
        if (readers !== this.readers) return bitmap.close();
        this.cache.set(key, { bitmap, used: ++this.clock });
        this.evict();
        this.frame.request();
      })
      .catch(() => this.inflight.delete(key));
  }

  private evict(): void {
    if (this.cache.size <= MAX_BITMAPS) return;
    const old = [...this.cache.entries()].sort((a, b) => a[1].used - b[1].used).slice(0, this.cache.size - MAX_BITMAPS);
    for (const [k, v] of old) {
      v.bitmap.close();
      this.cache.delete(k);
    }
  }

  private clearCache(): void {
    for (const v of this.cache.values()) v.bitmap.close();
    this.cache.clear();
  }

  destroy(): void {
    for (const [name, h] of this.handlers) this.viewer.removeHandler(name as never, h);
    this.clearCache();
    this.canvas.remove();
  }
}
