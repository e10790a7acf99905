/**
 * A third-party IIIF viewer on another origin: a portal page loads
 * OpenSeadragon (our own dependency, served by the portal) and opens slides
 * through its IIIF tile source, from info.json alone. The page first fetches
 * info.json with the JSON-LD Accept header (a CORS preflight in the
 * browser), then the viewer zooms through every level of the pyramid. Every
 * request must succeed (no 4xx/5xx, no CORS failure), every scale factor
 * info.json advertises must be requested, and the canvas must show tissue.
 * The portal holds an embed token (its server side asked for it): the page
 * sends it in the Authorization header of info.json and of every tile
 * (OpenSeadragon's ajaxHeaders), never in a URL (SEC-02).
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asSession, type Session } from '../helpers/accounts.js';
import { CHROMIUM, HAS_CHROMIUM, launchChromium } from '../helpers/browser.js';
import { FIXTURES, ROOT } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

const OSD_SCRIPT = join(ROOT, 'node_modules', 'openseadragon', 'build', 'openseadragon', 'openseadragon.min.js');
const JSON_LD = 'application/ld+json;profile="http://iiif.io/api/image/3/context.json"';

let portal: Server;
let portalOrigin = '';
/** The portal's embed token for the tiles-server. */
let portalToken = '';
let tiles: TestServer;
let browser: Browser;
const ids = new Map<string, string>();

function portalPage(info: string, token: string): string {
  const auth = JSON.stringify({ Authorization: `Bearer ${token}` });
  return `<!doctype html><html><head><script src="/openseadragon.min.js"></script></head><body>
<div id="osd" style="width:800px;height:600px"></div>
<script>
window.opened = (async () => {
  const res = await fetch(${JSON.stringify(info)}, { headers: { Accept: ${JSON.stringify(JSON_LD)}, ...${auth} } });
  if (!res.ok) throw new Error('info.json answered ' + res.status);
  const info = await res.json();
  window.viewer = OpenSeadragon({
    id: 'osd', tileSources: ${JSON.stringify(info)}, drawer: 'canvas', crossOriginPolicy: 'Anonymous', loadTilesWithAjax: true, ajaxHeaders: ${auth},
    animationTime: 0, blendTime: 0, immediateRender: false, showNavigationControl: false, maxZoomPixelRatio: 1,
  });
  await new Promise((resolve, reject) => { window.viewer.addOnceHandler('open', resolve); window.viewer.addOnceHandler('open-failed', (e) => reject(new Error(e.message))); });
  return info;
})();
</script></body></html>`;
}

beforeAll(async () => {
  if (!HAS_CHROMIUM) {
    process.stdout.write(`[browser] SKIP: no Chromium at ${CHROMIUM}\n`);
    return;
  }
  const osd = await readFile(OSD_SCRIPT);
  portal = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/openseadragon.min.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript' });
      res.end(osd);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(portalPage(url.searchParams.get('info') ?? '', portalToken));
  });
  await new Promise<void>((r) => portal.listen(0, '127.0.0.1', r));
  // the portal is on localhost, the tiles-server on 127.0.0.1: different origins
  portalOrigin = `http://localhost:${(portal.address() as AddressInfo).port}`;
  tiles = await startTestServer(FIXTURES, { CORS_ORIGINS: portalOrigin });
  const { body } = await getJson<{ slides: Array<{ id: string; name: string }> }>(`${tiles.url}/api/slides`);
  for (const s of body.slides) ids.set(s.name, s.id);
  portalToken = (await asSession(tiles.url, tiles.session as Session, 'POST', '/api/auth/embed-token', { scope: 'read' })).body['token'] as string;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await tiles?.stop();
  await new Promise((r) => portal?.close(r));
});

interface Info {
  width: number;
  height: number;
  tiles: Array<{ width: number; scaleFactors: number[] }>;
}

/** The scale factor of an IIIF image request, from its region and size. */
function scaleFactorOf(url: string, info: Info): number | null {
  const m = /\/iiif\/[0-9a-f]+\/([^/]+)\/([^/]+)\/0\/default\.jpg$/.exec(new URL(url).pathname);
  if (!m) return null;
  const [, region, size] = m as unknown as [string, string, string];
  const rw = region === 'full' ? info.width : Number(region.split(',')[2]);
  const sw = size === 'max' ? rw : Number(size.split(',')[0]);
  return 2 ** Math.round(Math.log2(rw / sw));
}

async function zoomThroughLevels(page: Page): Promise<void> {
  const levels = await page.evaluate(() => {
    const v = (window as unknown as { viewer: { world: { getItemAt(i: number): { source: { minLevel: number; maxLevel: number } } } } }).viewer;
    const src = v.world.getItemAt(0).source;
    return { min: src.minLevel, max: src.maxLevel };
  });
  for (let level = levels.min; level <= levels.max; level++) {
    await page.evaluate((l) => {
      interface Item {
        source: { getLevelScale(l: number): number };
        imageToViewportZoom(z: number): number;
      }
      const v = (window as unknown as { viewer: { world: { getItemAt(i: number): Item }; viewport: { zoomTo(z: number, p: null, now: boolean): void } } }).viewer;
      const item = v.world.getItemAt(0);
      // one image pixel of this level per screen pixel
      v.viewport.zoomTo(item.imageToViewportZoom(item.source.getLevelScale(l)), null, true);
    }, level);
    await page.waitForTimeout(250);
    await page.waitForFunction(() => (window as unknown as { viewer: { world: { getItemAt(i: number): { getFullyLoaded(): boolean } } } }).viewer.world.getItemAt(0).getFullyLoaded(), undefined, { timeout: 30_000 });
  }
}

describe.skipIf(!HAS_CHROMIUM)("OpenSeadragon's IIIF tile source on another origin", () => {
  it.each(['slides/aperio-jpeg-240-x4.svs', 'slides/qptiff-fluorescence-6ch.qptiff'])('opens %s from info.json and draws every level with no failed request', async (name) => {
    const sid = ids.get(name) as string;
    expect(sid).toBeTruthy();
    const infoUrl = `${tiles.url}/iiif/${sid}/info.json`;
    const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
    const failures: string[] = [];
    const imageRequests: string[] = [];
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('requestfailed', (r) => failures.push(`${r.url()} failed: ${r.failure()?.errorText ?? '?'}`));
    page.on('request', (r) => {
      if (r.url().includes(portalToken)) failures.push(`the token is in a URL: ${r.url()}`);
      if (r.url().startsWith(`${tiles.url}/iiif/`) && r.method() === 'GET' && r.headers()['authorization'] !== `Bearer ${portalToken}`) failures.push(`${r.url()} without the token`);
    });
    page.on('response', (r) => {
      if (r.status() >= 400) failures.push(`${r.request().method()} ${r.url()} -> ${r.status()}`);
      if (r.url().startsWith(`${tiles.url}/iiif/`) && r.url().endsWith('.jpg')) imageRequests.push(r.url());
    });
    await page.goto(`${portalOrigin}/?info=${encodeURIComponent(infoUrl)}`);
    const info = (await page.evaluate(() => (window as unknown as { opened: Promise<unknown> }).opened)) as Info;
    await zoomThroughLevels(page);

    // back to the whole slide to look at the picture
    await page.evaluate(() => (window as unknown as { viewer: { viewport: { goHome(now: boolean): void } } }).viewer.viewport.goHome(true));
    await page.waitForTimeout(250);
    await page.waitForFunction(() => (window as unknown as { viewer: { world: { getItemAt(i: number): { getFullyLoaded(): boolean } } } }).viewer.world.getItemAt(0).getFullyLoaded(), undefined, { timeout: 30_000 });

    const requested = new Set(imageRequests.map((u) => scaleFactorOf(u, info)));
    expect([...requested].sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual([...(info.tiles[0]?.scaleFactors ?? [])].sort((a, b) => a - b));
    const std = await page.evaluate(() => {
      const c = document.querySelector('#osd canvas') as HTMLCanvasElement;
      const d = (c.getContext('2d') as CanvasRenderingContext2D).getImageData(0, 0, c.width, c.height).data;
      let s = 0;
      let s2 = 0;
      for (let i = 0; i < d.length; i += 4) {
        const g = ((d[i] as number) + (d[i + 1] as number) + (d[i + 2] as number)) / 3;
        s += g;
        s2 += g * g;
      }
      const n = d.length / 4;
      return Math.sqrt(s2 / n - (s / n) ** 2);
    });
    process.stdout.write(`[browser] IIIF ${name}: canvas standard deviation ${std.toFixed(1)}\n`);
    expect(std, 'the canvas shows tissue, not a blank or tainted canvas').toBeGreaterThan(10);
    expect(failures, failures.join('\n')).toEqual([]);
    expect(errors).toEqual([]);
    process.stdout.write(`[browser] IIIF ${name}: ${imageRequests.length} image requests over scale factors ${[...requested].join(',')}\n`);
    await page.close();
  });
});
