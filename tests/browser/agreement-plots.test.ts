/**
 * Issue 14's outputs in the viewer: a reviewer shows the disagreement map,
 * selects the shared ROI and asks for the agreement; the panel shows the
 * per-class table, the per-class figure and the reader × reader heat map
 * (Observable Plot, src/core/agreement/agreement-plots.ts), and the CSV
 * and JSON downloads. Every mark is checked against the agreement JSON the
 * server gives for the same ROI and readers: bar lengths (through the
 * figure's own x scale and as a share of the plot area) equal the mean
 * Dice/IoU, cell fills equal the colour scale of the values and cell texts
 * the values, for kappa, pixel accuracy and a class's Dice as picked.
 * Bad cases: no ROI selected yet (the button waits, the panel says why);
 * two readers who gave one class everywhere, so kappa is undefined: the
 * heat map says "not defined", with no coloured cell and no NaN (AGR-01).
 * The screenshot for docs/agreement.md is taken here, at 1366×768, with SCREENSHOTS=1.
 */
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { asSession, type Session } from '../helpers/accounts.js';
import { square } from '../helpers/annotations.js';
import { CHROMIUM, HAS_CHROMIUM } from '../helpers/browser.js';
import { b64, tile, zlib } from '../helpers/masks.js';
import { ROOT } from '../helpers/paths.js';
import type { TestServer } from '../helpers/server.js';
import { setUpProject } from '../helpers/three-readers.js';
import { VIEWER, closeContexts, imageToPage, openViewer, startViewerRig, stopViewerRig, viewAt, type ViewerRig } from '../helpers/viewer-page.js';

let rig: ViewerRig;
let srv: TestServer;
let s: Record<string, Session> = {};
let id: Record<string, string> = {};
const T = 512;
/** Project slides: three readers who disagree; two readers who gave one class everywhere. */
let three = '';
let two = '';
const roi: Record<string, string> = {};

type Report = {
  readers: Array<{ id: string; username: string | null }>;
  metrics: {
    perClass: Array<{ class: number; meanDice: number | null; meanIou: number | null }>;
    pairs: Array<{ a: number; b: number; cohenKappa: number | null; pixelAccuracy: number | null; perClass: Array<{ class: number; dice: number | null }> }>;
  };
};

if (!HAS_CHROMIUM) process.stdout.write(`[browser] SKIP: no Chromium at ${CHROMIUM}\n`);

function call(who: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  return asSession(srv.url, who === 'admin' ? (srv.session as Session) : (s[who] as Session), method, path, body, method === 'GET' ? {} : { 'Idempotency-Key': crypto.randomUUID() });
}

beforeAll(async () => {
  if (!HAS_CHROMIUM) return;
  rig = await startViewerRig();
  srv = rig.srv;
  let project: string;
  ({ s, id, project } = await setUpProject(srv.url, srv.session as Session, { name: 'Agreement figures' }, [['ann', 'annotator'], ['bob', 'annotator'], ['cid', 'annotator'], ['rita', 'reviewer']]));
  const add = async (file: string): Promise<{ ps: string; W: number; H: number }> => {
    const slide = rig.slides.get(file);
    expect(slide?.width ?? 0).toBeGreaterThan(2 * T);
    const ps = (await call('admin', 'POST', `/api/projects/${project}/slides`, { slideId: slide?.id })).body['id'] as string;
    return { ps, W: slide?.width ?? 0, H: slide?.height ?? 0 };
  };
  const paint = async (ps: string, W: number, H: number, who: string, fill: (gx: number, y: number) => number): Promise<void> => {
    const ops = [0, 1].map((tx) => ({ tx, ty: 0, ifMatch: 0, data: b64(zlib(tile((x, y) => (tx * T + x < W && y < H ? fill(tx * T + x, y) : 0)))) }));
    const res = await call(who, 'POST', `/api/slides/${ps}/masks/${id[who]}/tiles`, { ops });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  };
  const drawRoi = async (ps: string, H: number): Promise<string> => {
    const r = square(100, 50, 800);
    (r['geometry'] as { coordinates: number[][][] }).coordinates = [[[100, 50], [900, 50], [900, Math.min(450, H - 10)], [100, Math.min(450, H - 10)], [100, 50]]];
    expect((await call('rita', 'POST', `/api/slides/${ps}/annotations`, r)).status).toBe(201);
    return r['id'] as string;
  };
  // three readers: ann class 1 everywhere; bob 1 on the left tile, 2 on the right; cid like bob, but leaves a band unpainted
  const a = await add('aperio-jpeg-256-x2.svs');
  three = a.ps;
  await paint(a.ps, a.W, a.H, 'ann', () => 1);
  await paint(a.ps, a.W, a.H, 'bob', (x) => (x < T ? 1 : 2));
  await paint(a.ps, a.W, a.H, 'cid', (x, y) => (y < 150 ? 0 : x < T ? 1 : 2));
  roi['three'] = await drawRoi(a.ps, a.H);
  // two readers who both gave class 1 everywhere: kappa is undefined (chance agreement 1)
  const b = await add('aperio-jpeg-240-x4.svs');
  two = b.ps;
  await paint(b.ps, b.W, b.H, 'ann', () => 1);
  await paint(b.ps, b.W, b.H, 'bob', () => 1);
  roi['two'] = await drawRoi(b.ps, b.H);
}, 180_000);

afterEach(() => closeContexts(rig));
afterAll(() => stopViewerRig(rig));

/** `wide`: the panel 460 px wide with the Paint and Classes sections folded (the screenshot's layout, as a user would set it). */
function open(ps: string, wide = false): Promise<Page> {
  const init = async (ctx: BrowserContext): Promise<void> => {
    if (wide) await ctx.addInitScript(() => localStorage.setItem('wsi-annotate.panel', JSON.stringify({ collapsed: ['paint', 'classes'], width: 460 })));
  };
  return openViewer(rig, ps, { viewport: { width: 1366, height: 768 }, acceptDownloads: true, init, session: s['rita'] as Session, focus: false });
}

/** Shows the map, checks the no-ROI state, selects the ROI and asks for the agreement; returns the readers and the server's JSON. */
async function agreementOf(page: Page, ps: string, roiId: string, readers: number): Promise<{ readers: string[]; report: Report }> {
  await viewAt(page, 500, 250, 0.5);
  await page.locator('[data-testid=disagreement-visible]').check();
  await expect.poll(() => page.locator('[data-testid=disagreement-status]').textContent(), { timeout: 30_000 }).toMatch(new RegExp(`${readers} readers`));
  // no ROI selected yet: nothing to compute, and the panel says why
  const button = page.locator('wsi-agreement-figures [data-testid=agreement-compute]');
  expect(await button.isDisabled()).toBe(true);
  expect(await page.locator('wsi-agreement-figures .status').first().textContent()).toContain('Select the ROI polygon');
  await page.locator('wsi-viewer').focus();
  await page.locator('wsi-viewer').press('v');
  const inside = await imageToPage(page, 300, 300);
  await page.mouse.click(inside.x, inside.y);
  await expect.poll(() => page.evaluate(`(${VIEWER}).annotationSession.selection.list()`)).toEqual([roiId]);
  await expect.poll(() => button.isDisabled()).toBe(false);
  await button.click();
  await page.locator('wsi-agreement-figures [data-testid=agreement-matrix-plot] svg').waitFor({ timeout: 60_000 });
  const ids = (await page.evaluate(`[...(${VIEWER}).disagreement.readerIds]`)) as string[];
  const report = (await page.evaluate(async (u) => (await fetch(u)).json(), `${srv.url}/api/slides/${ps}/agreement?roi=${roiId}&readers=${ids.join(',')}`)) as Report;
  return { readers: ids, report };
}

/** The heat map's cells as drawn: fill, title and text in drawing order, and the fill the figure's colour scale gives each cell's pair value (`values`, from the JSON). */
function matrixMarks(plot: Locator, values: Record<string, number | null> = {}): Promise<{ cells: Array<{ fill: string | null; title: string }>; texts: string[]; undefinedTexts: string[]; scaled: Array<string | null> }> {
  return plot.locator('svg').evaluate((svg, vals) => {
    const el = svg as SVGSVGElement & { scale(n: string): { apply(v: unknown): unknown } | undefined };
    const q = (d: string, tag: string): Element[] => [...el.querySelectorAll(`g[aria-description="${d}"] ${tag}`)];
    const cells = q('value cell', 'rect').map((r) => ({ fill: r.getAttribute('fill'), title: r.querySelector('title')?.textContent ?? '' }));
    const texts = q('value text', 'text').map((t) => t.textContent ?? '');
    const scaled = cells.map((c) => {
      const v = vals[c.title.split(':')[0] as string];
      return v === null || v === undefined ? null : ((el.scale('color')?.apply(v) as string | undefined) ?? null);
    });
    return { cells, texts, undefinedTexts: q('undefined text', 'text').map((t) => t.textContent ?? ''), scaled };
  }, values);
}

/** The value of a pair for a metric, from the JSON (readers by username in the titles). */
function expectedCells(r: Report, metric: 'kappa' | 'accuracy' | number): Map<string, number | null> {
  const name = (i: number): string => r.readers[i]?.username ?? '';
  const out = new Map<string, number | null>();
  for (const p of r.metrics.pairs) {
    const v = metric === 'kappa' ? p.cohenKappa : metric === 'accuracy' ? p.pixelAccuracy : (p.perClass.find((c) => c.class === metric)?.dice ?? null);
    out.set(`${name(p.a)} vs ${name(p.b)}`, v);
    out.set(`${name(p.b)} vs ${name(p.a)}`, v);
  }
  return out;
}

describe.skipIf(!HAS_CHROMIUM)('agreement figures in the viewer (issue 14 outputs)', () => {
  it('three readers: the per-class table (AGR-03: the unlabelled row), bars and dots equal the JSON; the heat map shows kappa, accuracy or a class Dice as picked; CSV and JSON download', async () => {
    const page = await open(three, true);
    const { report } = await agreementOf(page, three, roi['three'] as string, 3);
    const figures = page.locator('wsi-agreement-figures');
    // the table: one row per class, mean Dice and IoU as the JSON says ("not defined" for null)
    const rows = await figures.locator('[data-testid=agreement-class-table] tr').allTextContents();
    expect(rows.length).toBe(1 + report.metrics.perClass.length);
    const fmt = (v: number | null): string => (v === null ? 'not defined' : v.toFixed(3));
    // cid's unpainted band is "unlabelled", a class of its own with a row (AGR-03)
    expect(report.metrics.perClass[0]?.class).toBe(0);
    expect(rows[1]?.trim()).toMatch(/^Unlabelled/);
    expect(rows[1]).toContain('80,000');
    report.metrics.perClass.forEach((c, i) => {
      expect(rows[i + 1]).toContain(fmt(c.meanDice));
      expect(rows[i + 1]).toContain(fmt(c.meanIou));
    });
    // the per-class figure: each bar's length is the mean (Dice, then IoU), each dot a pair's value
    for (const metric of ['dice', 'iou'] as const) {
      await figures.locator('[data-testid=agreement-class-metric]').selectOption(metric);
      const drawn = await figures.locator('[data-testid=agreement-class-plot] svg').evaluate((svg) => {
        const el = svg as SVGSVGElement & { scale(n: string): { apply(v: unknown): number } };
        const x = el.scale('x');
        const [x0, x1] = [x.apply(0), x.apply(1)];
        const bars = [...el.querySelectorAll('g[aria-description="mean"] rect')].map((r) => (Number(r.getAttribute('width')) / (x1 - x0)));
        const dots = [...el.querySelectorAll('g[aria-description="pair"] circle')].map((c) => (Number(c.getAttribute('cx')) - x0) / (x1 - x0));
        return { bars, dots, svg: el.outerHTML };
      });
      const means = report.metrics.perClass.map((c) => (metric === 'dice' ? c.meanDice : c.meanIou)).filter((v): v is number => v !== null);
      expect(drawn.bars.length).toBe(means.length);
      drawn.bars.forEach((b, i) => expect(b).toBeCloseTo(means[i] as number, 6));
      const pairValues = report.metrics.perClass.flatMap((c) => report.metrics.pairs.map((p) => p.perClass.find((k) => k.class === c.class)?.[metric === 'dice' ? 'dice' : ('iou' as 'dice')] ?? null).filter((v): v is number => v !== null));
      expect(drawn.dots.length).toBe(pairValues.length);
      drawn.dots.forEach((d, i) => expect(d).toBeCloseTo(pairValues[i] as number, 6));
      expect(drawn.svg).not.toContain('NaN');
    }
    // the heat map, for each metric the user can pick
    const plot = figures.locator('[data-testid=agreement-matrix-plot]');
    for (const metric of ['kappa', 'accuracy', 1, 2] as const) {
      await figures.locator('[data-testid=agreement-matrix-metric]').selectOption(typeof metric === 'number' ? `dice:${metric}` : metric);
      await expect.poll(() => plot.locator('svg title').first().textContent()).toContain(metric === 'kappa' ? "Cohen's kappa" : metric === 'accuracy' ? 'pixel accuracy' : 'Dice of');
      const want = expectedCells(report, metric);
      const m = await matrixMarks(plot, Object.fromEntries(want));
      const defined = [...want.values()].filter((v) => v !== null);
      expect(m.cells.length).toBe(defined.length);
      m.cells.forEach((c, i) => {
        const pair = c.title.split(':')[0] as string;
        const v = want.get(pair);
        expect(v, pair).not.toBeNull();
        expect(m.scaled[i]).toBeTruthy();
        expect(c.fill).toBe(m.scaled[i]);
        expect(m.texts[i]).toBe((v as number).toFixed(3));
        expect(c.title).toContain((v as number).toFixed(3));
      });
      expect(m.undefinedTexts.length).toBe(want.size - defined.length);
      expect(m.undefinedTexts.every((t) => t === 'not defined')).toBe(true);
    }
    // the screenshot for docs/agreement.md: the kappa heat map and the Dice bars in the panel
    await figures.locator('[data-testid=agreement-matrix-metric]').selectOption('kappa');
    await figures.locator('[data-testid=agreement-class-metric]').selectOption('dice');
    await figures.locator('.exports').evaluate((el) => el.scrollIntoView({ block: 'end' }));
    // written only when asked (SCREENSHOTS=1, as the other browser tests do): a run leaves the tree clean
    if (process.env['SCREENSHOTS'] === '1') await page.screenshot({ path: join(ROOT, 'docs', 'agreement-plots-1366x768.png') });
    // downloads: the per-class CSV, the matrix CSV (kappa), the JSON
    const download = async (testid: string): Promise<string> => {
      const [d] = await Promise.all([page.waitForEvent('download'), figures.locator(`[data-testid=${testid}]`).click()]);
      return readFileSync((await d.path()) as string, 'utf8');
    };
    const csv = await download('agreement-csv-classes');
    const names = report.readers.map((r) => r.username);
    expect(names.slice().sort()).toEqual(['ann', 'bob', 'cid']);
    expect(csv.split('\r\n')[0]).toBe(`class_id,class,${names.map((n) => `pixels ${n}`).join(',')},mean_dice,mean_iou,${report.metrics.pairs.map((p) => `dice ${names[p.a]} vs ${names[p.b]},iou ${names[p.a]} vs ${names[p.b]}`).join(',')}`);
    expect(csv.split('\r\n').filter((l) => l).length).toBe(1 + report.metrics.perClass.length);
    const matrix = await download('agreement-csv-matrix');
    expect(matrix.split('\r\n')[0]).toBe(`Cohen's kappa,${names.join(',')}`);
    const json = JSON.parse(await download('agreement-json')) as Report;
    expect(json.metrics.perClass).toEqual(report.metrics.perClass);
  });

  it('two readers who gave one class everywhere: kappa "not defined" in the heat map, never a coloured cell or NaN; their Dice is 1 (AGR-01)', async () => {
    const page = await open(two);
    const { report } = await agreementOf(page, two, roi['two'] as string, 2);
    expect(report.metrics.pairs.length).toBe(1);
    expect(report.metrics.pairs[0]?.cohenKappa).toBeNull();
    const figures = page.locator('wsi-agreement-figures');
    expect(await figures.locator('[data-testid=agreement-summary]').textContent()).toContain("Cohen's κ not defined");
    const plot = figures.locator('[data-testid=agreement-matrix-plot]');
    const k = await matrixMarks(plot);
    expect(k.cells.length).toBe(0);
    expect(k.undefinedTexts).toEqual(['not defined', 'not defined']);
    await figures.locator('[data-testid=agreement-matrix-metric]').selectOption('dice:1');
    await expect.poll(async () => (await matrixMarks(plot)).texts).toEqual(['1.000', '1.000']);
    const all = await figures.evaluate((el) => el.shadowRoot?.innerHTML ?? '');
    expect(all).not.toContain('NaN');
  });
});
