/**
 * Painting in Chromium: brush strokes at 40×, the eraser, filling an ROI,
 * the painted picture at 1×, undo and redo, the tools switched off below
 * 10×, "inside ROIs only", a reload that restores the mask byte for byte
 * (compared with the server's tiles too), a session that expires in
 * the middle of painting: signing in again in place loses no stroke
 * (SEC-07, SEC-08, DATA-05), and the files one stroke crosses from the
 * pointer to the stored tile, measured from its stacks (issue 9: at most
 * 20, and the README's walk names them; tests/helpers/stroke-trace.ts).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { asSession, signIn, TEST_PASSWORD, type Session } from '../helpers/accounts.js';
import { CHROMIUM, HAS_CHROMIUM } from '../helpers/browser.js';
import { parsePack } from '../helpers/masks.js';
import { getJson, type TestServer } from '../helpers/server.js';
import { filesOfNodeStack, readmeStrokeWalk, strokeTraceEnv, traceStroke, unionInOrder, type Capture, type StrokeTrace } from '../helpers/stroke-trace.js';
import { VIEWER, clientMaskTiles, closeContexts, dragPath, imageToPage, openViewer, startViewerRig, stopViewerRig, viewAt, waitAnnotationsLoaded, waitMaskSaved, waitSaved, type ViewerRig } from '../helpers/viewer-page.js';

let rig: ViewerRig;
let srv: TestServer;
let slide = '';
const T = 512;
const traceDir = mkdtempSync(join(tmpdir(), 'wsi-stroke-trace-'));
const traceFile = join(traceDir, 'server-stacks.jsonl');

if (!HAS_CHROMIUM) process.stdout.write(`[browser] SKIP: no Chromium at ${CHROMIUM}\n`);

beforeAll(async () => {
  if (!HAS_CHROMIUM) return;
  // the stroke-trace hook only records stacks (tests/helpers/stroke-trace-preload.mjs)
  rig = await startViewerRig(strokeTraceEnv(traceFile));
  srv = rig.srv;
  slide = rig.slides.get('aperio-jpeg-256-x2.svs')?.id ?? '';
});

afterEach(() => closeContexts(rig));
afterAll(async () => {
  await stopViewerRig(rig);
  rmSync(traceDir, { recursive: true, force: true });
});

/** Opens the slide signed in as the test server's admin (or with `session`, a session of the admin's own). */
const open = (context?: BrowserContext, session?: Session, beforeLoad?: (page: Page) => Promise<void>): Promise<Page> =>
  openViewer(rig, slide, { ...(context ? { context } : {}), ...(session ? { session } : {}), ...(beforeLoad ? { beforeLoad } : {}) });

async function key(page: Page, k: string): Promise<void> {
  await page.locator('wsi-viewer').press(k);
}

const view = viewAt;
const drag = dragPath;
const maskSaved = waitMaskSaved;

const clientTiles = clientMaskTiles;

async function serverTiles(): Promise<Map<string, Buffer>> {
  const res = await fetch(`${srv.url}/api/slides/${slide}/masks/${srv.admin?.id ?? ''}/tiles`);
  return new Map(parsePack(Buffer.from(await res.arrayBuffer())).map((t) => [`${t.tx},${t.ty}`, inflateSync(t.data)]));
}

/** Alpha of the mask canvas at an image point. */
async function maskAlpha(page: Page, x: number, y: number): Promise<number> {
  const p = await imageToPage(page, x, y);
  return page.evaluate(`(() => {
    const c = (${VIEWER}).shadowRoot.querySelector('[data-testid=mask-canvas]');
    const r = c.getBoundingClientRect();
    return c.getContext('2d').getImageData(Math.round((${p.x} - r.left) * devicePixelRatio), Math.round((${p.y} - r.top) * devicePixelRatio), 1, 1).data[3];
  })()`);
}

function valueAt(tiles: Map<string, Buffer>, x: number, y: number): number {
  const t = tiles.get(`${Math.floor(x / T)},${Math.floor(y / T)}`);
  return t ? (t[(y % T) * T + (x % T)] as number) : 0;
}

/**
 * The files the traced stroke crossed (tests/helpers/stroke-trace.ts says
 * how they are measured): at most 20, and exactly the README's walk.
 */
async function checkStrokeTrace(trace: StrokeTrace | undefined): Promise<void> {
  if (!trace) throw new Error('the page was opened without its stroke trace');
  await trace.close();
  const stored = readFileSync(traceFile, 'utf8').split('\n').filter(Boolean);
  expect(stored.length).toBeGreaterThan(0);
  const captures: Capture[] = [...trace.captures(), { where: 'server: tile stored', files: filesOfNodeStack(JSON.parse(stored[0] as string) as string) }];
  const files = unionInOrder(captures);
  process.stdout.write(`[stroke trace] ${files.length} files:\n${captures.map((c) => `  ${c.where}: ${c.files.join(' → ')}`).join('\n')}\n`);
  // every hand-over was seen, each with project code on its stack
  expect(captures.map((c) => c.where).sort()).toEqual(
    ['page → server: POST tiles', 'page → worker: compress', 'page → worker: paint', 'page: outbox add', 'server: tile stored', 'worker: rasterizer → tile set', 'worker: tile compressed', 'worker: tile encoded'].sort(),
  );
  for (const c of captures) expect(c.files.length, c.where).toBeGreaterThan(0);
  expect(files[0]).toBe('src/viewer/tool-host.ts');
  expect(captures.at(-1)?.files.at(-1)).toBe('tiles-server/store/mask-store.ts');
  expect(files.length).toBeLessThanOrEqual(20);
  expect(readmeStrokeWalk()).toEqual(files);
}

describe.skipIf(!HAS_CHROMIUM)('painting in the browser', () => {
  it('paints at 40×, erases, fills an ROI, shows it at 1×, undoes and redoes, and a reload restores it byte for byte; the first stroke crosses at most 20 files from the pointer to the stored tile, those the README walk names (issue 9)', async () => {
    let trace: StrokeTrace | undefined;
    const page = await open(undefined, undefined, async (p) => {
      trace = await traceStroke(p);
    });
    // below 10× the brush is off and says why
    await view(page, 1500, 1000, 0.1);
    await key(page, 'b');
    await drag(page, [[1400, 1000], [1600, 1000]]);
    await expect.poll(() => page.locator('wsi-mask-panel [data-testid=paint-disabled]').textContent()).toMatch(/from 10×.*zoom in/);
    expect(await page.evaluate(`(${VIEWER}).annotationSession.mask.store.size`)).toBe(0);

    // 40×: two strokes of Tumour (t), one crossing a tile border
    await view(page, 1000, 800, 1);
    await key(page, 't');
    writeFileSync(traceFile, '');
    await trace?.arm();
    await drag(page, [[700, 700], [1100, 720], [1300, 900]]);
    // the traced stroke stored, then the trace closed: its breakpoints pause the page and the worker, and
    // Chromium drops mouse input while a page is paused, so no other stroke is drawn while it is armed
    await maskSaved(page);
    await checkStrokeTrace(trace);
    await drag(page, [[800, 950], [800, 600]]);
    await expect.poll(async () => valueAt(await clientTiles(page), 800, 800)).toBeGreaterThan(0);
    await maskSaved(page);
    let tiles = await clientTiles(page);
    const tumour = valueAt(tiles, 900, 712);
    expect(tumour).toBeGreaterThan(0);
    expect(valueAt(tiles, 800, 800)).toBe(tumour);
    expect(valueAt(tiles, 1000, 400)).toBe(0);
    // the eraser clears part of the first stroke
    await key(page, 'B');
    await drag(page, [[1050, 650], [1050, 800]]);
    await expect.poll(async () => valueAt(await clientTiles(page), 1050, 716)).toBe(0);
    await maskSaved(page);
    tiles = await clientTiles(page);
    expect(valueAt(tiles, 1050, 716)).toBe(0);
    expect(valueAt(tiles, 900, 712)).toBe(tumour);

    // an ROI (rectangle) filled with Stroma (s): select it, G
    await key(page, 'r');
    await drag(page, [[1150, 420], [1350, 570]]);
    await waitSaved(page);
    await key(page, 'v');
    await key(page, 's'); // the class to paint (nothing is selected yet)
    const inRoi = await imageToPage(page, 1250, 495);
    await page.mouse.click(inRoi.x, inRoi.y);
    await key(page, 'G');
    await maskSaved(page);
    tiles = await clientTiles(page);
    const stroma = valueAt(tiles, 1250, 495);
    expect(stroma).toBeGreaterThan(0);
    expect(stroma).not.toBe(tumour);
    expect(valueAt(tiles, 1149, 495)).toBe(0);

    // the client and the server hold the same bytes
    const server = await serverTiles();
    expect([...server.keys()].sort()).toEqual([...tiles.keys()].sort());
    for (const [k, b] of tiles) expect(Buffer.compare(b, server.get(k) as Buffer)).toBe(0);

    // at 1× the painted areas are visible
    await view(page, 1500, 1000, 1 / 40);
    await expect.poll(() => maskAlpha(page, 1250, 495), { timeout: 10_000 }).toBeGreaterThan(0);
    await expect.poll(() => maskAlpha(page, 900, 712), { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await maskAlpha(page, 2500, 1800)).toBe(0);

    // one history for both: undo the fill, the ROI and the eraser; then redo them
    for (let i = 0; i < 3; i++) await page.keyboard.press('Control+z');
    await maskSaved(page);
    await waitSaved(page);
    tiles = await clientTiles(page);
    expect(valueAt(tiles, 1250, 495)).toBe(0);
    expect(valueAt(tiles, 1050, 716)).toBe(tumour);
    expect(await page.evaluate(`(${VIEWER}).annotationSession.store.size`)).toBe(0);
    for (let i = 0; i < 3; i++) await page.keyboard.press('Control+Shift+z');
    await maskSaved(page);
    await waitSaved(page);
    expect(await page.evaluate(`(${VIEWER}).annotationSession.store.size`)).toBe(1);
    const before = await clientTiles(page);
    expect(valueAt(before, 1250, 495)).toBe(stroma);
    expect(valueAt(before, 1050, 716)).toBe(0);

    // a reload restores the mask byte for byte
    await page.reload();
    await waitAnnotationsLoaded(page);
    await page.waitForFunction(`(${VIEWER}).annotationSession.mask?.loaded === true`);
    const after = await clientTiles(page);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [k, b] of before) expect(Buffer.compare(b, after.get(k) as Buffer)).toBe(0);
    const server2 = await serverTiles();
    for (const [k, b] of before) expect(Buffer.compare(b, server2.get(k) as Buffer)).toBe(0);
  });

  it('"inside ROIs only" clips strokes to the regions under them', async () => {
    const page = await open();
    await view(page, 2300, 1500, 1);
    await key(page, 'e');
    await drag(page, [[2200, 1400], [2400, 1600]]);
    await waitSaved(page);
    await key(page, 'i');
    await key(page, 'b');
    await key(page, 'l');
    await drag(page, [[2000, 1500], [2600, 1500]]);
    await maskSaved(page);
    const tiles = await clientTiles(page);
    const lymph = valueAt(tiles, 2300, 1500);
    expect(lymph).toBeGreaterThan(0);
    expect(valueAt(tiles, 2100, 1500)).toBe(0); // outside the ellipse
    expect(valueAt(tiles, 2500, 1500)).toBe(0);
    // with no ROI under it, the stroke is refused with a reason
    await drag(page, [[2000, 1200], [2100, 1200]]);
    await expect.poll(() => page.locator('wsi-mask-panel [data-testid=paint-message]').textContent()).toMatch(/No region of interest/);
    // every ROI painted into the mask on the server with its own class, and read back
    const classes = (await getJson<{ classes: Array<{ name: string; id: number }> }>(`${srv.url}/api/classes`)).body.classes;
    // (after a confirmation; the painted stroke is left alone, the rest of the ellipse gets its class)
    await page.locator('wsi-mask-panel [data-testid=paint-all-rois]').click();
    await page.locator('wsi-mask-panel [data-testid=roi-go]').click();
    await expect.poll(() => page.locator('wsi-mask-panel [data-testid=paint-message]').textContent()).toMatch(/Painted [1-9]\d* region/);
    const after = await clientTiles(page);
    expect(valueAt(after, 2300, 1500)).toBe(lymph);
    expect(valueAt(after, 2300, 1570)).toBe(classes.find((c) => c.name === 'Tumour')?.id);
    const server = await serverTiles();
    for (const [k, b] of after) expect(Buffer.compare(b, server.get(k) as Buffer)).toBe(0);
  });

  it('a session that expires in the middle of painting loses nothing: after signing in again in place the server holds every stroke, byte for byte (SEC-07, SEC-08, DATA-05)', async () => {
    // a session of its own, so ending it leaves the other tests' session alone
    const session = await signIn(srv.url, srv.admin?.username ?? 'admin');
    const page = await open(undefined, session);
    await view(page, 800, 1600, 1);
    await key(page, 'b'); // the brush
    await key(page, 'n'); // Necrosis
    await drag(page, [[500, 1500], [900, 1550]]);
    await maskSaved(page);
    const necrosis = valueAt(await clientTiles(page), 700, 1525);
    expect(necrosis).toBeGreaterThan(0);
    // the session ends on the server mid-work (as an idle or absolute expiry, or a sign-out elsewhere, would end it)
    expect((await asSession(srv.url, session, 'DELETE', '/api/auth/session')).status).toBe(200);
    await page.evaluate('window.__notReloaded = true');
    await drag(page, [[500, 1700], [1000, 1750]]);
    await key(page, 'B'); // the eraser, across the first stroke
    await drag(page, [[700, 1450], [700, 1600]]);
    await key(page, 'b');
    await drag(page, [[1050, 1400], [1100, 1850]]);
    await page.evaluate(`(${VIEWER}).annotationSession.mask.idle()`);
    await expect.poll(() => page.evaluate(`(${VIEWER}).annotationSession.mask.sync.snapshot.message`), { timeout: 10_000 }).toMatch(/session has ended/);
    const painted = await clientTiles(page);
    expect(valueAt(painted, 750, 1725)).toBe(necrosis);
    expect(valueAt(painted, 700, 1525)).toBe(0);
    expect(valueAt(painted, 1075, 1625)).toBe(necrosis);
    // nothing after the expiry reached the server yet
    const early = await serverTiles();
    expect(valueAt(early, 750, 1725)).toBe(0);
    expect(valueAt(early, 700, 1525)).toBe(necrosis);
    // the app asks to sign in again in place (no page load); the outbox then sends every stroke
    await page.locator('[data-testid=reauth-username]').waitFor({ state: 'visible', timeout: 10_000 });
    await page.fill('[data-testid=reauth-username]', srv.admin?.username ?? 'admin');
    await page.fill('[data-testid=reauth-password]', TEST_PASSWORD);
    await page.click('[data-testid=reauth-submit]');
    await page.locator('[data-testid=reauth-username]').waitFor({ state: 'hidden' });
    await maskSaved(page);
    expect(await page.evaluate('window.__notReloaded')).toBe(true);
    const client = await clientTiles(page);
    const server = await serverTiles();
    expect([...server.keys()].sort()).toEqual([...client.keys()].sort());
    for (const [k, b] of client) expect(Buffer.compare(b, server.get(k) as Buffer), k).toBe(0);
    // and the server's pixel counts are the client's
    const counts = new Map<number, number>();
    for (const b of client.values()) for (const v of b) if (v) counts.set(v, (counts.get(v) ?? 0) + 1);
    const summary = (await getJson<{ pixels: Record<string, number> }>(`${srv.url}/api/slides/${slide}/masks/${srv.admin?.id ?? ''}/summary`)).body.pixels;
    expect(Object.fromEntries([...counts].map(([id, n]) => [String(id), n]))).toEqual(summary);
    expect(counts.get(necrosis) ?? 0).toBeGreaterThan(0);
  });
});
