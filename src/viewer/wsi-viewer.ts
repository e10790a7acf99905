/**
 * <wsi-viewer server="https://tiles.example" slide="<id>"> — a standalone
 * slide viewer that works from attributes alone, for embedding in lab
 * portals. OpenSeadragon lives in its shadow DOM; it adds a calibrated scale
 * bar, a magnification readout, magnification presets and shortcuts; with
 * `annotate`, the annotation and painting tools (from the tool registry).
 * Its contract (attributes, properties, events, parts, CSS custom
 * properties) is the JSDoc of the class below, from which the build
 * generates dist/custom-elements.json; the README shows it.
 */
import { LitElement, html, nothing, type PropertyValues } from 'lit';
import type { ViewState } from '../core/deep-link.js';
import { readOnlyReason } from '../core/slide-access.js';
import {
  effectiveObjective,
  formatMagnification,
  imageZoomForMagnification,
  magnification,
  presets,
  scaleBar,
  type Preset,
} from '../core/scale.js';
import { authHeaders, setCredential } from '../services/http.js';
import { dziUrl, getSlide, type SlideDetail } from '../services/slide-api.js';
import { AnnotationSession } from '../session/annotation-session.js';
import { ClassLayers, layersKey } from '../state/class-layers.js';
import type { ReaderChoice } from '../state/compared-reader.js';
import type { MaskSession } from '../session/mask-session.js';
import { browserStorage } from './browser-storage.js';
import '../tools/catalogue.js';
import type { PaintSettings } from '../tools/paint-settings.js';
import { dispatchKey, helpSections, type KeyContext } from '../tools/registry.js';
import './view-keys.js';
import { AnnotationLayer } from './annotation-layer.js';
import './annotation-panel.js';
import './annotation-list.js';
import { chooseDrawer, type DrawerKind } from './drawer-choice.js';
import { MaskLayer, paletteLut } from './mask-layer.js';
import { DisagreementLayer } from './disagreement-layer.js';
import { AgreementApi } from '../services/agreement-api.js';
import './mask-panel.js';
import { OsdController } from './osd-controller.js';
import { ToolHost } from './tool-host.js';
import { fire } from './viewer-events.js';
import { viewBox, viewShowing, type ImageBox } from './view-transform.js';
import { viewerStyles } from './wsi-viewer.styles.js';

export type { AnnotationsImportedDetail, ClassChangeDetail, SlideErrorDetail, SlideOpenDetail, ViewChangeDetail, WsiViewerEventMap } from './viewer-events.js';

function parseView(s: string | null | undefined): ViewState | null {
  if (!s) return null;
  const [x, y, zoom] = s.split(',').map(Number);
  if ([x, y, zoom].every((v) => v !== undefined && Number.isFinite(v)) && (zoom as number) > 0) return { x: x as number, y: y as number, zoom: zoom as number };
  return null;
}

/**
 * A standalone whole-slide image viewer for embedding in lab portals.
 *
 * @tag wsi-viewer
 * @summary A whole-slide image viewer with annotation and painting tools.
 *
 * @attr {string} server - Base URL of the tiles-server (default: same origin). The server must list the page's origin in CORS_ORIGINS.
 * @attr {string} slide - Id of the slide to show (from GET /api/slides).
 * @attr {string} drawer - OpenSeadragon's drawer: auto (WebGL only on a real GPU), canvas or webgl.
 * @attr {string} view - Where to start: "x,y,zoom" (level-0 pixel at the centre, screen pixels per image pixel).
 * @attr {boolean} annotate - Show the annotation tools and layer, and the painting tools when the server keeps masks.
 * @attr {number} paint-min-magnification - The lowest magnification painting works at (default 10).
 * @prop {string | null} token - A short-lived token from POST /api/auth/embed-token, for a page on another origin (a property only: it is in no attribute and no URL). Every request to the server carries it in its Authorization header, tiles included; set a fresh one before it expires.
 *
 * @fires {CustomEvent<SlideOpenDetail>} wsi-slide-open - The slide is open: detail {slide, info}.
 * @fires {CustomEvent<SlideErrorDetail>} wsi-slide-error - The slide cannot be shown: detail {slide, code, message}.
 * @fires {CustomEvent<ViewChangeDetail>} wsi-view-change - The view moved (at most once a frame): detail {slide, view: {x, y, zoom}}.
 * @fires {CustomEvent<ClassChangeDetail>} wsi-class-change - The class for new objects and painting changed in the panel: detail {name}.
 * @fires {CustomEvent<AnnotationsImportedDetail>} wsi-annotations-imported - A file was imported from the panel: detail {imported}.
 *
 * @csspart canvas - The OpenSeadragon area (slide, overlays, navigator).
 * @csspart hud - The magnification readout and preset buttons.
 * @csspart scalebar - The scale bar.
 * @csspart panel - The annotation panel (with `annotate`).
 *
 * @cssprop [--wsi-viewer-background=#2b2d31] - Background behind the slide.
 * @cssprop [--wsi-viewer-color=#f1f1f1] - Text colour over the slide.
 * @cssprop [--wsi-viewer-font=13px/1.3 system-ui, sans-serif] - Font of the viewer.
 * @cssprop [--wsi-viewer-accent=#4c8bf5] - Focus ring.
 * @cssprop [--wsi-viewer-hud-background=rgba(0, 0, 0, 0.65)] - Background of the readout and buttons over the slide.
 * @cssprop [--wsi-viewer-scalebar-background=rgba(255, 255, 255, 0.85)] - Background of the scale bar.
 * @cssprop [--wsi-viewer-scalebar-color=#111] - Text and bar of the scale bar.
 * @cssprop [--wsi-viewer-error=#e5534b] - Border of error messages.
 * @cssprop [--wsi-panel-background=#f7f7f9] - Background of the side panel.
 * @cssprop [--wsi-panel-color=#1d1d1f] - Text colour of the side panel.
 * @cssprop [--wsi-panel-font=13px/1.35 system-ui, sans-serif] - Font of the side panel.
 * @cssprop [--wsi-panel-accent=#4c8bf5] - Border of the pressed tool or class button in the panel.
 * @cssprop [--wsi-panel-border=#d0d0d5] - Border between the slide and the panel.
 */
export class WsiViewer extends LitElement {
  static override properties = {
    server: { type: String },
    slide: { type: String },
    drawer: { type: String },
    view: { type: String },
    annotate: { type: Boolean },
    paintMinMagnification: { type: Number, attribute: 'paint-min-magnification' },
    token: { attribute: false },
    info: { state: true },
    layer: { state: true },
    session: { state: true },
    host: { state: true },
    maskLayer: { state: true },
    disagreement: { state: true },
    currentClass: { state: true },
    zoom: { state: true },
    error: { state: true },
    failedTiles: { state: true },
    showHelp: { state: true },
    showList: { state: true },
  };

  static override styles = viewerStyles;

  declare server: string;
  declare slide: string;
  declare drawer: string;
  declare view: string;
  declare annotate: boolean;
  declare paintMinMagnification: number;
  /**
   * A short-lived token (an embed token from `POST /api/auth/embed-token`)
   * for a portal on another origin: a property only, never an attribute, so
   * it is in no URL and no HTML. Every request to `server` carries it in
   * its Authorization header, OpenSeadragon's tile requests included; set a
   * fresh one before it expires and the next requests use it.
   */
  declare token: string | null;
  declare info: SlideDetail | null;
  declare layer: AnnotationLayer | null;
  declare session: AnnotationSession | null;
  declare host: ToolHost | null;
  declare maskLayer: MaskLayer | null;
  /** The disagreement map (reviewers and managers only; null otherwise). */
  declare disagreement: DisagreementLayer | null;
  declare currentClass: string | null;
  declare zoom: number;
  declare error: string | null;
  declare failedTiles: number;
  declare showHelp: boolean;
  /** The annotation list is open (T, or the panel's button). */
  declare showList: boolean;

  /** The drawer actually in use (after capability detection). */
  drawerInUse: DrawerKind | null = null;
  private readonly osd = new OsdController(this, {
    onOpen: () => {
      this.takeKeyboard();
      void this.startAnnotations();
      if (this.info) fire(this, 'wsi-slide-open', { slide: this.slide, info: this.info });
    },
    onOpenFailed: (message) => this.fail('OPEN_FAILED', message),
    onView: (view) => {
      this.zoom = view.zoom;
      fire(this, 'wsi-view-change', { slide: this.slide, view });
    },
    onTileFailed: () => {
      this.failedTiles++;
    },
  });
  private loadAbort: AbortController | null = null;
  private offSkipped: (() => void) | null = null;
  /** The storage key of the open slide's layers (user and project), to know whether a rename in a project concerns them. */
  private layersKey: string | null = null;

  /** What the shortcuts act on (see the key registry). */
  private readonly keys: KeyContext = ((v: WsiViewer): KeyContext => ({
    get tools() {
      return v.host?.context ?? null;
    },
    finishGesture: () => v.host?.finishGesture(),
    setClass: (name) => v.setClass(name),
    fit: () => v.fit(),
    setMagnification: (mag) => v.setMagnification(mag),
    presets: () => v.presets(),
    toggleHelp: () => {
      v.showHelp = !v.showHelp;
    },
    toggleList: () => {
      v.showList = !v.showList;
    },
    closeHelp: () => {
      if (!v.showHelp) return false;
      v.showHelp = false;
      return true;
    },
  }))(this);

  constructor() {
    super();
    this.server = '';
    this.token = null;
    this.slide = '';
    this.drawer = 'auto';
    this.view = '';
    this.annotate = false;
    this.paintMinMagnification = 10;
    this.info = null;
    this.layer = null;
    this.session = null;
    this.host = null;
    this.maskLayer = null;
    this.disagreement = null;
    this.currentClass = 'Tumour';
    this.zoom = 0;
    this.error = null;
    this.failedTiles = 0;
    this.showHelp = false;
    this.showList = false;
  }

  /** The viewer that keys pressed with nothing focused go to: the last one focused, or whose slide opened last. */
  private static keyTarget: WsiViewer | null = null;

  /**
   * A slide opened (after a reload, a shared link or a pick in the list):
   * the viewer takes the keyboard, unless someone is typing in a field.
   */
  private takeKeyboard(): void {
    WsiViewer.keyTarget = this;
    let a: Element | null = document.activeElement;
    while (a?.shadowRoot?.activeElement) a = a.shadowRoot.activeElement;
    if (a && (/^(INPUT|TEXTAREA|SELECT)$/.test(a.tagName) || (a as HTMLElement).isContentEditable)) return;
    this.focus({ preventScroll: true });
  }

  /** A key with nothing focused (the focused button went away, the page was just loaded) is this viewer's when it is the key target. */
  private readonly onStrayKey = (e: KeyboardEvent): void => {
    if (WsiViewer.keyTarget !== this || e.defaultPrevented) return;
    if (e.target !== document.body && e.target !== document.documentElement) return;
    this.onKey(e);
  };

  private readonly onFocusIn = (): void => {
    WsiViewer.keyTarget = this;
  };

  override connectedCallback(): void {
    super.connectedCallback();
    if (!this.hasAttribute('tabindex')) this.tabIndex = 0;
    // capture phase: our shortcuts win over OpenSeadragon's own keys
    this.addEventListener('keydown', this.onKey, true);
    this.addEventListener('focusin', this.onFocusIn);
    document.addEventListener('keydown', this.onStrayKey);
    this.addEventListener('pointerdown', this.onPointerDown, true);
    window.addEventListener('beforeunload', this.onBeforeUnload);
    document.addEventListener('visibilitychange', this.onHidden);
    this.addEventListener('wsi-class-change', this.onClassChange);
    this.addEventListener('wsi-list-toggle', this.onListToggle);
    this.addEventListener('wsi-list-close', this.onListClose);
    this.addEventListener('wsi-compare-reader', this.onCompareReader);
  }

  override disconnectedCallback(): void {
    this.removeEventListener('keydown', this.onKey, true);
    this.removeEventListener('focusin', this.onFocusIn);
    document.removeEventListener('keydown', this.onStrayKey);
    this.removeEventListener('pointerdown', this.onPointerDown, true);
    if (WsiViewer.keyTarget === this) WsiViewer.keyTarget = null;
    window.removeEventListener('beforeunload', this.onBeforeUnload);
    document.removeEventListener('visibilitychange', this.onHidden);
    this.removeEventListener('wsi-class-change', this.onClassChange);
    this.removeEventListener('wsi-list-toggle', this.onListToggle);
    this.removeEventListener('wsi-list-close', this.onListClose);
    this.removeEventListener('wsi-compare-reader', this.onCompareReader);
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


  private readonly onListToggle = (): void => {
    this.showList = !this.showList;
  };

  private readonly onListClose = (): void => {
    this.showList = false;
    this.focus({ preventScroll: true });
  };

  /** The Layers table's reader row (an event inside the viewer, like wsi-list-close; not one of the viewer's public events). */
  private readonly onCompareReader = (e: Event): void => {
    void this.compareWith((e as CustomEvent<{ reader: ReaderChoice | null }>).detail.reader);
  };

  /**
   * Shows another reader's objects and painted mask beside one's own,
   * read-only (src/state/compared-reader.ts), or none with null. Their
   * objects are already loaded when the server lets this user see them;
   * their mask is loaded into a mask session of its own, drawn just above
   * one's own mask and under the objects, with the reader row's eye and
   * opacity. Resolves once their mask is drawn (or could not be read: the
   * status line says why).
   */
  async compareWith(reader: ReaderChoice | null): Promise<void> {
    const session = this.session;
    const viewer = this.osd.viewer;
    if (!session || !viewer) return;
    this.dropReaderMask();
    session.compared.choose(reader);
    // their objects leave the selection: they cannot be edited
    const mine = session.selection.list().filter((id) => {
      const h = session.store.handleOf(id);
      return h === undefined || !session.compared.owns(session.store, h);
    });
    if (mine.length !== session.selection.list().length) session.selection.set(mine);
    this.requestUpdate();
    if (!reader) return;
    let mask: MaskSession | null = null;
    try {
      mask = await session.openReaderMask(reader);
    } catch (err) {
      this.host?.setMessage('paint', `${reader.label}'s mask could not be read: ${(err as Error).message}`);
    }
    if (!mask) return;
    if (this.session !== session || session.compared.reader?.id !== reader.id) {
      mask.dispose(0);
      return;
    }
    const layer = new MaskLayer(viewer, mask, session.palette);
    layer.canvas.dataset['testid'] = 'reader-mask-canvas';
    // just above one's own mask, under the objects
    this.maskLayer?.canvas.after(layer.canvas);
    layer.useLayers(session.layers, () => session.palette);
    const follow = (): void => {
      layer.visible = session.compared.visible;
      layer.opacity = session.compared.opacity;
      layer.redraw();
    };
    follow();
    const off = session.compared.onChange(follow);
    this.readerMask = { session: mask, layer, off };
    this.requestUpdate();
  }

  /** The compared reader's mask, while one is shown. */
  private readerMask: { session: MaskSession; layer: MaskLayer; off: () => void } | null = null;

  private dropReaderMask(): void {
    const r = this.readerMask;
    if (!r) return;
    r.off();
    r.layer.destroy();
    r.session.dispose(0);
    this.readerMask = null;
  }

  /** The compared reader's mask layer (for tests), or null. */
  get readerMaskLayer(): MaskLayer | null {
    return this.readerMask?.layer ?? null;
  }

  /** The compared reader's mask, read-only (for tests), or null. */
  get readerMaskSession(): MaskSession | null {
    return this.readerMask?.session ?? null;
  }

  private readonly onClassChange = (e: CustomEvent<{ name: string }>): void => {
    this.setClass(e.detail.name);
  };

  /** The class given to new objects and painted: kept here across slides, and in the tool host of the open one. */
  private setClass(name: string): void {
    this.currentClass = name;
    this.host?.setCurrentClass(name);
  }

  /** Commits whatever the active tool has in progress. */
  finishGesture(): void {
    this.host?.finishGesture();
  }

  private async startAnnotations(): Promise<void> {
    this.stopAnnotations();
    if (!this.annotate || !this.info || this.info.status !== 'ok') return;
    const viewer = this.osd.viewer;
    if (!viewer) return;
    const slide = this.slide;
    const info = this.info;
    const session = await AnnotationSession.open(this.server, slide, info.width ?? 0, info.height ?? 0, readOnlyReason(info.access));
    if (slide !== this.slide || this.osd.viewer !== viewer) {
      session.dispose();
      return;
    }
    this.session = session;
    // this user's layers per class in this project (visibility, lock, opacity), kept in the browser like the other view choices
    this.layersKey = layersKey(session.me?.user ?? null, info.project ?? null);
    session.useLayers(new ClassLayers(browserStorage(), this.layersKey));
    // the mask's canvas goes in first, under the annotations
    const maskLayer = session.mask ? new MaskLayer(viewer, session.mask, session.palette) : null;
    maskLayer?.useLayers(session.layers, () => session.palette);
    // the disagreement map over the mask, under the annotations: for those who review
    const disagreement = session.mask && info.access?.actions.includes('review') ? new DisagreementLayer(viewer, new AgreementApi(this.server, slide), () => this.requestUpdate()) : null;
    const layer = new AnnotationLayer(viewer, session, info.mpp);
    const host = new ToolHost(viewer, session, {
      mpp: info.mpp,
      currentClass: this.currentClass,
      objectivePower: effectiveObjective(info.objectivePower, info.mpp)?.power ?? null,
      paintMinMagnification: this.paintMinMagnification,
      layer,
      maskLayer,
      // review mode (src/tools/review-tool.ts): the slide's project and whether the caller reviews there
      review: info.project
        ? { server: this.server, slideId: slide, projectId: info.project, canReview: info.access?.actions.includes('review') ?? false, show: (box) => this.showBox(box) }
        : null,
    });
    this.offSkipped =
      session.mask?.onReplaySkipped(({ tiles: n, label }) =>
        host.setMessage('paint', `${label}: ${n} tile${n === 1 ? '' : 's'} changed on the server since and ${n === 1 ? 'was' : 'were'} left as ${n === 1 ? 'it is' : 'they are'}.`),
      ) ?? null;
    this.maskLayer = maskLayer;
    this.disagreement = disagreement;
    this.layer = layer;
    this.host = host;
    const v = this.getView();
    const el = this.renderRoot.querySelector<HTMLElement>('.osd');
    const box = v && el ? viewBox(v, el.clientWidth, el.clientHeight) : null;
    // ?transport=json reads the JSON listing instead of columnar frames (the benchmark's baseline)
    if (new URLSearchParams(location.search).get('transport') === 'json') session.transport = 'json';
    await session.load(box ? [box.x0, box.y0, box.x1, box.y1] : null);
    this.layer?.redraw();
  }

  private stopAnnotations(): void {
    this.dropReaderMask();
    this.host?.destroy();
    this.layer?.destroy();
    this.maskLayer?.destroy();
    this.disagreement?.destroy();
    this.disagreement = null;
    this.offSkipped?.();
    this.offSkipped = null;
    this.session?.dispose();
    this.host = null;
    this.layer = null;
    this.maskLayer = null;
    this.session = null;
  }

  /**
   * Reads the palette of the slide's project again (after a manager changed
   * it) and redraws the annotations, the mask and the panel with it.
   */
  async reloadPalette(): Promise<void> {
    const session = this.session;
    if (!session) return;
    const palette = await session.api.classes();
    if (session !== this.session) return;
    session.palette = palette;
    this.maskLayer?.setColours(paletteLut(palette));
    this.readerMask?.layer.setColours(paletteLut(palette));
    this.layer?.restyle();
    this.renderRoot.querySelector('wsi-annotation-panel')?.requestUpdate();
  }

  /**
   * A class of `project` was renamed (or merged into another): this user's
   * layer settings for it follow the new name — the open slide's layers when
   * the slide is in that project, else those kept in the browser.
   */
  classRenamed(project: string, from: string, to: string, userId: string | null): void {
    const s = this.session;
    if (s && this.layersKey === layersKey(s.me?.user ?? null, project)) s.layers.rename(from, to);
    else new ClassLayers(browserStorage(), layersKey(userId, project)).rename(from, to);
  }

  /** The annotation layer of the open slide (for integrations and tests). */
  get annotationLayer(): AnnotationLayer | null {
    return this.layer;
  }

  /** The annotations (and mask) of the open slide (for integrations and tests). */
  get annotationSession(): AnnotationSession | null {
    return this.session;
  }

  /** The tools of the open slide: the active one, what is available (for integrations and tests). */
  get tools(): ToolHost | null {
    return this.host;
  }

  /** Brush size, "inside ROIs only" and stroke latencies (null without annotations). */
  get paint(): PaintSettings | null {
    return this.host?.paint ?? null;
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('token') || changed.has('server')) setCredential(this.server, this.token ?? null);
  }

  protected override updated(changed: PropertyValues<this>): void {
    if (changed.has('paintMinMagnification')) this.host?.setPaintMinMagnification(this.paintMinMagnification);
    // a token given after a refusal opens the slide again; a refreshed one goes to the tiles still to come
    const retry = changed.has('token') && (this.error !== null || !this.osd.viewer);
    if (changed.has('slide') || changed.has('server') || changed.has('drawer') || retry) void this.openSlide();
    else if (changed.has('token')) this.osd.setAjaxHeaders(authHeaders(dziUrl(this.server, this.slide)));
    else if (changed.has('annotate') && this.osd.viewer) void (this.annotate ? this.startAnnotations() : this.stopAnnotations());
  }

  private fail(code: string, message: string): void {
    this.error = message;
    fire(this, 'wsi-slide-error', { slide: this.slide, code, message });
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
      ajaxHeaders: authHeaders(dziUrl(this.server, this.slide)),
    });
  }

  /** Current view, or null before the slide is open. */
  getView(): ViewState | null {
    return this.osd.currentView();
  }

  /** Moves the view to a centre (level-0 px) and zoom (screen px per image px); animated unless `immediately`. */
  goTo(view: ViewState, immediately = false): void {
    this.osd.goTo(view, immediately);
  }

  /** Moves the view (animated) to show a level-0 box with room around it (beside the annotation list when it is open): the list's fly-to. */
  showBox(box: ImageBox): void {
    const el = this.renderRoot.querySelector<HTMLElement>('.osd');
    const list = this.renderRoot.querySelector<HTMLElement>('wsi-annotation-list');
    const covered = list && el ? el.getBoundingClientRect().right - list.getBoundingClientRect().left : 0;
    if (el) this.osd.goTo(viewShowing(box, el.clientWidth, el.clientHeight, 64, covered), false);
  }

  private readonly flyTo = (box: ImageBox): void => this.showBox(box);

  /** Shows the whole slide. */
  fit(): void {
    this.osd.fit();
  }

  /** The magnification now (null when the slide has neither objective power nor MPP). */
  magnificationNow(): number | null {
    const objective = this.info ? effectiveObjective(this.info.objectivePower, this.info.mpp) : null;
    const v = this.osd.currentView();
    return objective && v ? magnification(objective.power, v.zoom) : null;
  }

  /** The magnification presets for the open slide (digital zoom marked; zoom factors without calibration). */
  presets(): Preset[] {
    return presets(this.info ? effectiveObjective(this.info.objectivePower, this.info.mpp) : null);
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

  /** A click outside the help closes it. */
  private readonly onPointerDown = (e: PointerEvent): void => {
    if (!this.showHelp) return;
    const help = this.renderRoot.querySelector('[data-testid=help]');
    const toggle = this.renderRoot.querySelector('[data-testid=help-toggle]');
    const path = e.composedPath();
    if (help && !path.includes(help) && !(toggle && path.includes(toggle))) this.showHelp = false;
  };

  private readonly onKey = (e: KeyboardEvent): void => {
    const target = e.composedPath()[0] as HTMLElement | undefined;
    if (target && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) return;
    const host = this.host;
    if (dispatchKey(e, this.keys, host ? host.active : null, (spec) => !!host?.setTool(spec.id), !!this.session?.mask)) {
      e.preventDefault();
      e.stopPropagation();
    }
  };

  private renderMagnification(): unknown {
    const info = this.info;
    if (!info || !this.zoom) return nothing;
    const objective = effectiveObjective(info.objectivePower, info.mpp);
    const mag = objective ? magnification(objective.power, this.zoom) : 0;
    const digital = !!objective && mag > objective.power * 1.001;
    const text = objective ? `${objective.estimated ? '≈' : ''}${formatMagnification(mag)}${digital ? ' digital' : ''}` : `${Math.round(this.zoom * 100)}%`;
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
    return html`<div class="scalebar" part="scalebar" data-testid="scalebar" title=${title} data-px=${bar.px.toFixed(3)}>
      <span class="label">${bar.label}</span>
      <div class="bar" style="width:${bar.px.toFixed(1)}px"></div>
    </div>`;
  }

  private renderHelp(): unknown {
    const sections = helpSections(this.keys, this.annotate ? (this.host?.available() ?? []) : [], !!this.session?.mask);
    return html`<div class="help" role="dialog" aria-label="Keyboard shortcuts (Esc closes)" data-testid="help">
      ${sections.map(
        (s) => html`<h4>${s.title}</h4>
          ${s.rows.map(([k, what]) => html`<div><kbd>${k}</kbd>${what}</div>`)}`,
      )}
    </div>`;
  }

  protected override render(): unknown {
    const open = this.info?.status === 'ok';
    return html`
      <div class="stage">
      <div class="osd" part="canvas"></div>
      ${open
        ? html`<div class="hud" part="hud">
            ${this.renderMagnification()}
            <button data-testid="preset-fit" title="Fit the slide (0 or h)" @click=${() => this.fit()}>Fit</button>
            ${this.presets().map(
              (p) =>
                html`<button data-testid=${`preset-${p.mag}`} class=${p.digital ? 'digital' : ''} title=${p.title} aria-label=${p.digital ? `${p.label} digital zoom` : p.label} @click=${() => this.setMagnification(p.mag)}>${p.label}</button>`,
            )}
            <button data-testid="help-toggle" title="Keyboard shortcuts (?)" @click=${() => (this.showHelp = !this.showHelp)}>?</button>
          </div>`
        : nothing}
      ${this.renderScaleBar()}
      ${this.slide && !this.info && !this.error ? html`<div class="notice">Opening slide…</div>` : nothing}
      ${this.error ? html`<div class="error" role="alert" data-testid="viewer-error">${this.error}</div>` : nothing}
      ${this.failedTiles > 0 ? html`<div class="tilewarn" role="status">${this.failedTiles} tile(s) failed to load</div>` : nothing}
      ${this.showHelp ? this.renderHelp() : nothing}
      ${this.showList && this.session
        ? html`<wsi-annotation-list .session=${this.session} .mpp=${this.info?.mpp ?? null} .currentClass=${this.currentClass} .fly=${this.flyTo}></wsi-annotation-list>`
        : nothing}
      </div>
      ${this.annotate && open
        ? html`<wsi-annotation-panel part="panel" .layer=${this.layer} .session=${this.session} .host=${this.host} .mpp=${this.info?.mpp ?? null} .currentClass=${this.currentClass} .maskLayer=${this.maskLayer} .disagreement=${this.disagreement}>
            ${this.host && this.session?.mask
              ? html`<wsi-mask-panel slot="mask" .host=${this.host} .mask=${this.session.mask} .mpp=${this.info?.mpp ?? null} .zoom=${this.zoom}></wsi-mask-panel>`
              : nothing}
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
