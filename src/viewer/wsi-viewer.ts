/**
 * <wsi-viewer server="https://tiles.example" slide="<id>"> — a standalone
 * slide viewer that works from attributes alone, for embedding in lab
 * portals. OpenSeadragon lives in its shadow DOM; it adds a calibrated scale
 * bar, a magnification readout, magnification presets and shortcuts.
 *
 * Attributes: server (default: same origin), slide, drawer (auto|canvas|webgl),
 * view ("x,y,zoom" to start at), annotate (show the annotation tools and
 * layer, and the painting tools when the server keeps masks),
 * paint-min-magnification (painting is enabled from this magnification;
 * default 10). Events: wsi-view-change {slide, view}, wsi-slide-open {slide, info},
 * wsi-slide-error {slide, code, message}.
 */
import { LitElement, css, html, nothing, type PropertyValues } from 'lit';
import { dziUrl, getSlide, type SlideDetail } from '../api/slides.js';
import type { ViewState } from '../core/deep-link.js';
import {
  MAGNIFICATION_PRESETS,
  effectiveObjective,
  formatMagnification,
  imageZoomForMagnification,
  magnification,
  scaleBar,
} from '../core/scale.js';
import { chooseDrawer, type DrawerKind } from './drawer-choice.js';
import { OsdController } from './osd-controller.js';
import { AnnotationLayer } from './annotation-layer.js';
import { AnnotationSession } from './annotation-session.js';
import './annotation-panel.js';
import { toolForKey } from './annotation-panel.js';
import './mask-panel.js';
import { paintToolForKey } from './mask-panel.js';
import { PaintController } from './paint-controller.js';
import type { ToolId } from '../tools/tool.js';

export interface ViewChangeDetail {
  slide: string;
  view: ViewState;
}

function parseView(s: string | null | undefined): ViewState | null {
  if (!s) return null;
  const [x, y, zoom] = s.split(',').map(Number);
  if ([x, y, zoom].every((v) => v !== undefined && Number.isFinite(v)) && (zoom as number) > 0) return { x: x as number, y: y as number, zoom: zoom as number };
  return null;
}

export class WsiViewer extends LitElement {
  static override properties = {
    server: { type: String },
    slide: { type: String },
    drawer: { type: String },
    view: { type: String },
    annotate: { type: Boolean },
    paintMinMagnification: { type: Number, attribute: 'paint-min-magnification' },
    info: { state: true },
    paint: { state: true },
    paintTick: { state: true },
    layer: { state: true },
    session: { state: true },
    currentClass: { state: true },
    tool: { state: true },
    zoom: { state: true },
    error: { state: true },
    failedTiles: { state: true },
    showHelp: { state: true },
  };

  declare server: string;
  declare slide: string;
  declare drawer: string;
  declare view: string;
  declare annotate: boolean;
  declare paintMinMagnification: number;
  declare info: SlideDetail | null;
  declare paint: PaintController | null;
  declare paintTick: number;
  declare layer: AnnotationLayer | null;
  declare session: AnnotationSession | null;
  declare currentClass: string | null;
  declare tool: ToolId;
  declare zoom: number;
  declare error: string | null;
  declare failedTiles: number;
  declare showHelp: boolean;

  /** The drawer actually in use (after capability detection). */
  drawerInUse: DrawerKind | null = null;
  private readonly osd = new OsdController(this, {
    onOpen: () => {
      void this.startAnnotations();
      this.dispatchEvent(new CustomEvent('wsi-slide-open', { detail: { slide: this.slide, info: this.info }, bubbles: true, composed: true }));
    },
    onOpenFailed: (message) => this.fail('OPEN_FAILED', message),
    onView: (view) => {
      this.zoom = view.zoom;
      this.dispatchEvent(new CustomEvent<ViewChangeDetail>('wsi-view-change', { detail: { slide: this.slide, view }, bubbles: true, composed: true }));
    },
    onTileFailed: () => {
      this.failedTiles++;
    },
  });
  private loadAbort: AbortController | null = null;

  constructor() {
    super();
    this.server = '';
    this.slide = '';
    this.drawer = 'auto';
    this.view = '';
    this.annotate = false;
    this.paintMinMagnification = 10;
    this.info = null;
    this.paint = null;
    this.paintTick = 0;
    this.layer = null;
    this.session = null;
    this.currentClass = 'Tumour';
    this.tool = 'select';
    this.zoom = 0;
    this.error = null;
    this.failedTiles = 0;
    this.showHelp = false;
  }

  static override styles = css`
    :host {
      display: flex;
      position: relative;
      min-height: 200px;
      background: #2b2d31;
      color: #f1f1f1;
      font: 13px/1.3 system-ui, sans-serif;
      outline: none;
    }
    :host(:focus-visible) {
      box-shadow: inset 0 0 0 2px #4c8bf5;
    }
    .stage {
      position: relative;
      flex: 1;
      min-width: 0;
    }
    .osd {
      position: absolute;
      inset: 0;
    }
    .hud {
      position: absolute;
      left: 8px;
      top: 8px;
      display: flex;
      gap: 6px;
      align-items: center;
      flex-wrap: wrap;
      pointer-events: none;
    }
    .hud > * {
      pointer-events: auto;
    }
    .mag {
      background: rgba(0, 0, 0, 0.65);
      padding: 4px 8px;
      border-radius: 4px;
      min-width: 4.5em;
      text-align: center;
      font-variant-numeric: tabular-nums;
    }
    button {
      background: rgba(0, 0, 0, 0.65);
      color: inherit;
      border: 1px solid rgba(255, 255, 255, 0.25);
      border-radius: 4px;
      padding: 3px 7px;
      font: inherit;
      cursor: pointer;
    }
    button:hover,
    button:focus-visible {
      border-color: #fff;
    }
    .scalebar {
      position: absolute;
      left: 8px;
      bottom: 10px;
      background: rgba(255, 255, 255, 0.85);
      color: #111;
      padding: 3px 6px 4px;
      border-radius: 3px;
      font-variant-numeric: tabular-nums;
    }
    .scalebar .bar {
      box-sizing: border-box;
      height: 5px;
      border: 2px solid #111;
      border-top: none;
      margin-top: 2px;
    }
    .notice,
    .error {
      position: absolute;
      left: 50%;
      top: 50%;
      transform: translate(-50%, -50%);
      background: rgba(0, 0, 0, 0.75);
      padding: 12px 16px;
      border-radius: 6px;
      max-width: 70%;
    }
    .error {
      border: 1px solid #e5534b;
    }
    .tilewarn {
      position: absolute;
      right: 8px;
      top: 8px;
      background: rgba(120, 60, 0, 0.85);
      padding: 4px 8px;
      border-radius: 4px;
    }
    .help {
      position: absolute;
      right: 8px;
      top: 40px;
      background: rgba(0, 0, 0, 0.85);
      padding: 10px 14px;
      border-radius: 6px;
    }
    .help kbd {
      display: inline-block;
      min-width: 1.4em;
      text-align: center;
      border: 1px solid #888;
      border-radius: 3px;
      padding: 0 3px;
      margin-right: 6px;
    }
  `;

  override connectedCallback(): void {
    super.connectedCallback();
    if (!this.hasAttribute('tabindex')) this.tabIndex = 0;
    // capture phase: our shortcuts win over OpenSeadragon's own keys
    this.addEventListener('keydown', this.onKey, true);
    window.addEventListener('beforeunload', this.onBeforeUnload);
    document.addEventListener('visibilitychange', this.onHidden);
    this.addEventListener('wsi-annotations-imported', this.onImported);
    this.addEventListener('wsi-class-change', this.onClassChange as EventListener);
  }

  override disconnectedCallback(): void {
    this.removeEventListener('keydown', this.onKey, true);
    window.removeEventListener('beforeunload', this.onBeforeUnload);
    document.removeEventListener('visibilitychange', this.onHidden);
    this.removeEventListener('wsi-annotations-imported', this.onImported);
    this.removeEventListener('wsi-class-change', this.onClassChange as EventListener);
    this.stopAnnotations();
    this.loadAbort?.abort();
    super.disconnectedCallback();
  }

  /** Warns before leaving while edits are not yet on the server. */
  private readonly onBeforeUnload = (e: BeforeUnloadEvent): void => {
    const q = this.session?.sync.snapshot.queued ?? 0;
    if (q > 0) {
      e.preventDefault();
      e.returnValue = '';
    }
  };

  /** Leaving the tab finishes a shape in progress instead of losing it. */
  private readonly onHidden = (): void => {
    if (document.visibilityState === 'hidden') this.finishGesture();
  };

  private readonly onImported = (): void => {
    void this.restartAnnotations();
  };

  private readonly onClassChange = (e: CustomEvent<string>): void => {
    this.currentClass = e.detail;
  };

  /** Commits whatever the active tool has in progress. */
  finishGesture(): void {
    const layer = this.layer;
    if (!layer) return;
    const id = layer.toolId;
    layer.setTool(id === 'select' ? 'polygon' : 'select');
    layer.setTool(id);
  }

  private async startAnnotations(): Promise<void> {
    this.stopAnnotations();
    if (!this.annotate || !this.info || this.info.status !== 'ok') return;
    const viewer = this.osd.viewer;
    if (!viewer) return;
    const slide = this.slide;
    const session = await AnnotationSession.open(this.server, slide, this.info.width ?? 0, this.info.height ?? 0);
    if (slide !== this.slide || this.osd.viewer !== viewer) {
      session.dispose();
      return;
    }
    this.session = session;
    if (session.mask) {
      // its canvas goes in first, under the annotations
      const paint = new PaintController(viewer, session, session.mask, {
        magnification: () => this.magnificationNow(),
        currentClass: () => this.currentClass,
        mpp: this.info.mpp,
        onChange: () => this.paintTick++,
        redraw: () => this.layer?.redraw(),
      });
      paint.minMagnification = this.paintMinMagnification;
      this.paint = paint;
    }
    this.layer = new AnnotationLayer(viewer, session, {
      mpp: this.info.mpp,
      currentClass: () => this.currentClass,
      onToolChange: (id) => (this.tool = id),
      extraTools: this.paint?.tools ?? [],
    });
    this.tool = 'select';
    const v = this.getView();
    const el = this.renderRoot.querySelector<HTMLElement>('.osd');
    let box: [number, number, number, number] | null = null;
    if (v && el) {
      const hw = el.clientWidth / 2 / v.zoom;
      const hh = el.clientHeight / 2 / v.zoom;
      box = [v.x - hw, v.y - hh, v.x + hw, v.y + hh];
    }
    await session.load(box);
    this.layer?.redraw();
  }

  private stopAnnotations(): void {
    if (this.layer) {
      this.finishGesture();
      this.layer.destroy();
    }
    this.paint?.destroy();
    this.paint = null;
    this.session?.dispose();
    this.layer = null;
    this.session = null;
  }

  private async restartAnnotations(): Promise<void> {
    await this.startAnnotations();
  }

  /** The annotation layer and session of the open slide (for integrations and tests). */
  get annotationLayer(): AnnotationLayer | null {
    return this.layer;
  }

  get annotationSession(): AnnotationSession | null {
    return this.session;
  }

  protected override updated(changed: PropertyValues<this>): void {
    if (changed.has('slide') || changed.has('server') || changed.has('drawer')) void this.openSlide();
    else if (changed.has('annotate') && this.osd.viewer) void (this.annotate ? this.startAnnotations() : this.stopAnnotations());
  }

  private fail(code: string, message: string): void {
    this.error = message;
    this.dispatchEvent(new CustomEvent('wsi-slide-error', { detail: { slide: this.slide, code, message }, bubbles: true, composed: true }));
  }

  private async openSlide(): Promise<void> {
    this.loadAbort?.abort();
    this.stopAnnotations();
    this.osd.destroy();
    this.info = null;
    this.error = null;
    this.failedTiles = 0;
    this.zoom = 0;
    if (!this.slide) return;
    const abort = new AbortController();
    this.loadAbort = abort;
    let info: SlideDetail;
    try {
      info = await getSlide(this.server, this.slide, abort.signal);
    } catch (err) {
      if (abort.signal.aborted) return;
      this.fail((err as { code?: string }).code ?? 'FETCH_FAILED', (err as Error).message);
      return;
    }
    if (abort.signal.aborted) return;
    this.info = info;
    if (info.status !== 'ok') {
      this.fail(info.error?.code ?? 'SLIDE_ERROR', `${info.error?.code ?? 'error'}: ${info.error?.message ?? 'the slide cannot be shown'}`);
      return;
    }
    await this.updateComplete;
    const element = this.renderRoot.querySelector<HTMLElement>('.osd');
    if (!element) return;
    const drawer = chooseDrawer(this.drawer);
    this.drawerInUse = drawer;
    const serverOrigin = this.server ? new URL(this.server, location.href).origin : location.origin;
    const objective = effectiveObjective(info.objectivePower, info.mpp);
    // allow zooming to 40× (or 2× past native, whichever is more)
    const maxImageZoom = Math.max(2, objective ? 40 / objective.power : 2);
    this.osd.open({
      element,
      dziUrl: dziUrl(this.server, this.slide),
      drawer,
      crossOrigin: serverOrigin !== location.origin,
      initialView: parseView(this.view),
      maxImageZoom,
    });
  }

  /** Current view, or null before the slide is open. */
  getView(): ViewState | null {
    return this.osd.currentView();
  }

  goTo(view: ViewState, immediately = false): void {
    this.osd.goTo(view, immediately);
  }

  fit(): void {
    this.osd.fit();
  }

  /** The magnification now (null when the slide has neither objective power nor MPP). */
  magnificationNow(): number | null {
    const objective = this.info ? effectiveObjective(this.info.objectivePower, this.info.mpp) : null;
    const v = this.osd.currentView();
    return objective && v ? magnification(objective.power, v.zoom) : null;
  }

  /** Zooms to a magnification (1.25×…40×) around the centre of the view. */
  setMagnification(mag: number): void {
    const objective = this.info ? effectiveObjective(this.info.objectivePower, this.info.mpp) : null;
    // without calibration, treat the scan as 40×
    this.osd.zoomToImageZoom(imageZoomForMagnification(objective?.power ?? 40, mag));
  }

  /** True once every tile needed for the current view has been drawn. */
  isFullyLoaded(): boolean {
    return this.osd.fullyLoaded();
  }

  /** The OpenSeadragon viewer, for integrations that need it. */
  get openSeadragon(): unknown {
    return this.osd.viewer;
  }

  private readonly onKey = (e: KeyboardEvent): void => {
    const target = e.composedPath()[0] as HTMLElement | undefined;
    if (target && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) return;
    if (this.layer && this.annotationKey(e)) {
      e.preventDefault();
      e.stopPropagation();
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const presetIndex = '123456'.indexOf(e.key);
    if (presetIndex >= 0) {
      this.setMagnification(MAGNIFICATION_PRESETS[presetIndex] as number);
    } else if (e.key === '0' || e.key === 'h') {
      this.fit();
    } else if (e.key === '?') {
      this.showHelp = !this.showHelp;
    } else if (e.key === 'Escape' && this.showHelp) {
      this.showHelp = false;
    } else {
      return;
    }
    e.preventDefault();
    e.stopPropagation();
  };

  /** Annotation shortcuts: tools, classes, undo/redo, union, lock. */
  private annotationKey(e: KeyboardEvent): boolean {
    const layer = this.layer as AnnotationLayer;
    if (layer.key(e)) return true;
    if (e.ctrlKey || e.metaKey || e.altKey) return false;
    const tool = toolForKey(e.key) ?? paintToolForKey(e.key);
    if (tool && layer.hasTool(tool)) {
      layer.setTool(tool);
      return true;
    }
    if (this.paint?.key(e)) return true;
    const cls = this.session?.palette.find((c) => c.hotkey === e.key);
    if (cls) {
      this.currentClass = cls.name;
      layer.classify(cls.name);
      return true;
    }
    if (e.key === 'u') return layer.union();
    if (e.key === 'U') return layer.subtract();
    if (e.key === 'L') return layer.toggleLock();
    return false;
  }

  private renderMagnification(): unknown {
    const info = this.info;
    if (!info || !this.zoom) return nothing;
    const objective = effectiveObjective(info.objectivePower, info.mpp);
    const text = objective ? `${objective.estimated ? '≈' : ''}${formatMagnification(magnification(objective.power, this.zoom))}` : `${Math.round(this.zoom * 100)}%`;
    const title = objective
      ? objective.estimated
        ? `estimated from the pixel size (${info.mpp} µm/px); the file does not state its objective`
        : `relative to the ${info.objectivePower}× scan`
      : 'no magnification or pixel size in the file: zoom in screen pixels per image pixel';
    return html`<div class="mag" data-testid="magnification" title=${title}>${text}</div>`;
  }

  private renderScaleBar(): unknown {
    if (!this.info || !this.zoom) return nothing;
    const bar = scaleBar(this.info.mpp, this.zoom);
    const title = bar.calibrated ? `calibrated from ${this.info.mpp} µm per pixel` : 'the slide has no pixel size (MPP): the bar shows image pixels';
    return html`<div class="scalebar" data-testid="scalebar" title=${title} data-px=${bar.px.toFixed(3)}>
      <span class="label">${bar.label}</span>
      <div class="bar" style="width:${bar.px.toFixed(1)}px"></div>
    </div>`;
  }

  protected override render(): unknown {
    const open = this.info?.status === 'ok';
    return html`
      <div class="stage">
      <div class="osd" part="canvas"></div>
      ${open
        ? html`<div class="hud">
            ${this.renderMagnification()}
            <button data-testid="preset-fit" title="Fit the slide (0 or h)" @click=${() => this.fit()}>Fit</button>
            ${MAGNIFICATION_PRESETS.map(
              (m, i) =>
                html`<button data-testid=${`preset-${m}`} title=${`${m}× (key ${i + 1})`} @click=${() => this.setMagnification(m)}>${m}×</button>`,
            )}
            <button title="Keyboard shortcuts (?)" @click=${() => (this.showHelp = !this.showHelp)}>?</button>
          </div>`
        : nothing}
      ${this.renderScaleBar()}
      ${this.slide && !this.info && !this.error ? html`<div class="notice">Opening slide…</div>` : nothing}
      ${this.error ? html`<div class="error" role="alert" data-testid="viewer-error">${this.error}</div>` : nothing}
      ${this.failedTiles > 0 ? html`<div class="tilewarn" role="status">${this.failedTiles} tile(s) failed to load</div>` : nothing}
      ${this.showHelp
        ? html`<div class="help" role="dialog" aria-label="Keyboard shortcuts">
            <div><kbd>0</kbd>/<kbd>h</kbd> fit slide</div>
            ${MAGNIFICATION_PRESETS.map((m, i) => html`<div><kbd>${i + 1}</kbd>${m}×</div>`)}
            <div><kbd>+</kbd>/<kbd>-</kbd> zoom in / out</div>
            <div><kbd>←↑→↓</kbd> or <kbd>w a s d</kbd> pan</div>
            <div><kbd>?</kbd> this help</div>
            ${this.annotate
              ? html`<div><kbd>v p f r e k m</kbd> select, polygon, freehand, rectangle, ellipse, point, ruler</div>
                  <div><kbd>Ctrl+Z</kbd>/<kbd>Ctrl+Shift+Z</kbd> undo / redo</div>
                  <div><kbd>Del</kbd> delete · <kbd>u</kbd> union · <kbd>U</kbd> subtract · <kbd>L</kbd> lock</div>
                  ${this.paint
                    ? html`<div><kbd>b B q</kbd> brush, eraser (or Alt+brush), fill region · <kbd>[ ]</kbd> brush size · <kbd>i</kbd> inside ROIs only · <kbd>G</kbd> fill selected ROIs</div>`
                    : nothing}
                  ${(this.session?.palette ?? []).filter((c) => c.hotkey).map((c) => html`<div><kbd>${c.hotkey}</kbd> class ${c.name}</div>`)}`
              : nothing}
          </div>`
        : nothing}
      </div>
      ${this.annotate && open
        ? html`<wsi-annotation-panel .layer=${this.layer} .session=${this.session} .mpp=${this.info?.mpp ?? null} .currentClass=${this.currentClass} .tool=${this.tool}>
            ${this.paint ? html`<wsi-mask-panel slot="mask" .paint=${this.paint} .layer=${this.layer} .tool=${this.tool} .tick=${this.paintTick + this.zoom}></wsi-mask-panel>` : nothing}
          </wsi-annotation-panel>`
        : nothing}
    `;
  }
}

if (!customElements.get('wsi-viewer')) customElements.define('wsi-viewer', WsiViewer);

declare global {
  interface HTMLElementTagNameMap {
    'wsi-viewer': WsiViewer;
  }
}
