/**
 * Annotating in Chromium: every drawing tool, edits, undo/redo and a reload
 * giving the same state; a SIGKILLed server (DATA-11); offline then online
 * (DATA-02); a tab closed before anything was saved (DATA-01); two tabs on
 * one slide (DATA-19); a stale write
 * (DATA-06); deletes that stay deleted (DATA-16).
 */
import { randomUUID } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { asSession, signInBrowser, TEST_PASSWORD, type Session } from '../helpers/accounts.js';
import { CHROMIUM, HAS_CHROMIUM, launchChromium } from '../helpers/browser.js';
import { call, square } from '../helpers/annotations.js';
import { VIEWER_SLIDES } from '../helpers/paths.js';
import { getJson, startTestServer, waitExit, type TestServer } from '../helpers/server.js';
import { VIEWER, imageToPage, storeRecords, syncState, waitAnnotationsLoaded, waitSaved } from '../helpers/viewer-page.js';

let browser: Browser;
const servers: TestServer[] = [];
const contexts: BrowserContext[] = [];
const SLIDE = 'aperio-jpeg-256-x2.svs';

if (!HAS_CHROMIUM) process.stdout.write(`[browser] SKIP: no Chromium at ${CHROMIUM}\n`);

async function server(env: Record<string, string> = {}): Promise<{ srv: TestServer; slide: string }> {
  const srv = await startTestServer(VIEWER_SLIDES, env);
  servers.push(srv);
  const { body } = await getJson<{ slides: Array<{ id: string; name: string }> }>(`${srv.url}/api/slides`);
  return { srv, slide: body.slides.find((s) => s.name === SLIDE)?.id ?? '' };
}

async function open(url: string, slide: string, context?: BrowserContext): Promise<{ page: Page; context: BrowserContext }> {
  const ctx = context ?? (await browser.newContext({ viewport: { width: 1400, height: 900 } }));
  if (!context) contexts.push(ctx);
  await signInBrowser(ctx, servers.find((s) => s.url === url) ?? { url, session: null });
  const page = await ctx.newPage();
  page.on('pageerror', (e) => process.stdout.write(`[browser] page error: ${e.message}\n`));
  await page.goto(`${url}/?drawer=canvas#slide=${slide}`);
  await waitAnnotationsLoaded(page);
  await page.locator('wsi-viewer').focus();
  return { page, context: ctx };
}

async function click(page: Page, x: number, y: number, opts: { modifiers?: Array<'Shift' | 'Alt'> } = {}): Promise<void> {
  const p = await imageToPage(page, x, y);
  for (const m of opts.modifiers ?? []) await page.keyboard.down(m);
  await page.mouse.click(p.x, p.y);
  for (const m of opts.modifiers ?? []) await page.keyboard.up(m);
  await page.waitForTimeout(350); // beyond the double-click window
}

async function drag(page: Page, from: [number, number], to: [number, number], via: Array<[number, number]> = []): Promise<void> {
  const a = await imageToPage(page, from[0], from[1]);
  await page.mouse.move(a.x, a.y);
  await page.mouse.down();
  for (const p of [...via, to]) {
    const q = await imageToPage(page, p[0], p[1]);
    await page.mouse.move(q.x, q.y, { steps: 4 });
  }
  await page.mouse.up();
  await page.waitForTimeout(100);
}

async function key(page: Page, k: string): Promise<void> {
  await page.locator('wsi-viewer').press(k);
}

beforeAll(async () => {
  if (HAS_CHROMIUM) browser = await launchChromium();
});

afterEach(async () => {
  for (const c of contexts.splice(0)) await c.close();
  // each test has servers of its own: none is left running for the tests after it
  for (const s of servers.splice(0)) await s.stop();
});

afterAll(async () => {
  await browser?.close();
  for (const s of servers) await s.stop();
});

describe.skipIf(!HAS_CHROMIUM)('annotating in the browser', () => {
  it('draws every kind of shape, edits, undoes and redoes, and a reload shows the same state', async () => {
    const { srv, slide } = await server();
    const { page } = await open(srv.url, slide);

    await key(page, 'p');
    for (const [x, y] of [[500, 500], [900, 500], [900, 900], [500, 900]] as const) await click(page, x, y);
    await key(page, 'Escape'); // Esc finishes a valid polygon, it does not drop it (DATA-15)
    await key(page, 'f');
    await drag(page, [1200, 500], [1200, 520], [[1300, 480], [1400, 600], [1300, 750], [1150, 700]]);
    await key(page, 'r');
    await drag(page, [1500, 500], [1800, 800]);
    await key(page, 'e');
    await drag(page, [2000, 500], [2400, 800]);
    await key(page, 'k');
    await click(page, 2600, 600);
    await key(page, 'm');
    await drag(page, [500, 1200], [1500, 1200]);
    await waitSaved(page);
    let recs = await storeRecords(page);
    expect(recs.map((r) => r.kind).sort()).toEqual(['ellipse', 'freehand', 'point', 'polygon', 'rectangle', 'ruler']);

    // the ruler measures 1000 px × 0.25 µm = 250 µm
    await key(page, 'v');
    await click(page, 1000, 1200);
    await expect.poll(() => page.locator('wsi-annotation-panel [data-testid=measure]').textContent()).toBe('Length 250 µm');

    // select the polygon, give it a class (its hotkey picks the class, C sets it on the selection), move it, drag a vertex, insert one
    await click(page, 700, 700);
    await key(page, 's');
    await key(page, 'C');
    await drag(page, [700, 700], [750, 720]);
    await drag(page, [550, 520], [520, 470]);
    const top = await imageToPage(page, 735, 495); // middle of the top edge, (520,470)–(950,520)
    await page.mouse.dblclick(top.x, top.y);
    await page.waitForTimeout(350);
    await page.locator('wsi-annotation-panel #name').fill('Region A');
    await page.locator('wsi-annotation-panel #name').press('Enter');
    await page.locator('wsi-annotation-panel #name').blur();
    await key(page, 'L');
    await waitSaved(page);
    recs = await storeRecords(page);
    const poly = recs.find((r) => r.kind === 'polygon');
    expect(poly).toMatchObject({ classification: 'Stroma', name: 'Region A', locked: true });
    const ring = (poly?.geometry.coordinates as number[][][])[0] as number[][];
    expect(ring).toHaveLength(6); // 4 corners + inserted vertex + closing
    expect(ring[0]?.[0]).toBeCloseTo(520, -1);
    expect(ring[0]?.[1]).toBeCloseTo(470, -1);
    expect(ring[2]?.[0]).toBeCloseTo(950, -1); // moved by +50

    // union of rectangle and ellipse, then delete the point
    await click(page, 1650, 650);
    await click(page, 2200, 650, { modifiers: ['Shift'] });
    await key(page, 'u');
    await click(page, 2600, 600);
    await key(page, 'Delete');
    await waitSaved(page);
    expect((await storeRecords(page)).length).toBe(4);
    await page.keyboard.press('Control+z'); // point back
    await page.keyboard.press('Control+z'); // union undone
    await waitSaved(page);
    expect((await storeRecords(page)).map((r) => r.kind).sort()).toEqual(['ellipse', 'freehand', 'point', 'polygon', 'rectangle', 'ruler']);
    await page.keyboard.press('Control+Shift+z'); // union again
    await waitSaved(page);
    const before = await storeRecords(page);
    expect(before).toHaveLength(5);

    const onServer = await call<{ annotations: Array<{ id: string }> }>(srv.url, 'GET', `/api/slides/${slide}/annotations`);
    expect(onServer.body.annotations.map((a) => a.id).sort()).toEqual(before.map((r) => r.id));
    await page.reload();
    await waitAnnotationsLoaded(page);
    expect(await storeRecords(page)).toEqual(before);
  });

  it('subtracts the other selected regions from the first (U), in one undoable step', async () => {
    const { srv, slide } = await server();
    const { page } = await open(srv.url, slide);
    await key(page, 'r');
    await drag(page, [600, 600], [1000, 1000]);
    await key(page, 'r');
    await drag(page, [800, 400], [1200, 800]);
    await key(page, 'v');
    await click(page, 700, 900);
    await click(page, 1100, 500, { modifiers: ['Shift'] });
    await key(page, 'U');
    await waitSaved(page);
    const area = (g: { coordinates: unknown }): number => {
      const ring = (g.coordinates as number[][][])[0] as number[][];
      let a = 0;
      for (let i = 0; i < ring.length - 1; i++) a += (ring[i]?.[0] as number) * (ring[i + 1]?.[1] as number) - (ring[i + 1]?.[0] as number) * (ring[i]?.[1] as number);
      return Math.abs(a / 2);
    };
    const recs = await storeRecords(page);
    expect(recs).toHaveLength(2);
    const cut = recs.find((r) => r.geometry.type === 'Polygon' && area(r.geometry) < 150_000);
    expect(area(cut?.geometry as { coordinates: unknown })).toBeGreaterThan(110_000); // 400² minus a 200² corner ≈ 120,000
    await page.keyboard.press('Control+z');
    await waitSaved(page);
    expect((await storeRecords(page)).map((r) => Math.round(area(r.geometry) / 1000))).toEqual([160, 160]);
  });

  it('a dense view draws cached raster tiles that follow new shapes, deletes and undo', async () => {
    const { srv, slide } = await server();
    const ops = Array.from({ length: 2000 }, (_, i) => ({ op: 'create', annotation: square(200 + (i % 50) * 30, 200 + Math.floor(i / 50) * 30, 12) }));
    expect((await call(srv.url, 'POST', `/api/slides/${slide}/annotations/batch`, { body: { ops } })).status).toBe(200);
    const { page } = await open(srv.url, slide);
    const alphaAt = async (x: number, y: number): Promise<number> => {
      const p = await imageToPage(page, x, y);
      return page.evaluate(`(() => {
        const c = (${VIEWER}).annotationLayer.canvas;
        const r = c.getBoundingClientRect();
        return c.getContext('2d').getImageData(Math.round((${p.x} - r.left) * devicePixelRatio), Math.round((${p.y} - r.top) * devicePixelRatio), 1, 1).data[3];
      })()`);
    };
    const rendered = async (): Promise<void> => {
      await page.waitForFunction(`(() => { const l = (${VIEWER}).annotationLayer; return l.lastMode === 'lod' && l.renderPending === 0; })()`);
      await page.waitForTimeout(100);
    };
    await rendered();
    expect(await alphaAt(206, 206)).toBeGreaterThan(0); // inside the first cell
    expect(await alphaAt(2600, 1700)).toBe(0);
    await key(page, 'r');
    await drag(page, [2500, 1600], [2800, 1900]);
    await rendered();
    expect(await alphaAt(2650, 1750)).toBeGreaterThan(0);
    await page.keyboard.press('Control+z');
    await rendered();
    expect(await alphaAt(2650, 1750)).toBe(0);
    // delete one cell: its tile is redrawn without it, its neighbours stay
    await key(page, 'v');
    await click(page, 206 + 30 * 10, 206 + 30 * 10);
    await key(page, 'Delete');
    await waitSaved(page);
    await rendered();
    expect(await alphaAt(506, 506)).toBe(0);
    expect(await alphaAt(536, 506)).toBeGreaterThan(0);
    expect((await call<{ total: number }>(srv.url, 'GET', `/api/slides/${slide}/annotations`)).body.total).toBe(1999);
  });

  it('a server killed mid-edit loses nothing acknowledged, and the outbox delivers the rest (DATA-11)', async () => {
    const first = await server();
    const port = new URL(first.srv.url).port;
    const { page } = await open(first.srv.url, first.slide);
    await key(page, 'k');
    for (let i = 0; i < 12; i++) await click(page, 300 + i * 150, 300);
    first.srv.proc.kill('SIGKILL');
    await waitExit(first.srv.proc);
    for (let i = 0; i < 8; i++) await click(page, 300 + i * 150, 600);
    await expect.poll(async () => (await syncState(page)).status, { timeout: 10_000 }).toMatch(/offline|retrying/);
    expect((await syncState(page)).queued).toBeGreaterThan(0);
    const drawn = (await storeRecords(page)).map((r) => r.id);
    expect(drawn).toHaveLength(20);
    // restart on the same port and data
    const again = await startTestServer(VIEWER_SLIDES, { PORT: port, DATA_DIR: first.srv.dataDir });
    servers.push(again);
    await page.evaluate(`(${VIEWER}).annotationSession.sync.retryNow()`);
    await waitSaved(page, 60_000);
    const list = await call<{ annotations: Array<{ id: string }> }>(again.url, 'GET', `/api/slides/${first.slide}/annotations`);
    expect(list.body.annotations.map((a) => a.id).sort()).toEqual([...drawn].sort());
  });

  it('offline edits queue with a visible count and sync once online, without duplicates (DATA-02)', async () => {
    const { srv, slide } = await server();
    const { page, context } = await open(srv.url, slide);
    await context.setOffline(true);
    await key(page, 'k');
    for (let i = 0; i < 20; i++) await click(page, 300 + (i % 10) * 200, 400 + Math.floor(i / 10) * 200);
    await expect.poll(() => page.locator('[data-testid=sync-status]').textContent(), { timeout: 10_000 }).toBe('Offline — 20 changes queued');
    await context.setOffline(false);
    await waitSaved(page, 30_000);
    const list = await call<{ annotations: Array<{ id: string }> }>(srv.url, 'GET', `/api/slides/${slide}/annotations`);
    expect(list.body.annotations).toHaveLength(20);
    expect(new Set(list.body.annotations.map((a) => a.id)).size).toBe(20);
  });

  it('a session that ends while drawing keeps every edit; signing in again in place sends them, nothing lost or doubled (SEC-07, SEC-08, DATA-05)', async () => {
    const { srv, slide } = await server();
    const { page, context } = await open(srv.url, slide);
    await key(page, 'k');
    await click(page, 300, 300);
    await waitSaved(page);
    // the session ends on the server, as an idle or absolute expiry or a sign-out elsewhere would end it
    expect((await asSession(srv.url, srv.session as Session, 'DELETE', '/api/auth/session')).status).toBe(200);
    for (let i = 1; i < 6; i++) await click(page, 300 + i * 200, 300);
    await expect.poll(() => page.evaluate(`(${VIEWER}).annotationSession.sync.snapshot.message`), { timeout: 10_000 }).toMatch(/session has ended/);
    expect((await storeRecords(page)).length).toBe(6);
    // the app asks to sign in again in place: no page load, the outbox sends once signed in
    await page.evaluate('window.__notReloaded = true');
    await page.locator('[data-testid=reauth-username]').waitFor({ state: 'visible', timeout: 10_000 });
    await page.fill('[data-testid=reauth-username]', 'admin');
    await page.fill('[data-testid=reauth-password]', 'not the password');
    await page.click('[data-testid=reauth-submit]');
    await expect.poll(() => page.locator('wsi-reauth-dialog .problem').textContent()).toMatch(/wrong/);
    await page.fill('[data-testid=reauth-password]', TEST_PASSWORD);
    await page.click('[data-testid=reauth-submit]');
    await page.locator('[data-testid=reauth-username]').waitFor({ state: 'hidden' });
    await waitSaved(page, 30_000);
    expect(await page.evaluate('window.__notReloaded')).toBe(true);
    // the new session's cookie replaced the one that ended
    expect((await context.cookies(srv.url)).some((c) => c.name === 'wsi_session' && c.value !== (srv.session as Session).sessionId)).toBe(true);
    const list = await call<{ annotations: Array<{ id: string }> }>(srv.url, 'GET', `/api/slides/${slide}/annotations`);
    expect(new Set(list.body.annotations.map((a) => a.id)).size).toBe(6);
    expect(list.body.annotations).toHaveLength(6);
  });

  it('a tab closed before anything reached the server restores its edits from the outbox on reopen (DATA-01)', async () => {
    const { srv, slide } = await server();
    const { page, context } = await open(srv.url, slide);
    await page.route('**/annotations/batch', (r) => r.abort());
    await key(page, 'k');
    for (let i = 0; i < 20; i++) await click(page, 300 + (i % 10) * 200, 400 + Math.floor(i / 10) * 200);
    await page.waitForFunction(`(() => { const q = (${VIEWER}).annotationSession.sync.pending; return q.length === 20 && q.every((e) => e.seq !== undefined); })()`);
    await page.close({ runBeforeUnload: false });
    expect((await call<{ total: number }>(srv.url, 'GET', `/api/slides/${slide}/annotations`)).body.total).toBe(0);
    const { page: again } = await open(srv.url, slide, context);
    await waitSaved(again);
    expect((await storeRecords(again)).length).toBe(20);
    expect((await call<{ total: number }>(srv.url, 'GET', `/api/slides/${slide}/annotations`)).body.total).toBe(20);
  });

  it.each([
    ['with Web Locks', false],
    ['over plain HTTP (no Web Locks: a BroadcastChannel roll call)', true],
  ])('two tabs on one slide send only their own edits; a closed tab\'s unsent edits are adopted once (DATA-19), %s', async (_, noLocks) => {
    const { srv, slide } = await server();
    const total = async (): Promise<number> => (await call<{ total: number }>(srv.url, 'GET', `/api/slides/${slide}/annotations`)).body.total;
    const stored = (n: number): string => `(() => { const q = (${VIEWER}).annotationSession.sync.pending; return q.length === ${n} && q.every((e) => e.seq !== undefined); })()`;
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    contexts.push(context);
    // Web Locks exist only in secure contexts; a LAN address over HTTP has none
    if (noLocks) await context.addInitScript('Object.defineProperty(Navigator.prototype, "locks", { get: () => undefined })');
    const { page: a } = await open(srv.url, slide, context);
    expect(await a.evaluate('Boolean(navigator.locks)')).toBe(!noLocks);
    await a.route('**/annotations/batch', (r) => r.abort());
    await key(a, 'k');
    for (let i = 0; i < 3; i++) await click(a, 300 + i * 200, 400);
    await a.waitForFunction(stored(3));
    // a second tab opens the slide while the first still holds its unsent edits: they stay with the first
    const { page: b } = await open(srv.url, slide, context);
    await waitSaved(b);
    expect(await b.evaluate(`(${VIEWER}).annotationSession.sync.pending.length`)).toBe(0);
    expect((await storeRecords(b)).length).toBe(0);
    await key(b, 'k');
    await click(b, 300, 800);
    await waitSaved(b);
    await a.unroute('**/annotations/batch');
    await a.evaluate(`(${VIEWER}).annotationSession.sync.retryNow()`);
    await waitSaved(a);
    expect(await total()).toBe(4);
    // the first tab draws once more offline and is closed: the next tab to open the slide sends it, once
    await a.route('**/annotations/batch', (r) => r.abort());
    await click(a, 300, 1000);
    await a.waitForFunction(stored(1));
    await a.close({ runBeforeUnload: false });
    const { page: c } = await open(srv.url, slide, context);
    await waitSaved(c);
    expect(await total()).toBe(5);
    expect((await storeRecords(c)).length).toBe(5);
    await b.evaluate(`(${VIEWER}).annotationSession.sync.retryNow()`);
    await waitSaved(b);
    expect(await total()).toBe(5);
  });

  it('warns before unloading while edits are unsent', async () => {
    const { srv, slide } = await server();
    const { page } = await open(srv.url, slide);
    await page.route('**/annotations/batch', (r) => r.abort());
    await key(page, 'k');
    await click(page, 500, 500);
    let dialog = '';
    page.on('dialog', (d) => {
      dialog = d.type();
      void d.dismiss();
    });
    await page.close({ runBeforeUnload: true });
    await expect.poll(() => dialog).toBe('beforeunload');
  });

  it('a stale write shows the conflict, keeps the local edit, and keeping mine saves it (DATA-06)', async () => {
    const { srv, slide } = await server();
    const { page } = await open(srv.url, slide);
    await key(page, 'r');
    await drag(page, [600, 600], [900, 900]);
    await waitSaved(page);
    const [rec] = await storeRecords(page);
    // someone else renames it
    const other = await call(srv.url, 'PATCH', `/api/slides/${slide}/annotations/${rec?.id as string}`, { body: { name: 'theirs' }, ifMatch: 1 });
    expect(other.status).toBe(200);
    await key(page, 'v');
    await click(page, 750, 750);
    await page.locator('wsi-annotation-panel #name').fill('mine');
    await page.locator('wsi-annotation-panel #name').press('Enter');
    await page.locator('wsi-annotation-panel #name').blur();
    await expect.poll(() => page.locator('[data-testid=conflict]').isVisible()).toBe(true);
    expect(await page.locator('[data-testid=conflict-theirs]').textContent()).toContain('"theirs"');
    expect((await storeRecords(page))[0]?.name).toBe('mine');
    await page.locator('[data-testid=keep-mine]').click();
    await waitSaved(page);
    const now = await call<{ name: string }>(srv.url, 'GET', `/api/slides/${slide}/annotations/${rec?.id as string}`);
    expect(now.body.name).toBe('mine');
    const hist = await call<{ history: Array<{ annotation: { name: string | null } }> }>(srv.url, 'GET', `/api/slides/${slide}/annotations/${rec?.id as string}/history`);
    expect(hist.body.history.map((h) => h.annotation.name)).toEqual([null, 'theirs', 'mine']);
  });

  it('a conflict left behind on another slide is taken over by the next tab that opens the slide, and shown there (DATA-19, DATA-06)', async () => {
    const { srv, slide } = await server();
    const { body } = await getJson<{ slides: Array<{ id: string; name: string; status: string }> }>(`${srv.url}/api/slides`);
    const elsewhere = body.slides.find((s) => s.id !== slide && s.status === 'ok')?.id as string;
    const { page: a, context } = await open(srv.url, slide);
    await key(a, 'r');
    await drag(a, [600, 600], [900, 900]);
    await waitSaved(a);
    const [rec] = await storeRecords(a);
    expect((await call(srv.url, 'PATCH', `/api/slides/${slide}/annotations/${rec?.id as string}`, { body: { name: 'theirs' }, ifMatch: 1 })).status).toBe(200);
    await key(a, 'v');
    await click(a, 750, 750);
    await a.locator('wsi-annotation-panel #name').fill('mine');
    await a.locator('wsi-annotation-panel #name').press('Enter');
    await a.locator('wsi-annotation-panel #name').blur();
    await expect.poll(() => a.locator('[data-testid=conflict]').isVisible()).toBe(true);
    // the user goes to another slide in that tab, and opens this one in a second tab
    await a.evaluate((id) => (location.hash = `#slide=${id}`), elsewhere);
    await waitAnnotationsLoaded(a);
    const { page: b } = await open(srv.url, slide, context);
    await expect.poll(() => b.locator('[data-testid=conflict]').isVisible(), { timeout: 15_000 }).toBe(true);
    expect((await storeRecords(b))[0]?.name).toBe('mine');
    await b.locator('[data-testid=keep-mine]').click();
    await waitSaved(b);
    expect((await call<{ name: string }>(srv.url, 'GET', `/api/slides/${slide}/annotations/${rec?.id as string}`)).body.name).toBe('mine');
  });

  it('a half-drawn shape or a typed name survives another tool, a hidden tab, a click elsewhere and another slide (DATA-15)', async () => {
    const { srv, slide } = await server();
    const { body } = await getJson<{ slides: Array<{ id: string; name: string; status: string }> }>(`${srv.url}/api/slides`);
    const other = body.slides.find((s) => s.id !== slide && s.status === 'ok')?.id as string;
    const { page } = await open(srv.url, slide);
    const triangle = async (x: number): Promise<void> => {
      await key(page, 'p');
      for (const [dx, dy] of [[0, 400], [300, 400], [150, 700]] as const) await click(page, x + dx, dy);
    };
    await triangle(300);
    await key(page, 'r'); // another tool
    await triangle(900);
    await page.evaluate(() => {
      Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
      document.dispatchEvent(new Event('visibilitychange'));
      Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true });
    });
    await waitSaved(page);
    expect((await storeRecords(page)).map((r) => r.kind)).toEqual(['polygon', 'polygon']);
    // a name typed but not confirmed, then a click on empty slide
    await key(page, 'v');
    await click(page, 450, 500);
    await page.locator('wsi-annotation-panel #name').fill('typed');
    await click(page, 2000, 1500);
    await waitSaved(page);
    expect((await storeRecords(page)).map((r) => r.name)).toContain('typed');
    // a shape in progress when the user opens another slide
    await triangle(1500);
    await page.evaluate((id) => (location.hash = `#slide=${id}`), other);
    await expect
      .poll(async () => (await call<{ total: number }>(srv.url, 'GET', `/api/slides/${slide}/annotations`)).body.total, { timeout: 15_000 })
      .toBe(3);
    const names = (await call<{ annotations: Array<{ name: string | null }> }>(srv.url, 'GET', `/api/slides/${slide}/annotations`)).body.annotations.map((a) => a.name);
    expect(names).toContain('typed');
  });

  it('deleted objects stay deleted after a reload (DATA-16)', async () => {
    const { srv, slide } = await server();
    for (let i = 0; i < 10; i++) {
      await call(srv.url, 'POST', `/api/slides/${slide}/annotations`, {
        body: { id: randomUUID(), kind: 'point', geometry: { type: 'Point', coordinates: [400 + i * 200, 1000] }, classification: 'Other' },
      });
    }
    const { page } = await open(srv.url, slide);
    expect((await storeRecords(page)).length).toBe(10);
    await key(page, 'v');
    await click(page, 400, 1000);
    for (let i = 1; i < 10; i++) await click(page, 400 + i * 200, 1000, { modifiers: ['Shift'] });
    await key(page, 'Delete');
    await waitSaved(page);
    await page.reload();
    await waitAnnotationsLoaded(page);
    expect(await storeRecords(page)).toHaveLength(0);
    expect((await call<{ total: number }>(srv.url, 'GET', `/api/slides/${slide}/annotations`)).body.total).toBe(0);
  });
});
