/**
 * The triage walk of issue 13 in Chromium (TEST-CATALOGUE AI-01 in small,
 * AI-02, AI-03's "counts follow the final state"): a prediction file with
 * scores is imported through the API as a model run; in the viewer the
 * triage tool (`g`) goes through the queue lowest score first and the
 * script accepts (`A`), rejects (`R`, Del), relabels (a class key — a
 * change of label alone, AI-02), edits an outline with the select tool,
 * relabels and edits one object, accepts one while offline (the decision is
 * kept and sent when back online), accepts in bulk above a score, marks the
 * view as checked and draws an object by hand there (a miss). The report's
 * numbers must equal the script's, counted here from the actions; after a
 * reload the viewer shows the working layer: each corrected object in place
 * of its prediction, no rejected one. The report page's plots draw the
 * JSON's numbers. A second walk: the queue by position, the score filter
 * (objects outside it hidden), a bulk rejection inside an ROI drawn by hand,
 * and a decision made after the session ended, kept and sent once signed in
 * again in place (SEC-07, DATA-05).
 */
import { randomUUID } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserCookies } from '../../scripts/credentials.js';
import { asSession, bearer, signIn, signInBrowser, TEST_PASSWORD, type Session } from '../helpers/accounts.js';
import { CHROMIUM, HAS_CHROMIUM, launchChromium } from '../helpers/browser.js';
import { VIEWER_SLIDES } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';
import { VIEWER, dragPath, imageToPage, storeRecords, viewAt, waitAnnotationsLoaded, waitSaved } from '../helpers/viewer-page.js';

let browser: Browser;
let srv: TestServer;
let slide = '';

if (!HAS_CHROMIUM) process.stdout.write(`[browser] SKIP: no Chromium at ${CHROMIUM}\n`);

const SIZE = 40;
/** Scores in file order: the queue (lowest first) is not the file's order nor the position order. */
const SCORES = [0.65, 0.05, 0.97, 0.35, 0.15, 0.92, 0.45, 0.25, 0.75, 0.55];
const N = SCORES.length;
const ids = SCORES.map(() => randomUUID());
const at = (i: number): [number, number] => [600 + i * 160, 700];
const modelClass = (i: number): string => (i % 2 === 0 ? 'Tumour' : 'Stroma');
const other = (cls: string): string => (cls === 'Tumour' ? 'Stroma' : 'Tumour');
const HOTKEY: Record<string, string> = { Tumour: 't', Stroma: 's' };

function square(x: number, y: number, s: number): number[][][] {
  return [
    [
      [x, y],
      [x + s, y],
      [x + s, y + s],
      [x, y + s],
      [x, y],
    ],
  ];
}

function predictionFile(): string {
  return JSON.stringify({
    type: 'FeatureCollection',
    features: ids.map((id, i) => ({
      type: 'Feature',
      id,
      geometry: { type: 'Polygon', coordinates: square(...at(i), SIZE) },
      properties: { objectType: 'detection', classification: { name: modelClass(i) }, measurements: { probability: SCORES[i] } },
    })),
  });
}

/** Queue position q (score order) → file index. */
const byScore = SCORES.map((s, i) => [s, i] as const)
  .sort((a, b) => a[0] - b[0])
  .map(([, i]) => i);

type State = 'untouched' | 'accepted' | 'edited' | 'relabelled' | 'both' | 'rejected';
/** What the script did, per file index: final state and final class. */
const script = new Map<number, { state: State; finalClass: string }>();
let added = 0;

beforeAll(async () => {
  if (!HAS_CHROMIUM) return;
  browser = await launchChromium();
  srv = await startTestServer(VIEWER_SLIDES);
  const { body } = await getJson<{ slides: Array<{ id: string; name: string }> }>(`${srv.url}/api/slides`);
  slide = body.slides.find((s) => s.name === 'aperio-jpeg-256-x2.svs')?.id ?? '';
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await srv?.stop();
});

const panel = (page: Page, id: string) => page.locator(`wsi-annotation-panel [data-testid=${id}]`);
const current = async (page: Page): Promise<string | null> => panel(page, 'triage-current').getAttribute('data-id');
const press = (page: Page, key: string) => page.locator('wsi-viewer').press(key);

/** The queue's current object must be the q-th by score. */
async function expectCurrent(page: Page, q: number): Promise<number> {
  const i = byScore[q] as number;
  await expect.poll(() => current(page)).toBe(ids[i]);
  return i;
}

/** Drags the top-left corner of prediction i's square by (dx, dy) image px with the select tool. */
async function dragCorner(page: Page, i: number, dx: number, dy: number): Promise<void> {
  const [x, y] = at(i);
  await page.waitForFunction(`(${VIEWER}).isFullyLoaded()`);
  await page.waitForTimeout(600); // the fly-to animation
  await press(page, 'v');
  await dragPath(page, [
    [x, y],
    [x + dx / 2, y + dy / 2],
    [x + dx, y + dy],
  ]);
  await press(page, 'g');
}

describe.skipIf(!HAS_CHROMIUM)('triage of a model run in the viewer (AI-01, AI-02, AI-03)', () => {
  it('walks the queue with keys and bulk actions; the report equals the script', async () => {
    const admin = srv.session as Session;
    const run = await asSession(srv.url, admin, 'POST', `/api/slides/${slide}/model-runs`, { model: { name: 'cellnet', version: '3.0' } }, { 'Idempotency-Key': randomUUID() });
    expect(run.status).toBe(201);
    const runId = run.body['id'] as string;
    const imp = await fetch(`${srv.url}/api/slides/${slide}/model-runs/${runId}/predictions?format=qupath-geojson`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': randomUUID(), ...bearer(srv.url) },
      body: predictionFile(),
    });
    expect(imp.status).toBeLessThan(300);

    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    await signInBrowser(page, srv);
    await page.goto(`${srv.url}/?drawer=canvas#slide=${slide}`);
    await waitAnnotationsLoaded(page);
    // the slide's objects came as columnar frames (src/core/columnar-pages.ts), not JSON pages
    expect(await page.evaluate(`(${VIEWER}).annotationSession.progress.transport`)).toBe('columnar');
    await viewAt(page, 1400, 720, 0.5);
    await page.locator('wsi-viewer').focus();
    await press(page, 'g');
    expect(await page.evaluate(`(${VIEWER}).tools.active.spec.id`)).toBe('triage');
    // the only imported run is picked; the queue starts at the lowest score
    let i = await expectCurrent(page, 0);
    await expect.poll(() => panel(page, 'triage-remaining').textContent()).toBe(String(N));
    expect(await panel(page, 'triage-score').textContent()).toBe('0.050');
    // the view flew to it at the task's magnification (20× on a 40× scan: zoom 0.5)
    await expect.poll(async () => page.evaluate(`(() => { const v = (${VIEWER}).getView(); return Math.round(v.x) + ',' + Math.round(v.y) + ',' + v.zoom.toFixed(2); })()`)).toBe(`${at(i)[0] + SIZE / 2},${at(i)[1] + SIZE / 2},0.50`);

    // q0: reject
    await press(page, 'R');
    script.set(i, { state: 'rejected', finalClass: modelClass(i) });
    // q1: a change of label alone (AI-02)
    i = await expectCurrent(page, 1);
    await press(page, HOTKEY[other(modelClass(i))] as string);
    script.set(i, { state: 'relabelled', finalClass: other(modelClass(i)) });
    // q2: accept
    i = await expectCurrent(page, 2);
    await press(page, 'A');
    script.set(i, { state: 'accepted', finalClass: modelClass(i) });
    // q3: reject with Del
    i = await expectCurrent(page, 3);
    await press(page, 'Delete');
    script.set(i, { state: 'rejected', finalClass: modelClass(i) });
    // q4: edit its outline with the select tool (a read-only prediction: the edit goes to its corrected object)
    i = await expectCurrent(page, 4);
    await dragCorner(page, i, 14, 10);
    script.set(i, { state: 'edited', finalClass: modelClass(i) });
    await expect.poll(() => panel(page, 'triage-state').textContent()).toBe('edited');
    // q5: relabel, then back to it and edit it too
    await press(page, '.');
    i = await expectCurrent(page, 5);
    await press(page, HOTKEY[other(modelClass(i))] as string);
    await expectCurrent(page, 6);
    await press(page, ',');
    await expectCurrent(page, 5);
    await dragCorner(page, i, -12, 8);
    script.set(i, { state: 'both', finalClass: other(modelClass(i)) });
    await expect.poll(() => panel(page, 'triage-state').textContent()).toBe('relabelled + edited');
    await waitSaved(page);
    // q6: accepted while offline: shown as not saved, kept, and sent when back online
    await press(page, '.');
    i = await expectCurrent(page, 6);
    await context.setOffline(true);
    await press(page, 'A');
    script.set(i, { state: 'accepted', finalClass: modelClass(i) });
    await expect.poll(() => panel(page, 'triage-saving').textContent(), { timeout: 15_000 }).toMatch(/1 decision not saved yet/);
    await context.setOffline(false);
    await waitSaved(page);
    await expect.poll(() => panel(page, 'triage-saving').count()).toBe(0);
    if (process.env['TRIAGE_SCREENSHOT']) {
      await viewAt(page, 1400, 720, 0.5);
      await page.screenshot({ path: process.env['TRIAGE_SCREENSHOT'] });
    }
    // bulk: accept every undecided prediction with a score of 0.9 or more
    await panel(page, 'triage-threshold').fill('0.9');
    await panel(page, 'triage-threshold').dispatchEvent('change');
    await panel(page, 'triage-accept-above').click();
    for (let k = 0; k < N; k++) if (!script.has(k) && (SCORES[k] as number) >= 0.9) script.set(k, { state: 'accepted', finalClass: modelClass(k) });
    await expect.poll(() => page.locator('wsi-annotation-panel [data-testid=annotate-message]').textContent()).toMatch(/Accepted 2 predictions with a score of 0.9 or more/);
    // the counts: done and remaining, per class
    const decided = script.size;
    await expect.poll(() => panel(page, 'triage-done').textContent()).toBe(String(decided));
    expect(await panel(page, 'triage-remaining').textContent()).toBe(String(N - decided));
    for (const cls of ['Tumour', 'Stroma']) {
      const done = [...script.keys()].filter((k) => modelClass(k) === cls).length;
      expect(await page.locator(`wsi-annotation-panel [data-testid=triage-progress] tr[data-class=${cls}] [data-testid=done]`).textContent()).toBe(String(done));
    }

    // the model's miss: mark the view as checked, then draw a rectangle there by hand
    await viewAt(page, 1400, 900, 0.5);
    await panel(page, 'triage-checked').click();
    await expect.poll(() => page.locator('wsi-annotation-panel [data-testid=annotate-message]').textContent()).toMatch(/marked as checked/);
    await press(page, 'r');
    await dragPath(page, [
      [1300, 900],
      [1340, 930],
      [1360, 950],
    ]);
    added++;
    const drawnClass = (await page.evaluate(`(${VIEWER}).currentClass`)) as string;
    await waitSaved(page);

    // the report equals the script
    const report = await asSession(srv.url, admin, 'GET', `/api/slides/${slide}/model-runs/${runId}/report`);
    expect(report.status).toBe(200);
    const want: Record<State | 'missed', number> = { untouched: 0, accepted: 0, edited: 0, relabelled: 0, both: 0, rejected: 0, missed: added };
    const perClass: Record<string, Record<string, number>> = {};
    const matrix: Record<string, Record<string, number>> = {};
    for (let k = 0; k < N; k++) {
      const s = script.get(k)?.state ?? 'untouched';
      want[s]++;
      const c = (perClass[modelClass(k)] ??= { untouched: 0, accepted: 0, edited: 0, relabelled: 0, both: 0, rejected: 0 });
      c[s] = (c[s] as number) + 1;
      if (s === 'relabelled' || s === 'both') {
        const row = (matrix[modelClass(k)] ??= {});
        const to = script.get(k)?.finalClass as string;
        row[to] = (row[to] ?? 0) + 1;
      }
    }
    // the miss is counted under the class it was drawn with
    const mc = (perClass[drawnClass] ??= { untouched: 0, accepted: 0, edited: 0, relabelled: 0, both: 0, rejected: 0 });
    mc['missed'] = added;
    const r = report.body as { predictions: number; counts: Record<string, number>; corrected: number; perClass: Record<string, Record<string, unknown>>; relabelMatrix: unknown; iou: { objects: number; min: number | null } };
    expect(r.predictions).toBe(N);
    expect(r.counts).toEqual(want);
    // a label-only change is a correction (AI-02)
    expect(r.counts['relabelled']).toBe(1);
    expect(r.corrected).toBe(want.edited + want.relabelled + want.both + want.rejected);
    for (const [cls, c] of Object.entries(perClass)) expect(r.perClass[cls]).toMatchObject(c);
    expect(r.relabelMatrix).toEqual(matrix);
    // the two edited outlines were measured, each below 1
    expect(r.iou.objects).toBe(want.edited + want.both);
    expect(r.iou.min).toBeLessThan(1);

    // the same report as a page with plots: every drawn number is the JSON's
    const rp = await context.newPage();
    await rp.setViewportSize({ width: 1366, height: 768 });
    await rp.goto(`${srv.url}/report.html?slide=${slide}&run=${runId}`);
    const rep = rp.locator('wsi-corrections-report');
    await expect.poll(() => rep.locator('[data-testid=n-predictions]').textContent()).toBe(String(N));
    expect(await rep.locator('[data-testid=n-corrected]').textContent()).toBe(String(r.corrected));
    expect(await rep.locator('[data-testid=n-missed]').textContent()).toBe(String(want.missed));
    for (const [cls, c] of Object.entries(perClass)) {
      const drawn = await rep.locator(`[data-testid=class-bars] g[data-row=${cls}] rect`).evaluateAll((els) => els.map((e) => `${e.getAttribute('data-key')}=${e.getAttribute('data-value')}`));
      const expected = Object.entries(c)
        .filter(([, v]) => v > 0)
        .map(([k, v]) => `${k}=${v}`);
      expect(drawn.sort(), cls).toEqual(expected.sort());
    }
    const cells = await rep.locator('[data-testid=matrix] g[data-cell]').evaluateAll((els) => els.map((e) => [e.getAttribute('data-cell'), Number(e.getAttribute('data-value'))] as const));
    for (const [from, row] of Object.entries(matrix)) for (const [to, n] of Object.entries(row)) expect(cells).toContainEqual([`${from}→${to}`, n]);
    const bins = await rep.locator('[data-testid=iou] g[data-bin]').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-value'))));
    expect(bins).toHaveLength(10);
    expect(bins.reduce((a, b) => a + b, 0)).toBe(want.edited + want.both);
    if (process.env['REPORT_SCREENSHOT']) await rp.screenshot({ path: process.env['REPORT_SCREENSHOT'] });
    await rp.close();

    // after a reload the viewer shows the working layer: corrected objects in place of their predictions, no rejected one
    await page.reload();
    await waitAnnotationsLoaded(page);
    const records = await storeRecords(page);
    const rejected = [...script].filter(([, s]) => s.state === 'rejected').length;
    expect(records).toHaveLength(N - rejected + added);
    for (const [k, s] of script) {
      const [x, y] = at(k);
      const here = records.filter((o) => {
        const ring = (o.geometry.coordinates as number[][][])[0] ?? [];
        return ring.some(([px, py]) => Math.abs((px as number) - x) < 30 && Math.abs((py as number) - y) < 30);
      });
      expect(here.length, `prediction ${k} (${s.state})`).toBe(s.state === 'rejected' ? 0 : 1);
      if (s.state !== 'rejected') expect(here[0]?.classification).toBe(s.finalClass);
    }
    await page.close();
    await context.close();
  }, 180_000);

  it('orders by position, filters by score, rejects in bulk inside an ROI, and keeps a decision made after the session ended', async () => {
    const admin = srv.session as Session;
    const scores = [0.25, 0.6, 0.1, 0.45, 0.8, 0.35, 0.7, 0.5];
    const pids = scores.map(() => randomUUID());
    const pos = (i: number): [number, number] => [300 + i * 200, 1500];
    const run = await asSession(srv.url, admin, 'POST', `/api/slides/${slide}/model-runs`, { model: { name: 'bulknet', version: '1' } }, { 'Idempotency-Key': randomUUID() });
    const runId = run.body['id'] as string;
    const file = JSON.stringify({
      type: 'FeatureCollection',
      features: pids.map((id, i) => ({ type: 'Feature', id, geometry: { type: 'Polygon', coordinates: square(...pos(i), SIZE) }, properties: { objectType: 'detection', classification: { name: modelClass(i) }, measurements: { probability: scores[i] } } })),
    });
    const imp = await fetch(`${srv.url}/api/slides/${slide}/model-runs/${runId}/predictions?format=qupath-geojson`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Idempotency-Key': randomUUID(), ...bearer(srv.url) }, body: file });
    expect(imp.status).toBeLessThan(300);
    // a session of its own, so ending it leaves the other test's alone
    const session = await signIn(srv.url, srv.admin?.username ?? 'admin');
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    await context.addCookies(browserCookies(srv.url, session));
    const page = await context.newPage();
    await page.goto(`${srv.url}/?drawer=canvas#slide=${slide}`);
    await waitAnnotationsLoaded(page);
    await viewAt(page, 1000, 1520, 0.5);
    await page.locator('wsi-viewer').focus();
    await press(page, 'g');
    // two runs on this slide now: pick this one
    await panel(page, 'triage-run').selectOption(runId);
    await expect.poll(() => current(page)).toBe(pids[2]); // lowest score first
    // by position: left to right in the band, the current object kept
    await panel(page, 'triage-sort').selectOption('position');
    await press(page, ',');
    await press(page, ',');
    await expect.poll(() => current(page)).toBe(pids[0]);
    await press(page, '.');
    await expect.poll(() => current(page)).toBe(pids[1]);
    // filtered by score: 0.3 and up; the two below leave the queue and the layer
    await panel(page, 'triage-min').fill('0.3');
    await panel(page, 'triage-min').dispatchEvent('change');
    await expect.poll(() => panel(page, 'triage-current').textContent()).toMatch(/1\s*of 6/);
    await expect.poll(() => page.evaluate(`(${VIEWER}).annotationLayer.hidden.size`)).toBe(2);
    // an ROI drawn by hand around the first four, selected, then rejected in bulk: only those in the filter
    await press(page, 'r');
    await dragPath(page, [
      [250, 1440],
      [700, 1520],
      [1050, 1600],
    ]);
    await waitSaved(page);
    await press(page, 'v');
    const inside = await imageToPage(page, 1000, 1520);
    await page.mouse.click(inside.x, inside.y);
    await expect.poll(() => page.evaluate(`(${VIEWER}).annotationSession.selection.list().length`)).toBe(1);
    await press(page, 'g');
    await panel(page, 'triage-reject-roi').click();
    const rejected = [0, 1, 2, 3].filter((i) => (scores[i] as number) >= 0.3);
    await expect.poll(() => page.locator('wsi-annotation-panel [data-testid=annotate-message]').textContent()).toMatch(new RegExp(`Rejected ${rejected.length} predictions inside the selected ROI`));
    // the session ends on the server; a decision made now is kept, shown as not saved, and sent after signing in again
    expect((await asSession(srv.url, session, 'DELETE', '/api/auth/session')).status).toBe(200);
    while ((await current(page)) !== pids[4]) await press(page, '.');
    await press(page, 'A');
    await expect.poll(() => panel(page, 'triage-saving').textContent(), { timeout: 15_000 }).toMatch(/not saved yet/);
    await page.locator('[data-testid=reauth-username]').waitFor({ state: 'visible', timeout: 10_000 });
    await page.fill('[data-testid=reauth-username]', srv.admin?.username ?? 'admin');
    await page.fill('[data-testid=reauth-password]', TEST_PASSWORD);
    await page.click('[data-testid=reauth-submit]');
    await page.locator('[data-testid=reauth-username]').waitFor({ state: 'hidden' });
    await waitSaved(page);
    const report = await asSession(srv.url, admin, 'GET', `/api/slides/${slide}/model-runs/${runId}/report`);
    const counts = report.body['counts'] as Record<string, number>;
    expect(counts).toEqual({ untouched: scores.length - rejected.length - 1, accepted: 1, edited: 0, relabelled: 0, both: 0, rejected: rejected.length, missed: 0 });
    await context.close();
  }, 180_000);
});
