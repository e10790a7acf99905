/**
 * Issue 14's browser "Done when", whole: in a blind project two annotators
 * paint the same ROI (through the mask API: they agree on its left tile
 * and disagree on its right one); before they submit, one of them opens the
 * slide and sees nothing of the other's work (no objects, no mask, no map;
 * the other's tiles 404: AGR-06); they submit the reading and their painted
 * regions, and a reviewer accepts both regions (review transitions); the
 * reviewer opens the slide, switches the disagreement map on, clicks the
 * slide and reads who said what in the popover, selects the ROI, picks the
 * majority vote with ties going to the first reader, and accepts the
 * consensus with the panel's button. The reference mask then holds the
 * decision inside the ROI (and nothing outside it), the readers' masks are
 * unchanged, and the audit log has the review transitions (review.submit,
 * review.accept) and the consensus acceptance (consensus.accept), each by
 * the right person.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { browserCookies } from '../../scripts/credentials.js';
import { REFERENCE_ANNOTATOR } from '../../src/core/agreement/reference.js';
import { anonymous, asSession, createUser, sessionHeaders, signIn, type Session } from '../helpers/accounts.js';
import { square } from '../helpers/annotations.js';
import { CHROMIUM, HAS_CHROMIUM, launchChromium } from '../helpers/browser.js';
import { b64, inflate, parsePack, tile, zlib } from '../helpers/masks.js';
import { VIEWER_SLIDES } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';
import { VIEWER, imageToPage, viewAt, waitAnnotationsLoaded } from '../helpers/viewer-page.js';

let browser: Browser;
let srv: TestServer;
let ps = '';
let project = '';
let W = 0;
let H = 0;
let roi = '';
let roiY1 = 0;
const s: Record<string, Session> = {};
const id: Record<string, string> = {};
const contexts: BrowserContext[] = [];
const T = 512;

if (!HAS_CHROMIUM) process.stdout.write(`[browser] SKIP: no Chromium at ${CHROMIUM}\n`);

function call(who: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  return asSession(srv.url, who === 'admin' ? (srv.session as Session) : (s[who] as Session), method, path, body, method === 'GET' ? {} : { 'Idempotency-Key': crypto.randomUUID() });
}

async function packOf(annotator: string): Promise<Array<{ tx: number; ty: number; px: Uint8Array }>> {
  const res = await anonymous(`${srv.url}/api/slides/${ps}/masks/${encodeURIComponent(annotator)}/tiles`, { headers: sessionHeaders(srv.url, s['rita'] as Session, {}) });
  expect(res.status).toBe(200);
  return parsePack(Buffer.from(await res.arrayBuffer())).map((t) => ({ tx: t.tx, ty: t.ty, px: inflate(t.data) }));
}

beforeAll(async () => {
  if (!HAS_CHROMIUM) return;
  browser = await launchChromium();
  srv = await startTestServer(VIEWER_SLIDES, {});
  const { body } = await getJson<{ slides: Array<{ id: string; name: string; width: number; height: number }> }>(`${srv.url}/api/slides`);
  const folder = body.slides.find((x) => x.name === 'aperio-jpeg-256-x2.svs');
  W = folder?.width ?? 0;
  H = folder?.height ?? 0;
  expect(W).toBeGreaterThan(2 * T);
  for (const name of ['bea', 'cai', 'rita']) {
    id[name] = (await createUser(srv.url, srv.session as Session, name)).id;
    s[name] = await signIn(srv.url, name);
  }
  project = ((await call('admin', 'POST', '/api/projects', { name: 'Blind reading', blind: true })).body['project'] as { id: string }).id;
  ps = (await call('admin', 'POST', `/api/projects/${project}/slides`, { slideId: folder?.id })).body['id'] as string;
  for (const [who, role] of [['bea', 'annotator'], ['cai', 'annotator'], ['rita', 'reviewer']] as const) {
    expect((await call('admin', 'PUT', `/api/projects/${project}/members/${id[who]}`, { role })).status).toBe(200);
  }
  // the shared ROI, drawn by the reviewer: x 100..900 (over tiles 0 and 1), y 50..roiY1
  roiY1 = Math.min(450, H - 10);
  const r = square(100, 50, 800);
  (r['geometry'] as { coordinates: number[][][] }).coordinates = [[[100, 50], [900, 50], [900, roiY1], [100, roiY1], [100, 50]]];
  roi = r['id'] as string;
  expect((await call('rita', 'POST', `/api/slides/${ps}/annotations`, r)).status).toBe(201);
  // the two readers paint the same ROI: tile (0, 0) both class 1; tile (1, 0) bea 1, cai 2
  const paint = async (who: string, classes: [number, number]): Promise<void> => {
    const ops = classes.map((c, tx) => ({ tx, ty: 0, ifMatch: 0, data: b64(zlib(tile((x, y) => (tx * T + x < W && y < H ? c : 0)))) }));
    const res = await call(who, 'POST', `/api/slides/${ps}/masks/${id[who]}/tiles`, { ops });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  };
  await paint('bea', [1, 1]);
  await paint('cai', [1, 2]);
  // and bea draws an object of her own
  expect((await call('bea', 'POST', `/api/slides/${ps}/annotations`, square(1200, 100, 80))).status).toBe(201);
}, 180_000);

afterEach(async () => {
  for (const c of contexts.splice(0)) await c.close();
});

afterAll(async () => {
  await browser?.close();
  await srv?.stop();
});

async function open(who: string): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  contexts.push(ctx);
  await ctx.addCookies(browserCookies(srv.url, s[who] as Session));
  const page = await ctx.newPage();
  page.on('pageerror', (e) => process.stdout.write(`[browser] page error: ${e.message}\n`));
  await page.goto(`${srv.url}/?drawer=canvas#slide=${ps}`);
  await waitAnnotationsLoaded(page);
  await page.waitForFunction(`(${VIEWER}).annotationSession.mask?.loaded === true`, undefined, { timeout: 60_000 });
  return page;
}

/** The status of a GET from inside the page (the user's own cookies). */
function statusIn(page: Page, path: string): Promise<number> {
  return page.evaluate(async (p) => (await fetch(p)).status, `${srv.url}${path}`);
}

describe.skipIf(!HAS_CHROMIUM)('two readers, a disagreement map and an accepted consensus (issue 14)', () => {
  it("a blind annotator sees nothing of the other reader's work before submitting (AGR-06)", async () => {
    const page = await open('cai');
    expect(await page.evaluate(`(${VIEWER}).annotationSession.store.size`)).toBe(0);
    const masks = await page.evaluate(async (p) => ((await (await fetch(p)).json()) as { masks: Array<{ annotator: string }> }).masks.map((m) => m.annotator), `${srv.url}/api/slides/${ps}/masks`);
    expect(masks).toEqual([id['cai']]);
    expect(await statusIn(page, `/api/slides/${ps}/masks/${id['bea']}/tiles`)).toBe(404);
    expect(await statusIn(page, `/api/slides/${ps}/agreement/map?readers=${id['bea']},${id['cai']}`)).toBe(403);
    expect(await statusIn(page, `/api/slides/${ps}/reference`)).toBe(403);
    await page.locator('[data-testid=mask-opacity]').waitFor();
    expect(await page.locator('[data-testid=disagreement-visible]').count()).toBe(0);
  });

  it('the readers submit; a reviewer accepts their regions, reads who said what on the map, and accepts a consensus from the panel; all of it is audited', async () => {
    // the readers submit the reading (they now see the ROI) and their painted regions inside it
    const reading = await call('admin', 'POST', `/api/projects/${project}/readings`, { name: 'Reading', slides: [ps], readers: [id['bea'], id['cai']] });
    expect(reading.status).toBe(201);
    const items: string[] = [];
    for (const who of ['bea', 'cai']) {
      expect((await call(who, 'POST', `/api/projects/${project}/readings/${reading.body['id']}/submit`, {})).status).toBe(200);
      const sub = await call(who, 'POST', `/api/slides/${ps}/reviews`, { region: roi, version: 0 });
      expect(sub.status, JSON.stringify(sub.body)).toBe(201);
      items.push(sub.body['id'] as string);
    }
    for (const item of items) {
      const acc = await call('rita', 'POST', `/api/slides/${ps}/reviews/${item}/transition`, { action: 'accept', version: 1 });
      expect(acc.status, JSON.stringify(acc.body)).toBe(200);
    }
    const before = { bea: await packOf(id['bea'] as string), cai: await packOf(id['cai'] as string) };

    const page = await open('rita');
    await viewAt(page, 500, 250, 0.5);
    await page.locator('[data-testid=disagreement-visible]').check();
    await expect.poll(() => page.locator('[data-testid=disagreement-status]').textContent(), { timeout: 30_000 }).toMatch(/2 readers/);
    // who said what: a click where they disagree (and, with the select tool, on the ROI: it is selected)
    await page.locator('wsi-viewer').focus();
    await page.locator('wsi-viewer').press('v');
    const where = await imageToPage(page, 700, 200);
    await page.mouse.click(where.x, where.y);
    const popover = page.locator('[data-testid=disagreement-point]');
    await expect.poll(() => popover.textContent(), { timeout: 20_000 }).toMatch(/Who said what at \((69\d|70\d), (19\d|20\d)\)/);
    const lines = await page.locator('[data-testid=disagreement-point-reader]').allTextContents();
    expect(lines.map((l) => l.split(':')[0]).sort()).toEqual(['bea', 'cai']);
    const said = (who: string): string | undefined => lines.find((l) => l.startsWith(`${who}:`))?.slice(who.length + 1);
    expect(said('bea')).toBeTruthy();
    expect(said('bea')).not.toBe(said('cai'));
    expect(await popover.textContent()).toMatch(/undecided/);
    await expect.poll(() => page.evaluate(`(${VIEWER}).annotationSession.selection.list()`)).toEqual([roi]);
    // where they agree, the popover says so
    const agree = await imageToPage(page, 300, 200);
    await page.mouse.click(agree.x, agree.y);
    await expect.poll(() => popover.textContent()).toMatch(/Who said what at \((29\d|30\d), (19\d|20\d)\).*0 disagree/);
    // the consensus: majority vote, ties to bea, accepted into the reference
    await page.locator('wsi-consensus-controls [data-testid=consensus-method]').selectOption('majority');
    await page.locator('wsi-consensus-controls [data-testid=consensus-ties]').selectOption(id['bea'] as string);
    await page.locator('wsi-consensus-controls [data-testid=consensus-accept]').click();
    await expect.poll(() => page.locator('wsi-consensus-controls [data-testid=consensus-status]').textContent(), { timeout: 30_000 }).toMatch(/Accepted into the reference mask/);

    // the reference: class 1 inside the ROI (agreement on the left, ties to bea's 1 on the right), 0 outside
    const ref = await packOf(REFERENCE_ANNOTATOR);
    expect(ref.map((t) => `${t.tx},${t.ty}`).sort()).toEqual(['0,0', '1,0']);
    for (const t of ref) {
      for (let y = 0; y < T; y++) {
        for (let x = 0; x < T; x++) {
          const gx = t.tx * T + x;
          const want = gx >= 100 && gx < 900 && y >= 50 && y < roiY1 ? 1 : 0;
          if (t.px[y * T + x] !== want) throw new Error(`reference (${gx}, ${y}) is ${t.px[y * T + x]}, expected ${want}`);
        }
      }
    }
    // the readers' masks are as they were: the disagreement is kept
    expect(await packOf(id['bea'] as string)).toEqual(before.bea);
    expect(await packOf(id['cai'] as string)).toEqual(before.cai);

    // the audit log: the review transitions and the acceptance
    const audit = async (action: string): Promise<Array<{ user: string; detail: Record<string, unknown> }>> =>
      (await call('admin', 'GET', `/api/audit?action=${action}&limit=50`)).body['records'] as Array<{ user: string; detail: Record<string, unknown> }>;
    const submits = await audit('review.submit');
    expect(submits.map((r) => r.user).sort()).toEqual([id['bea'], id['cai']].sort());
    expect(submits.every((r) => r.detail['kind'] === 'region' && r.detail['to'] === 'submitted')).toBe(true);
    const accepts = await audit('review.accept');
    expect(accepts.map((r) => r.user)).toEqual([id['rita'], id['rita']]);
    expect(accepts.map((r) => r.detail['item']).sort()).toEqual([...items].sort());
    const consensus = await audit('consensus.accept');
    expect(consensus.length).toBe(1);
    expect(consensus[0]?.user).toBe(id['rita']);
    expect(consensus[0]?.detail).toMatchObject({ roi, method: 'majority', ties: `reader ${id['bea']}` });
  });
});
