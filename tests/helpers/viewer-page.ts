/**
 * Driving the annotation viewer in Chromium from tests and benchmarks, and
 * what a browser test file shares: one Chromium and one test server on the
 * generated slides (startViewerRig), pages opened on a slide's viewer
 * (openViewer), closed after each test (closeContexts).
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { browserCookies } from '../../scripts/credentials.js';
import { signInBrowser, type Session } from './accounts.js';
import { launchChromium } from './browser.js';
import { VIEWER_SLIDES } from './paths.js';
import { getJson, startTestServer, type TestServer } from './server.js';

const MASK_TILE = 512;

export interface PageRecord {
  id: string;
  kind: string;
  classification: string | null;
  name: string | null;
  note: string | null;
  locked: boolean;
  geometry: { type: string; coordinates: unknown };
}

export const VIEWER = `document.querySelector('wsi-app')?.shadowRoot?.querySelector('wsi-viewer')`;

export interface RigSlide {
  id: string;
  name: string;
  width: number;
  height: number;
}

/** A browser test file's Chromium and server (signed in as its admin), the generated slides by file name, and the contexts its tests opened. */
export interface ViewerRig {
  browser: Browser;
  srv: TestServer;
  slides: Map<string, RigSlide>;
  contexts: BrowserContext[];
}

/** Starts the server on the generated slides (with `env`) and Chromium side by side. */
export async function startViewerRig(env: Record<string, string> = {}): Promise<ViewerRig> {
  const [browser, srv] = await Promise.all([launchChromium(), startTestServer(VIEWER_SLIDES, env)]);
  const { body } = await getJson<{ slides: RigSlide[] }>(`${srv.url}/api/slides`);
  return { browser, srv, slides: new Map(body.slides.map((s) => [s.name, s])), contexts: [] };
}

/** Closes the contexts the tests opened (afterEach). */
export async function closeContexts(rig: ViewerRig | undefined): Promise<void> {
  for (const c of rig?.contexts.splice(0) ?? []) await c.close();
}

export async function stopViewerRig(rig: ViewerRig | undefined): Promise<void> {
  await closeContexts(rig);
  await rig?.browser.close();
  await rig?.srv.stop();
}

export interface OpenViewerOptions {
  viewport?: { width: number; height: number };
  /** Signed in with this session instead of the server's admin. */
  session?: Session;
  /** Open in this context (the caller closes it) instead of a new one. */
  context?: BrowserContext;
  /** Run in the new context before the page opens (init scripts). */
  init?: (ctx: BrowserContext) => Promise<void>;
  acceptDownloads?: boolean;
  /** Wait for the mask layer too (default true). */
  mask?: boolean;
  /** Focus the viewer for keyboard shortcuts (default true). */
  focus?: boolean;
  /** Run on the new page before it loads the app (CDP sessions, page init scripts). */
  beforeLoad?: (page: Page) => Promise<void>;
}

/** Opens slide `slide` (an id) in the viewer, page errors logged, and waits for its annotations (and mask). */
export async function openViewer(rig: ViewerRig, slide: string, opts: OpenViewerOptions = {}): Promise<Page> {
  let ctx = opts.context;
  if (!ctx) {
    ctx = await rig.browser.newContext({ viewport: opts.viewport ?? { width: 1400, height: 900 }, ...(opts.acceptDownloads ? { acceptDownloads: true } : {}) });
    rig.contexts.push(ctx);
    await opts.init?.(ctx);
  }
  if (opts.session) await ctx.addCookies(browserCookies(rig.srv.url, opts.session));
  else await signInBrowser(ctx, rig.srv);
  const page = await ctx.newPage();
  await opts.beforeLoad?.(page);
  page.on('pageerror', (e) => process.stdout.write(`[browser] page error: ${e.message}\n`));
  await page.goto(`${rig.srv.url}/?drawer=canvas#slide=${slide}`);
  await waitAnnotationsLoaded(page);
  if (opts.mask !== false) await page.waitForFunction(`(${VIEWER}).annotationSession.mask?.loaded === true`, undefined, { timeout: 60_000 });
  if (opts.focus !== false) await page.locator('wsi-viewer').focus();
  return page;
}

export async function waitAnnotationsLoaded(page: Page, timeout = 60_000): Promise<void> {
  await page.waitForFunction(`(${VIEWER})?.annotationSession?.progress?.done === true && (${VIEWER})?.isFullyLoaded?.() === true`, undefined, { timeout });
}

export async function syncState(page: Page): Promise<{ status: string; queued: number }> {
  return page.evaluate(`(() => { const s = (${VIEWER}).annotationSession.sync.snapshot; return { status: s.status, queued: s.queued }; })()`);
}

export async function waitSaved(page: Page, timeout = 30_000): Promise<void> {
  await page.waitForFunction(`(${VIEWER})?.annotationSession?.sync.snapshot.status === 'saved' && (${VIEWER})?.annotationSession?.sync.snapshot.queued === 0`, undefined, { timeout });
}

/** The client store's objects, sorted by id. */
export async function storeRecords(page: Page): Promise<PageRecord[]> {
  return page.evaluate(`(() => {
    const s = (${VIEWER}).annotationSession.store;
    const out = [];
    for (const h of s.handles()) {
      const r = s.record(h);
      out.push({ id: r.id, kind: r.kind, classification: r.classification, name: r.name, note: r.note, locked: r.locked, geometry: r.geometry });
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  })()`);
}

/** Converts an image position to page coordinates. */
export async function imageToPage(page: Page, x: number, y: number): Promise<{ x: number; y: number }> {
  return page.evaluate(
    ([ix, iy]) => {
      const v = document.querySelector('wsi-app')?.shadowRoot?.querySelector('wsi-viewer') as unknown as {
        openSeadragon: {
          world: { getItemAt(i: number): { imageToViewportCoordinates(x: number, y: number, c: boolean): unknown } };
          viewport: { viewportToViewerElementCoordinates(p: unknown): { x: number; y: number } };
        };
        shadowRoot: ShadowRoot;
      };
      const osd = v.openSeadragon;
      const p = osd.viewport.viewportToViewerElementCoordinates(osd.world.getItemAt(0).imageToViewportCoordinates(ix as number, iy as number, true));
      const r = (v.shadowRoot.querySelector('.osd') as HTMLElement).getBoundingClientRect();
      return { x: r.left + p.x, y: r.top + p.y };
    },
    [x, y],
  );
}

/** Centres the view on an image point at a zoom (screen px per image px) and waits for the tiles. */
export async function viewAt(page: Page, x: number, y: number, zoom: number): Promise<void> {
  await page.evaluate(`(${VIEWER}).goTo({ x: ${x}, y: ${y}, zoom: ${zoom} }, true)`);
  await page.waitForFunction(`(${VIEWER}).isFullyLoaded()`);
}

/** A mouse drag through image points. */
export async function dragPath(page: Page, pts: Array<[number, number]>): Promise<void> {
  const first = await imageToPage(page, pts[0]?.[0] as number, pts[0]?.[1] as number);
  await page.mouse.move(first.x, first.y);
  await page.mouse.down();
  for (const [x, y] of pts.slice(1)) {
    const q = await imageToPage(page, x, y);
    await page.mouse.move(q.x, q.y, { steps: 6 });
  }
  await page.mouse.up();
}

/** Waits until the mask's edits are applied and saved. */
export async function waitMaskSaved(page: Page): Promise<void> {
  await page.evaluate(`(${VIEWER}).annotationSession.mask.idle()`);
  await page.waitForFunction(`(() => { const m = (${VIEWER}).annotationSession.mask; return m.sync.snapshot.status === 'saved' && m.sync.snapshot.queued === 0; })()`, undefined, { timeout: 30_000 });
}

/** Every tile of the client's mask, decoded (by "tx,ty"). */
export async function clientMaskTiles(page: Page): Promise<Map<string, Buffer>> {
  const entries = (await page.evaluate(`(() => {
    const m = (${VIEWER}).annotationSession.mask;
    const out = [];
    for (const k of m.store.keys()) {
      const t = m.store.get(k);
      const d = new Uint8Array(${MASK_TILE * MASK_TILE});
      if ('uniform' in t) d.fill(t.uniform);
      else {
        let i = 0;
        for (let y = 0; y < ${MASK_TILE}; y++) {
          const n = t.rle[i++];
          let x = y * ${MASK_TILE};
          for (let r = 0; r < n; r++) { const len = t.rle[i++]; const v = t.rle[i++]; d.fill(v, x, x + len); x += len; }
        }
      }
      let s = '';
      for (let i = 0; i < d.length; i += 0x8000) s += String.fromCharCode(...d.subarray(i, i + 0x8000));
      out.push([k, btoa(s)]);
    }
    return out;
  })()`)) as Array<[string, string]>;
  return new Map(entries.map(([k, v]) => [k, Buffer.from(v, 'base64')]));
}


/** Alpha of an overlay canvas of the viewer (annotation-canvas, mask-canvas) at an image point: what is drawn there. */
export async function overlayAlpha(page: Page, canvas: 'annotation-canvas' | 'mask-canvas', x: number, y: number): Promise<number> {
  const p = await imageToPage(page, x, y);
  return page.evaluate(`(() => {
    const c = (${VIEWER}).shadowRoot.querySelector('[data-testid=${canvas}]');
    const r = c.getBoundingClientRect();
    return c.getContext('2d').getImageData(Math.round((${p.x} - r.left) * devicePixelRatio), Math.round((${p.y} - r.top) * devicePixelRatio), 1, 1).data[3];
  })()`);
}
