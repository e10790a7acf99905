/**
 * The disagreement map in the viewer (issue 14): two readers paint the
 * same region through the mask API — they agree on one tile and disagree
 * on the next —, a manager opens the slide, switches the Disagreement
 * layer on in the panel's Display section, and the map is drawn where they
 * disagree and nowhere else, at 40× and at 1×. An annotator gets no such
 * layer (the routes need the review action).
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { browserCookies } from '../../scripts/credentials.js';
import { asSession, createUser, signIn, signInBrowser, type Session } from '../helpers/accounts.js';
import { CHROMIUM, HAS_CHROMIUM, launchChromium } from '../helpers/browser.js';
import { b64, tile, zlib } from '../helpers/masks.js';
import { VIEWER_SLIDES } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';
import { VIEWER, imageToPage, viewAt, waitAnnotationsLoaded } from '../helpers/viewer-page.js';

let browser: Browser;
let srv: TestServer;
let slide = '';
let bea: Session;
const contexts: BrowserContext[] = [];
const T = 512;

if (!HAS_CHROMIUM) process.stdout.write(`[browser] SKIP: no Chromium at ${CHROMIUM}\n`);

beforeAll(async () => {
  if (!HAS_CHROMIUM) return;
  browser = await launchChromium();
  srv = await startTestServer(VIEWER_SLIDES, {});
  const { body } = await getJson<{ slides: Array<{ id: string; name: string; width: number; height: number }> }>(`${srv.url}/api/slides`);
  const s = body.slides.find((x) => x.name === 'aperio-jpeg-256-x2.svs');
  slide = s?.id ?? '';
  const W = s?.width ?? 0;
  const H = s?.height ?? 0;
  expect(W).toBeGreaterThan(2 * T);
  const admin = srv.session as Session;
  const beaUser = await createUser(srv.url, admin, 'bea');
  const projects = (await asSession(srv.url, admin, 'GET', '/api/projects')).body['projects'] as Array<{ id: string }>;
  expect((await asSession(srv.url, admin, 'PUT', `/api/projects/${projects[0]?.id}/members/${beaUser.id}`, { role: 'annotator' }, { 'Idempotency-Key': crypto.randomUUID() })).status).toBe(200);
  bea = await signIn(srv.url, 'bea');
  const paint = async (who: Session, user: string, classes: [number, number]): Promise<void> => {
    const ops = classes.map((c, tx) => ({ tx, ty: 0, ifMatch: 0, data: b64(zlib(tile((x, y) => (tx * T + x < W && y < H ? c : 0)))) }));
    const r = await asSession(srv.url, who, 'POST', `/api/slides/${slide}/masks/${user}/tiles`, { ops }, { 'Idempotency-Key': crypto.randomUUID() });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
  };
  // tile (0, 0): both say class 1; tile (1, 0): 1 against 2
  await paint(admin, srv.admin?.id ?? '', [1, 1]);
  await paint(bea, beaUser.id, [1, 2]);
});

afterEach(async () => {
  for (const c of contexts.splice(0)) await c.close();
});

afterAll(async () => {
  await browser?.close();
  await srv?.stop();
});

async function open(session?: Session): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  contexts.push(ctx);
  if (session) await ctx.addCookies(browserCookies(srv.url, session));
  else await signInBrowser(ctx, srv);
  const page = await ctx.newPage();
  page.on('pageerror', (e) => process.stdout.write(`[browser] page error: ${e.message}\n`));
  await page.goto(`${srv.url}/?drawer=canvas#slide=${slide}`);
  await waitAnnotationsLoaded(page);
  await page.waitForFunction(`(${VIEWER}).annotationSession.mask?.loaded === true`);
  return page;
}

/** Alpha of the disagreement canvas at an image point. */
async function mapAlpha(page: Page, x: number, y: number): Promise<number> {
  const p = await imageToPage(page, x, y);
  return page.evaluate(`(() => {
    const c = (${VIEWER}).shadowRoot.querySelector('[data-testid=disagreement-canvas]');
    const r = c.getBoundingClientRect();
    return c.getContext('2d').getImageData(Math.round((${p.x} - r.left) * devicePixelRatio), Math.round((${p.y} - r.top) * devicePixelRatio), 1, 1).data[3];
  })()`);
}

describe.skipIf(!HAS_CHROMIUM)('the disagreement map in the viewer', () => {
  it('a manager switches it on: drawn where the readers disagree, at full resolution and zoomed out 40-fold, and nowhere else', async () => {
    const page = await open();
    await viewAt(page, 512, 256, 1);
    const toggle = page.locator('[data-testid=disagreement-visible]');
    await toggle.check();
    await expect.poll(() => page.locator('[data-testid=disagreement-status]').textContent()).toMatch(/2 readers/);
    // half of two readers disagree over tile (1, 0): the most there can be, drawn opaque (× the layer's 0.8)
    await expect.poll(() => mapAlpha(page, 768, 256), { timeout: 20_000 }).toBeGreaterThan(150);
    expect(await mapAlpha(page, 256, 256)).toBe(0);
    await viewAt(page, 700, 300, 0.025);
    await expect.poll(() => mapAlpha(page, 900, 256), { timeout: 20_000 }).toBeGreaterThan(150);
    expect(await mapAlpha(page, 200, 256)).toBe(0);
    await toggle.uncheck();
    await expect.poll(() => mapAlpha(page, 900, 256)).toBe(0);
  });

  it('is not offered to an annotator', async () => {
    const page = await open(bea);
    await page.locator('[data-testid=mask-opacity]').waitFor();
    expect(await page.locator('[data-testid=disagreement-visible]').count()).toBe(0);
  });
});
