/**
 * Owns the OpenSeadragon viewer of a host element: created when a slide is
 * opened, destroyed when the host disconnects or the slide changes. Reports
 * view changes (throttled to animation frames) and failures to the host.
 */
import OpenSeadragon from 'openseadragon';
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import type { ViewState } from '../core/deep-link.js';
import type { DrawerKind } from './drawer-choice.js';
import { goToView, readView } from './view-transform.js';

export interface OsdCallbacks {
  onOpen(): void;
  onOpenFailed(message: string): void;
  onView(view: ViewState): void;
  onTileFailed(): void;
}

export interface OpenRequest {
  element: HTMLElement;
  dziUrl: string;
  drawer: DrawerKind;
  crossOrigin: boolean;
  initialView: ViewState | null;
  /** Highest screen-px per image-px the user may zoom to. */
  maxImageZoom: number;
  /** A bearer token's header: then the descriptor and every tile (navigator's too) are fetched with it, never with it in a URL. */
  ajaxHeaders: Record<string, string>;
}

export class OsdController implements ReactiveController {
  viewer: OpenSeadragon.Viewer | null = null;
  private frame = 0;

  constructor(
    private readonly host: ReactiveControllerHost,
    private readonly cb: OsdCallbacks,
  ) {
    host.addController(this);
  }

  hostConnected(): void {}

  hostDisconnected(): void {
    this.destroy();
  }

  open(req: OpenRequest): void {
    this.destroy();
    const viewer = OpenSeadragon({
      element: req.element,
      tileSources: req.dziUrl,
      drawer: req.drawer,
      ...(Object.keys(req.ajaxHeaders).length > 0 ? { loadTilesWithAjax: true, ajaxHeaders: req.ajaxHeaders } : {}),
      crossOriginPolicy: req.crossOrigin ? 'Anonymous' : false,
      showNavigator: true,
      navigatorPosition: 'BOTTOM_RIGHT',
      navigatorAutoFade: false,
      showNavigationControl: false,
      animationTime: 0.4,
      springStiffness: 9,
      blendTime: 0,
      imageLoaderLimit: 8,
      maxImageCacheCount: 600,
      timeout: 30000,
      // a tile refused while the server sheds load (503 with Retry-After: 1) is asked again after a second,
      // instead of staying blank for the rest of the view (OpenSeadragon gives up at once by default)
      tileRetryMax: 3,
      tileRetryDelay: 1000,
      maxZoomPixelRatio: req.maxImageZoom * window.devicePixelRatio,
      // let magnification presets zoom out past "fit" on small slides
      minZoomImageRatio: 0.1,
      visibilityRatio: 0.2,
      gestureSettingsMouse: { clickToZoom: false, dblClickToZoom: true },
      keyboardNavEnabled: true,
      preserveImageSizeOnResize: true,
    } as OpenSeadragon.Options);
    this.viewer = viewer;
    viewer.addHandler('open', () => {
      if (req.initialView) this.goTo(req.initialView, true);
      this.cb.onOpen();
      this.emitView();
    });
    viewer.addHandler('open-failed', (e) => {
      const msg = (e as unknown as { message?: string }).message ?? 'the slide could not be opened';
      this.cb.onOpenFailed(msg);
    });
    viewer.addHandler('tile-load-failed', () => this.cb.onTileFailed());
    viewer.addHandler('viewport-change', () => this.scheduleView());
    viewer.addHandler('resize', () => this.scheduleView());
  }

  /** A refreshed token: tiles not yet loaded (and retries) carry the new header. */
  setAjaxHeaders(headers: Record<string, string>): void {
    this.viewer?.setAjaxHeaders(headers, true);
  }

  private scheduleView(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.emitView();
    });
  }

  private emitView(): void {
    const v = this.currentView();
    if (v) this.cb.onView(v);
  }

  /** Centre (level-0 px) and zoom (screen px per image px) as drawn now. */
  currentView(): ViewState | null {
    return this.viewer ? readView(this.viewer) : null;
  }

  goTo(view: ViewState, immediately = false): void {
    if (this.viewer) goToView(this.viewer, view, immediately);
  }

  zoomToImageZoom(zoom: number): void {
    const view = this.currentView();
    if (view) this.goTo({ ...view, zoom });
  }

  fit(): void {
    this.viewer?.viewport.goHome();
  }

  fullyLoaded(): boolean {
    const item = this.viewer?.world.getItemAt(0);
    return !!item && item.getFullyLoaded();
  }

  destroy(): void {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.viewer?.destroy();
    this.viewer = null;
  }
}
