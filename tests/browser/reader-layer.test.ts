/**
 * Another reader's layer (issue 11, Layers: "the same controls apply to
 * another reader's layer, read-only, for side-by-side comparison"), in
 * Chromium, in a blind project with a reading of two readers, Ann (A) and
 * Bob (B). The server's rule decides who may be compared with (AGR-06: a
 * blind reader sees others' work once they have submitted the reading):
 * before B submits — even after A has — B's viewer offers no other reader
 * and the server refuses B A's mask; after B submits, B picks A in the
 * Layers table, and A's objects and painted mask appear beside B's own
 * with the row's eye and opacity. A's layer is read-only: a click does not
 * pick A's object, an edit of it is refused with the reason (nothing
 * reaches the server), A's mask session refuses every stroke, and B's
 * brush paints B's own mask only. With SCREENSHOTS=1 the panel at
 * 1366×768 with a reader chosen goes to docs/.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anonymous, asSession, createUser, sessionHeaders, signIn, signInBrowser, type Session } from '../helpers/accounts.js';
import { square } from '../helpers/annotations.js';
import { CHROMIUM, HAS_CHROMIUM, launchChromium } from '../helpers/browser.js';
import { b64, parsePack, tile, zlib } from '../helpers/masks.js';
import { VIEWER_SLIDES } from '../helpers/paths.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { VIEWER, imageToPage, storeRecords, viewAt, waitAnnotationsLoaded } from '../helpers/viewer-page.js';

let browser: Browser;
let srv: TestServer;
const LAYERS = 'wsi-annotation-panel wsi-layers-table';

if (!HAS_CHROMIUM) process.stdout.write(`[browser] SKIP: no Chromium at ${CHROMIUM}\n`);

beforeAll(async () => {
  if (!HAS_CHROMIUM) return;
  browser = await launchChromium();
  srv = await startTestServer(VIEWER_SLIDES);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await srv?.stop();
});

/** The largest alpha of a canvas of the viewer (by test id) within 3 device px of an image point (an outline is 1.5 px wide). */
async function alphaAt(page: Page, testId: string, x: number, y: number): Promise<number> {
  const p = await imageToPage(page, x, y);
  return page.evaluate(`(() => {
    const c = (${VIEWER}).shadowRoot.querySelector('[data-testid=${testId}]');
    const r = c.getBoundingClientRect();
    const d = c.getContext('2d').getImageData(Math.round((${p.x} - r.left) * devicePixelRatio) - 3, Math.round((${p.y} - r.top) * devicePixelRatio) - 3, 7, 7).data;
    let a = 0;
    for (let i = 3; i < d.length; i += 4) a = Math.max(a, d[i]);
    return a;
  })()`);
}

/** The readers the Layers table offers (option values, the empty "none" left out). */
async function offered(page: Page): Promise<string[]> {
  await page.evaluate(`(${VIEWER}).shadowRoot.querySelector('wsi-annotation-panel').shadowRoot.querySelector('wsi-layers-table').readReaders()`);
  return page.locator(`${LAYERS} [data-testid=reader-choose] option`).evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value).filter(Boolean));
}

describe.skipIf(!HAS_CHROMIUM)("another reader's layer (issue 11)", () => {
  it("AGR-06: in a blind project B is offered A's layer only once the reading is submitted, sees it with eye and opacity, and cannot pick, edit or paint it", async () => {
    const admin = srv.session as Session;
    const call = (who: Session, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> =>
      asSession(srv.url, who, method, path, body, method === 'GET' ? {} : { 'Idempotency-Key': crypto.randomUUID() });
    const blind = ((await call(admin, 'POST', '/api/projects', { name: 'Blind comparison', blind: true })).body['project'] as { id: string }).id;
    const folder = ((await call(admin, 'GET', '/api/admin/slides')).body['slides'] as Array<{ id: string; name: string }>).find((x) => x.name === 'aperio-jpeg-256-x2.svs')?.id;
    const ps = (await call(admin, 'POST', `/api/projects/${blind}/slides`, { slideId: folder, studyCode: 'CMP-001' })).body['id'] as string;
    const annId = (await createUser(srv.url, admin, 'ann')).id;
    const bobId = (await createUser(srv.url, admin, 'bob')).id;
    for (const who of [annId, bobId]) expect((await call(admin, 'PUT', `/api/projects/${blind}/members/${who}`, { role: 'annotator' })).status).toBe(200);
    const ann = await signIn(srv.url, 'ann');
    const bob = await signIn(srv.url, 'bob');
    const classes = (await call(admin, 'GET', `/api/projects/${blind}/classes`)).body['classes'] as Array<{ name: string; id: number }>;
    const tumourId = classes.find((c) => c.name === 'Tumour')?.id as number;
    // A: one object and a painted block (x 0–199, y 0–199 of tile 0,0); B: one object
    const hers = square(300, 300, 150, { classification: 'Tumour' });
    const his = square(700, 300, 150, { classification: 'Stroma' });
    expect((await call(ann, 'POST', `/api/slides/${ps}/annotations`, hers)).status).toBe(201);
    expect((await call(bob, 'POST', `/api/slides/${ps}/annotations`, his)).status).toBe(201);
    const painted = await call(ann, 'POST', `/api/slides/${ps}/masks/${annId}/tiles`, { ops: [{ tx: 0, ty: 0, ifMatch: 0, data: b64(zlib(tile((x, y) => (x < 200 && y < 200 ? tumourId : 0)))) }] });
    expect(painted.status, JSON.stringify(painted.body)).toBeLessThan(300);
    /** A reader's mask tiles as `who` reads them. */
    const pack = async (who: Session, annotator: string): Promise<{ status: number; tiles: Array<{ version: number }> }> => {
      const res = await anonymous(`${srv.url}/api/slides/${ps}/masks/${annotator}/tiles`, { headers: sessionHeaders(srv.url, who, {}) });
      const raw = Buffer.from(await res.arrayBuffer());
      return { status: res.status, tiles: res.status === 200 ? parsePack(raw) : [] };
    };
    const reading = (await call(admin, 'POST', `/api/projects/${blind}/readings`, { name: 'Comparison', slides: [ps], readers: [annId, bobId] })).body['id'] as string;

    const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    const page = await context.newPage();
    page.on('pageerror', (e) => process.stdout.write(`[browser] page error: ${e.message}\n`));
    await signInBrowser(page, { url: srv.url, session: bob });
    let opened = false;
    const openSlide = async (): Promise<void> => {
      // the same address again is a same-document navigation: reload to open the slide anew
      if (opened) await page.reload();
      else await page.goto(`${srv.url}/?drawer=canvas#slide=${ps}`);
      opened = true;
      await waitAnnotationsLoaded(page);
      await page.waitForFunction(`(${VIEWER}).annotationSession.mask?.loaded === true`, undefined, { timeout: 60_000 });
      const display = page.locator('wsi-annotation-panel [data-testid=section-display]');
      if ((await display.getAttribute('aria-expanded')) === 'false') await display.click();
      await page.locator(LAYERS).waitFor();
    };
    await openSlide();
    // nothing submitted: no other reader, none of A's objects, and the server refuses B A's mask
    expect(await offered(page)).toEqual([]);
    expect((await storeRecords(page)).map((r) => r.id)).toEqual([his['id']]);
    // A submits: B (who has not) still sees nothing of A's (the server's rule, AGR-06)
    expect((await call(ann, 'POST', `/api/projects/${blind}/readings/${reading}/submit`)).status).toBe(200);
    await openSlide();
    expect(await offered(page)).toEqual([]);
    expect((await storeRecords(page)).map((r) => r.id)).toEqual([his['id']]);
    expect((await pack(bob, annId)).status).toBe(404);

    // B submits: A's layer is offered
    expect((await call(bob, 'POST', `/api/projects/${blind}/readings/${reading}/submit`)).status).toBe(200);
    await openSlide();
    await expect.poll(() => offered(page), { timeout: 20_000 }).toEqual([annId]);
    await viewAt(page, 400, 300, 1);
    // before choosing: A's object is one's own layer as before (no reader chosen); now choose A
    await page.locator(`${LAYERS} [data-testid=reader-choose]`).selectOption(annId);
    await page.waitForFunction(`(${VIEWER}).readerMaskSession?.loaded === true`, undefined, { timeout: 30_000 });
    expect(await page.evaluate(`(${VIEWER}).annotationSession.compared.reader.id`)).toBe(annId);
    // A's mask is drawn (their painted block), B's own mask has nothing there
    await expect.poll(() => alphaAt(page, 'reader-mask-canvas', 100, 100), { timeout: 20_000 }).toBeGreaterThan(0);
    expect(await alphaAt(page, 'mask-canvas', 100, 100)).toBe(0);
    // A's object is drawn
    await expect.poll(() => alphaAt(page, 'annotation-canvas', 300, 375)).toBeGreaterThan(0);
    if (process.env['SCREENSHOTS'] === '1') {
      await page.locator(LAYERS).scrollIntoViewIfNeeded();
      await page.screenshot({ path: 'docs/panel-layers-reader-1366x768.png' });
    }

    // the eye hides both, the opacity scales them
    const full = await alphaAt(page, 'reader-mask-canvas', 100, 100);
    await page.locator(`${LAYERS} [data-testid=reader-opacity]`).fill('0.2');
    await expect.poll(() => alphaAt(page, 'reader-mask-canvas', 100, 100)).toBeLessThan(full);
    await page.locator(`${LAYERS} [data-testid=reader-visible]`).uncheck();
    await expect.poll(() => alphaAt(page, 'reader-mask-canvas', 100, 100)).toBe(0);
    await expect.poll(() => alphaAt(page, 'annotation-canvas', 300, 375)).toBe(0);
    await page.locator(`${LAYERS} [data-testid=reader-visible]`).check();
    await expect.poll(() => alphaAt(page, 'reader-mask-canvas', 100, 100)).toBeGreaterThan(0);
    // the lock column shows it read-only, and cannot be changed
    expect(await page.locator(`${LAYERS} [data-testid=reader-lock]`).isDisabled()).toBe(true);

    // never picked: the select tool's click on A's object selects nothing; on B's own it does
    await page.locator('wsi-viewer').focus();
    await page.locator('wsi-viewer').press('v');
    const onHers = await imageToPage(page, 375, 375);
    await page.mouse.click(onHers.x, onHers.y);
    expect(await page.evaluate(`(${VIEWER}).annotationSession.selection.list()`)).toEqual([]);
    expect(await page.evaluate(`(${VIEWER}).annotationLayer.hitTest(375, 375)`)).toBeNull();
    const onHis = await imageToPage(page, 775, 375);
    await page.mouse.click(onHis.x, onHis.y);
    await expect.poll(() => page.evaluate(`(${VIEWER}).annotationSession.selection.list()`)).toEqual([his['id']]);
    // never edited: an edit of A's object is refused with the reason, and the server keeps version 1
    const cs = (await page.evaluate(`(() => { const s = (${VIEWER}).annotationSession; return s.store.apply({ update: [{ id: ${JSON.stringify(hers['id'])}, changes: { classification: 'Stroma' } }] }, 'local'); })()`)) as { refused?: string; updated: unknown[] };
    expect(cs.refused).toMatch(/read-only/);
    expect(cs.updated).toEqual([]);
    const onServer = await call(admin, 'GET', `/api/slides/${ps}/annotations/${String(hers['id'])}`);
    expect(onServer.body['version']).toBe(1);
    expect(onServer.body['classification']).toBe('Tumour');
    // never painted: A's mask session refuses strokes
    expect(await page.evaluate(`(${VIEWER}).readerMaskSession.readOnly`)).toMatch(/read-only/);
    const stroke = (await page.evaluate(`(${VIEWER}).readerMaskSession.stroke(new Float64Array([10, 10, 60, 60]), 10, ${tumourId + 1}, null)`)) as { refused: string | null; pixels: number };
    expect(stroke.refused).toMatch(/read-only/);
    expect(stroke.pixels).toBe(0);
    // A's mask on the server is as A painted it (one version of its one tile)
    const after = await pack(ann, annId);
    expect([after.status, after.tiles.map((t) => t.version)]).toEqual([200, [1]]);

    // none: the reader's mask leaves, A's object is no longer in a layer of its own
    await page.locator(`${LAYERS} [data-testid=reader-choose]`).selectOption('');
    await expect.poll(() => page.evaluate(`(${VIEWER}).readerMaskLayer === null`)).toBe(true);
    expect(await page.locator('wsi-viewer').evaluate((v) => !!v.shadowRoot?.querySelector('[data-testid=reader-mask-canvas]'))).toBe(false);
    await context.close();
  });
});
