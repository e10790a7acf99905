/**
 * A lab portal on another origin embeds <wsi-viewer> with attributes and an
 * embed token: the element script and the tiles come from the tiles-server
 * (allowed by CORS_ORIGINS), and the tiles draw into a canvas the page can
 * read. Without the token the server refuses; the token (a property, never
 * an attribute) travels in the Authorization header of every request,
 * OpenSeadragon's tiles included, and in no URL (SEC-02).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asSession, type Session } from '../helpers/accounts.js';
import { CHROMIUM, HAS_CHROMIUM, launchChromium } from '../helpers/browser.js';
import { FIXTURES } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

let portal: Server;
let portalOrigin: string;
let tiles: TestServer;
let strict: TestServer;
let browser: Browser;
let slideId = '';

function page(server: string, slide: string, annotate: boolean): string {
  return `<!doctype html><html><body><h1>Lab portal</h1>
<script type="module" src="${server}/wsi-viewer.js"></script>
<wsi-viewer id="v" server="${server}" slide="${slide}" drawer="canvas"${annotate ? ' annotate' : ''} style="display:block;width:800px;height:500px"></wsi-viewer>
</body></html>`;
}

beforeAll(async () => {
  if (!HAS_CHROMIUM) {
    process.stdout.write(`[browser] SKIP: no Chromium at ${CHROMIUM}\n`);
    return;
  }
  portal = createServer((req, res) => {
    const q = new URL(req.url ?? '/', 'http://x').searchParams;
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(page(q.get('server') ?? '', slideId, q.has('annotate')));
  });
  await new Promise<void>((r) => portal.listen(0, '127.0.0.1', r));
  portalOrigin = `http://localhost:${(portal.address() as AddressInfo).port}`;
  tiles = await startTestServer(FIXTURES, { CORS_ORIGINS: portalOrigin });
  strict = await startTestServer(FIXTURES);
  const { body } = await getJson<{ slides: Array<{ id: string; name: string }> }>(`${tiles.url}/api/slides`);
  slideId = body.slides.find((s) => s.name === 'slides/aperio-jpeg-240-x4.svs')?.id ?? '';
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await tiles?.stop();
  await strict?.stop();
  await new Promise((r) => portal?.close(r));
});

describe.skipIf(!HAS_CHROMIUM)('embedding <wsi-viewer> in a portal', () => {
  it('works across origins with an embed token when the server allows the portal', async () => {
    // the portal's server side asks for the token (here: as the signed-in admin)
    const token = (await asSession(tiles.url, tiles.session as Session, 'POST', '/api/auth/embed-token', { scope: 'read' })).body['token'] as string;
    expect(token).toMatch(/^wsi_et_/);
    const p = await browser.newPage();
    const sent: Array<{ url: string; auth: string | undefined }> = [];
    p.on('request', (r) => {
      if (/\/(api|dzi|iiif)\//.test(r.url()) && r.method() === 'GET') sent.push({ url: r.url(), auth: r.headers()['authorization'] });
    });
    // the portal page is on localhost, the tiles-server on 127.0.0.1: different origins
    await p.goto(`${portalOrigin}/?server=${encodeURIComponent(tiles.url)}`);
    // no credential yet: the server refuses and the viewer says so
    await expect.poll(() => p.evaluate(() => (document.getElementById('v') as HTMLElement & { error: string | null }).error), { timeout: 20_000 }).toMatch(/sign in/);
    await p.evaluate((t) => void ((document.getElementById('v') as HTMLElement & { token: string }).token = t), token);
    await p.waitForFunction(() => (document.getElementById('v') as HTMLElement & { isFullyLoaded?(): boolean }).isFullyLoaded?.() === true, undefined, { timeout: 30_000 });
    const std = await p.evaluate(() => {
      const v = document.getElementById('v') as HTMLElement & { openSeadragon: { drawer: { canvas: HTMLCanvasElement } } };
      const c = v.openSeadragon.drawer.canvas;
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
    expect(std).toBeGreaterThan(10);
    expect(await p.locator('wsi-viewer [data-testid=magnification]').textContent()).toMatch(/×$/);
    const afterToken = sent.filter((r) => r.auth !== undefined);
    expect(afterToken.some((r) => /_files\/\d+\//.test(r.url)), 'tiles were fetched with the token').toBe(true);
    expect(sent.filter((r) => r.auth === undefined).every((r) => /\/api\/slides\/[^/]+$/.test(r.url)), 'only the first, refused slide request went without it').toBe(true);
    expect(afterToken.every((r) => r.auth === `Bearer ${token}`)).toBe(true);
    expect(sent.every((r) => !r.url.includes(token)), 'the token is in no URL').toBe(true);
    // a refreshed token: the tiles fetched from then on carry the new one (OpenSeadragon's setAjaxHeaders)
    const fresh = (await asSession(tiles.url, tiles.session as Session, 'POST', '/api/auth/embed-token', { scope: 'read' })).body['token'] as string;
    const mark = sent.length;
    await p.evaluate((t) => void ((document.getElementById('v') as HTMLElement & { token: string }).token = t), fresh);
    await p.evaluate(() => (document.getElementById('v') as HTMLElement & { goTo(v: { x: number; y: number; zoom: number }, now: boolean): void }).goTo({ x: 1500, y: 1200, zoom: 1 }, true));
    await expect.poll(() => sent.slice(mark).filter((r) => /_files\//.test(r.url)).length, { timeout: 30_000 }).toBeGreaterThan(0);
    await p.waitForFunction(() => (document.getElementById('v') as HTMLElement & { isFullyLoaded?(): boolean }).isFullyLoaded?.() === true, undefined, { timeout: 30_000 });
    const later = sent.slice(mark).filter((r) => /_files\//.test(r.url));
    expect(later.every((r) => r.auth === `Bearer ${fresh}`)).toBe(true);
    expect(sent.every((r) => !r.url.includes(fresh))).toBe(true);
    await p.close();
  });

  it('shows the annotations and the mask too, fetched in workers started for the portal, with the token', async () => {
    const token = (await asSession(tiles.url, tiles.session as Session, 'POST', '/api/auth/embed-token', { scope: 'read' })).body['token'] as string;
    const p = await browser.newPage();
    const sent: Array<{ url: string; auth: string | undefined }> = [];
    p.on('request', (r) => {
      if (/\/(api|dzi|iiif)\//.test(r.url()) && r.method() === 'GET') sent.push({ url: r.url(), auth: r.headers()['authorization'] });
    });
    const workers: string[] = [];
    p.on('worker', (w) => workers.push(w.url()));
    await p.goto(`${portalOrigin}/?annotate&server=${encodeURIComponent(tiles.url)}`);
    await expect.poll(() => p.evaluate(() => (document.getElementById('v') as HTMLElement & { error: string | null }).error), { timeout: 20_000 }).toMatch(/sign in/);
    const mark = sent.length;
    await p.evaluate((t) => void ((document.getElementById('v') as HTMLElement & { token: string }).token = t), token);
    const withToken = (re: RegExp): number => sent.slice(mark).filter((r) => r.auth === `Bearer ${token}` && re.test(r.url)).length;
    // the listing comes as columnar frames (or JSON from an older server), either way with the token
    await expect.poll(() => withToken(/\/annotations(-columnar)?(\?|$)/), { timeout: 30_000 }).toBeGreaterThan(0);
    await expect.poll(() => withToken(/\/masks\//), { timeout: 30_000 }).toBeGreaterThan(0);
    expect(sent.slice(mark).filter((r) => r.auth === undefined).map((r) => r.url), 'every request after the token carries it').toEqual([]);
    // the workers run from blobs of the portal's origin (a worker of another origin is refused)
    expect(workers.length).toBeGreaterThan(0);
    expect(workers.every((u) => u.startsWith(`blob:${portalOrigin}/`)), workers.join(', ')).toBe(true);
    expect(await p.evaluate(() => (document.getElementById('v') as HTMLElement & { error: string | null }).error)).toBeNull();
    expect(sent.every((r) => !r.url.includes(token)), 'the token is in no URL').toBe(true);
    await p.close();
  });

  it('loads the annotations on the page itself, and says why the mask cannot paint, when the workers cannot start (no hang)', async () => {
    const token = (await asSession(tiles.url, tiles.session as Session, 'POST', '/api/auth/embed-token', { scope: 'read' })).body['token'] as string;
    const p = await browser.newPage();
    // the portal's network refuses the worker scripts (a proxy, a CORS rule): each blob's import fails
    await p.route(/\.worker-[^/]*\.js$/, (route) => route.abort('blockedbyclient'));
    await p.goto(`${portalOrigin}/?annotate&server=${encodeURIComponent(tiles.url)}`);
    await expect.poll(() => p.evaluate(() => (document.getElementById('v') as HTMLElement & { error: string | null }).error), { timeout: 20_000 }).toMatch(/sign in/);
    await p.evaluate((t) => void ((document.getElementById('v') as HTMLElement & { token: string }).token = t), token);
    type Viewer = HTMLElement & { annotationSession: { progress: { done: boolean; error: string | null }; mask: { loadError: string | null } | null } | null };
    await expect.poll(() => p.evaluate(() => (document.getElementById('v') as Viewer).annotationSession?.progress ?? null), { timeout: 30_000 }).toMatchObject({ done: true, error: null });
    await expect.poll(() => p.evaluate(() => (document.getElementById('v') as Viewer).annotationSession?.mask?.loadError ?? null), { timeout: 30_000 }).toMatch(/could not start/);
    await p.close();
  });

  it('a server that does not allow the portal refuses to serve it the viewer', async () => {
    const p = await browser.newPage();
    await p.goto(`${portalOrigin}/?server=${encodeURIComponent(strict.url)}`);
    // the module script itself is refused cross-origin: the element never upgrades. Module scripts run
    // (or fail) before the load event, and wsi-viewer.js defines the element at its top level
    await p.waitForLoadState('load');
    const upgraded = await p.evaluate(() => customElements.get('wsi-viewer') !== undefined);
    expect(upgraded).toBe(false);
    await p.close();
  });
});
