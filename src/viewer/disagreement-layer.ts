/**
 * The disagreement map over the slide, for reviewers: a canvas over the
 * mask that draws the map tiles the server cuts (per 64-px block, the share
 * of readers who disagree; docs/agreement.md) at the map level whose pixels
 * are at least one screen pixel, crisp (no smoothing), so one map works
 * from 1× to 40×. Off until switched on; switching on asks the server for
 * the map of every reader with a mask on the slide (two at least; the
 * reference mask is no reader). While it is shown, a click on the slide
 * lists who said what at that pixel in a small popover (the point route),
 * and the panel's consensus controls (consensus-controls.ts) accept a
 * consensus of the same readers inside an ROI into the reference mask.
 */
import OpenSeadragon from 'openseadragon';
import type { ConsensusMethod, TieRule } from '../core/agreement/reference.js';
import type { AgreementApi, ConsensusAccepted, MapDescription, PointReading } from '../services/agreement-api.js';
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
  /** Who said what at the last clicked pixel (shown in a popover while the map is on). */
  readonly popover: HTMLDivElement;
  private pointAsked = 0;
  /** Why the map is not shown (fewer than two readers, a refusal), or null. */
  status: string | null = null;
  opacity = 0.8;

  constructor(
    private readonly viewer: OpenSeadragon.Viewer,
    /** The agreement routes of this slide (the panel's agreement figures use them too). */
    readonly api: AgreementApi,
    private readonly onChange: () => void = () => undefined,
  ) {
    this.canvas = createOverlayCanvas(viewer, 'disagreement-canvas');
    for (const name of ['update-viewport', 'resize', 'open']) {
      const h = (() => {
        this.frame.request();
        this.placePopover();
      }) as unknown as OpenSeadragon.EventHandler<never>;
      viewer.addHandler(name as never, h);
      this.handlers.push([name, h]);
    }
    this.popover = document.createElement('div');
    this.popover.setAttribute('data-testid', 'disagreement-point');
    this.popover.setAttribute('role', 'status');
    Object.assign(this.popover.style, {
      position: 'absolute',
      display: 'none',
      pointerEvents: 'none',
      background: 'rgba(255, 255, 255, 0.95)',
      color: '#1d1d1f',
      border: '1px solid #888',
      borderRadius: '4px',
      padding: '4px 6px',
      font: '12px/1.3 system-ui, sans-serif',
      whiteSpace: 'nowrap',
      zIndex: '5',
    });
    viewer.canvas.appendChild(this.popover);
    const click = ((e: OpenSeadragon.CanvasPressEvent & { quick?: boolean }) => {
      if (!e.quick || !this.visibleValue || !this.map) return;
      const item = viewer.world.getItemAt(0);
      if (!item) return;
      const p = item.viewerElementToImageCoordinates(e.position);
      void this.showPoint(p.x, p.y);
    }) as unknown as OpenSeadragon.EventHandler<never>;
    viewer.addHandler('canvas-click' as never, click);
    this.handlers.push(['canvas-click', click]);
  }

  /** The readers the map compares (empty until it is shown). */
  get readerIds(): readonly string[] {
    return this.map ? this.readers : [];
  }

  /** Where the popover points: a level-0 pixel, or null when hidden. */
  private pointAt: { x: number; y: number } | null = null;

  /** Lists who said what at level-0 pixel (x, y) in the popover (outside the slide: hides it). */
  async showPoint(x: number, y: number): Promise<PointReading | null> {
    const m = this.map;
    const asked = ++this.pointAsked;
    if (!m || x < 0 || y < 0 || x >= m.width * m.block || y >= m.height * m.block) {
      this.hidePopover();
      return null;
    }
    try {
      const r = await this.api.point(this.readers, x, y);
      if (asked !== this.pointAsked) return r;
      this.popover.replaceChildren();
      const head = document.createElement('div');
      head.style.fontWeight = '600';
      head.textContent = `Who said what at (${Math.floor(x)}, ${Math.floor(y)})`;
      this.popover.append(head);
      for (const reader of r.readers) {
        const line = document.createElement('div');
        line.setAttribute('data-testid', 'disagreement-point-reader');
        line.textContent = `${reader.username ?? reader.id.slice(0, 8)}: ${reader.class === 0 ? 'unlabelled' : (reader.className ?? `class ${reader.class}`)}`;
        this.popover.append(line);
      }
      const verdict = document.createElement('div');
      verdict.style.color = '#555';
      const majority = r.readers.find((x) => x.class === r.majority);
      verdict.textContent = r.undecided ? 'Majority: undecided (a tie)' : `Majority: ${r.majority === 0 ? 'unlabelled' : (majority?.className ?? `class ${r.majority}`)}; ${r.disagreeing} disagree${r.disagreeing === 1 ? 's' : ''}`;
      this.popover.append(verdict);
      this.pointAt = { x, y };
      this.popover.style.display = 'block';
      this.placePopover();
      return r;
    } catch (err) {
      if (asked === this.pointAsked) {
        this.popover.textContent = `Who said what: ${(err as Error).message}`;
        this.pointAt = { x, y };
        this.popover.style.display = 'block';
        this.placePopover();
      }
      return null;
    }
  }

  private hidePopover(): void {
    this.pointAt = null;
    this.popover.style.display = 'none';
  }

  private placePopover(): void {
    const at = this.pointAt;
    const item = this.viewer.world.getItemAt(0);
    if (!at || !item) return;
    const p = item.imageToViewerElementCoordinates(new OpenSeadragon.Point(at.x, at.y));
    this.popover.style.left = `${Math.round(p.x + 8)}px`;
    this.popover.style.top = `${Math.round(p.y + 8)}px`;
  }

  /** Accepts the consensus of the map's readers inside the ROI (an annotation id) into the reference mask. */
  acceptConsensus(roi: string, method: ConsensusMethod, ties: TieRule, tieReader: string | null): Promise<ConsensusAccepted> {
    if (!this.map) return Promise.reject(new Error('switch the disagreement map on first'));
    return this.api.acceptConsensus(crypto.randomUUID(), { roi, readers: this.readers, method, ties, ...(ties === 'reader' && tieReader ? { tieReader } : {}) });
  }

  get visible(): boolean {
    return this.visibleValue;
  }

  /** Shows the map of every reader of the slide (loading its description first), or hides it. */
  async setVisible(on: boolean): Promise<void> {
    this.visibleValue = on;
    if (!on) this.hidePopover();
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
    this.popover.remove();
  }
}
