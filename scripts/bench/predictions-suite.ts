/**
 * `npm run bench -- predictions` (issue 13): a model run of
 * BENCH_PREDICTIONS_N predicted cells (default 1,000,000; a QuPath GeoJSON
 * file of scored detections, generated) on the 50,000² bench slide, against
 * the targets, with the old path measured as the baseline in the
 * same run:
 *
 * - `import` — the prediction file posted to its model run (…/model-runs/{run}/predictions);
 * - `load` — every cell loaded in headless Chromium, once through the JSON
 *   listing (`?transport=json`, the old path) and once through the columnar
 *   frames (src/core/columnar-pages.ts, the new path), each in a fresh page;
 *   then `load_ratio` (old / new);
 * - `triage_queue` — from the triage key to the queue of N predictions built
 *   and its first object shown;
 * - `triage_step` — the next-object key (`.`) and the accept key (`A`):
 *   from the key event to the frame after the tool made the next object
 *   current (its panel row and selection drawn); the view's flight to it
 *   animates after that and is reported apart (`flightMs`);
 * - `pan` — frame intervals while panning at 1× and 20× with every cell loaded;
 * - `targets` — the four figures and whether each is met.
 *
 * Every line carries the machine's load average. BENCH_PREDICTIONS_STEPS
 * (default 40 per key), BENCH_PAN_SECONDS (default 8).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { HAS_CHROMIUM, CHROMIUM, launchChromium } from '../chromium.js';
import { browserCookies } from '../credentials.js';
import { importFile, pan, settle, stats } from './annotations-suite.js';
import { writeCellsGeojson } from './cells.js';
import { rssBytes, startOurs, type OursStarted } from './peers.js';
import { ensureSlide, SLIDE_SIZE, type Emit } from './tiles-suite.js';

const N = Number(process.env['BENCH_PREDICTIONS_N'] ?? 1_000_000);
const STEPS = Number(process.env['BENCH_PREDICTIONS_STEPS'] ?? 40);
const PAN_SECONDS = Number(process.env['BENCH_PAN_SECONDS'] ?? 8);
const VIEWPORT = { width: 1600, height: 900 };
const VIEWER = `document.querySelector('wsi-app')?.shadowRoot?.querySelector('wsi-viewer')`;
const SUITE = 'predictions';

const load = (): number[] => loadavg().map((v) => +v.toFixed(2));

async function ensurePredictions(root: string, emit: Emit): Promise<string> {
  const dir = join(root, '.bench-cache', 'predictions');
  const file = join(dir, `predictions-${N}-on-${SLIDE_SIZE}.geojson`);
  if (!existsSync(file)) {
    await mkdir(dir, { recursive: true });
    const t0 = performance.now();
    const info = await writeCellsGeojson(`${file}.part`, SLIDE_SIZE, SLIDE_SIZE, N, 13, true);
    await rename(`${file}.part`, file);
    emit({ suite: SUITE, metric: 'cells_generated', ...info, seconds: +((performance.now() - t0) / 1000).toFixed(1) });
  }
  return file;
}

async function post(base: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Idempotency-Key': `bench-${Date.now()}-${Math.random().toString(36).slice(2)}` }, body: JSON.stringify(body) });
  const out = (await res.json()) as Record<string, unknown>;
  if (res.status >= 300) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(out).slice(0, 300)}`);
  return out;
}

interface Loaded {
  page: Page;
  close: () => Promise<void>;
  firstMs: number;
  allMs: number;
  size: number;
  transport: string;
}

/** Opens the app on the slide through one transport and waits for every object. */
async function openAndLoad(browser: Browser, server: OursStarted, transport: 'json' | 'columnar'): Promise<Loaded> {
  const base = server.base;
  // the app's CSP has no 'unsafe-eval', which Playwright's polled string predicates need
  const context = await browser.newContext({ viewport: VIEWPORT, bypassCSP: true });
  if (server.session) await context.addCookies(browserCookies(base, server.session));
  const page = await context.newPage();
  page.on('pageerror', (e) => process.stderr.write(`[bench] page error: ${e.message}\n`));
  const t0 = performance.now();
  await page.goto(`${base}/?drawer=canvas${transport === 'json' ? '&transport=json' : ''}#slide=${server.slideId}`);
  await page.waitForFunction(`(${VIEWER})?.annotationSession?.progress?.loaded > 0`, undefined, { timeout: 300_000, polling: 50 });
  const firstMs = performance.now() - t0;
  await page.waitForFunction(`(${VIEWER})?.annotationSession?.progress?.done === true`, undefined, { timeout: 1_800_000, polling: 100 });
  const allMs = performance.now() - t0;
  const s = (await page.evaluate(`(() => { const s = (${VIEWER}).annotationSession; return { size: s.store.size, error: s.progress.error ?? null, transport: s.progress.transport ?? 'json' }; })()`)) as { size: number; error: string | null; transport: string };
  if (s.error) throw new Error(`loading failed in the page: ${s.error}`);
  return { page, close: () => context.close(), firstMs, allMs, size: s.size, transport: s.transport };
}

/** Times `steps` presses of `key`: from the key event to the frame after the next object became current. */
async function triageSteps(page: Page, key: string, steps: number): Promise<{ ms: number[]; flightMs: number[]; moved: number }> {
  return page.evaluate(`(async () => {
    const v = ${VIEWER};
    const tool = v.tools.active.tool;
    const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    const ms = [];
    const flightMs = [];
    let moved = 0;
    for (let i = 0; i < ${steps}; i++) {
      const before = tool.current();
      const t0 = performance.now();
      v.dispatchEvent(new KeyboardEvent('keydown', { key: ${JSON.stringify(key)}, bubbles: true, composed: true, cancelable: true }));
      await frame();
      ms.push(performance.now() - t0);
      const now = tool.current();
      if (now && now !== before) moved++;
      // let the flight end (and the tiles come) before the next key, as a technologist looks at each object
      const f0 = performance.now();
      for (let k = 0; k < 90; k++) {
        const view = v.getView();
        if (now && Math.abs(view.x - now.cx) < 1 && Math.abs(view.y - now.cy) < 1) break;
        await frame();
      }
      flightMs.push(performance.now() - f0);
    }
    return { ms, flightMs, moved };
  })()`);
}

export async function predictionsSuite(root: string, emit: Emit): Promise<void> {
  if (!existsSync(join(root, 'build', 'tiles-server', 'main.js')) || !existsSync(join(root, 'dist', 'index.html'))) throw new Error('run npm run build first');
  if (!HAS_CHROMIUM) {
    emit({ suite: SUITE, metric: 'skipped', reason: `no Chromium at ${CHROMIUM}` });
    return;
  }
  const slideFile = await ensureSlide(root, emit);
  const file = await ensurePredictions(root, emit);
  const work = await mkdtemp(join(tmpdir(), 'wsi-bench-pred-'));
  const server = await startOurs(root, slideFile, work);
  const base = server.base;
  const browser = await launchChromium();
  const targets: Record<string, unknown> = { suite: SUITE, metric: 'targets', cells: N };
  try {
    // ---- import into a model run
    const run = await post(base, `/api/slides/${server.slideId}/model-runs`, { model: { name: 'bench-cellnet', version: '1' }, parameters: { n: N } });
    const imp = await importFile(base, server.slideId, file, `model-runs/${String(run['id'])}/predictions?format=qupath-geojson`);
    if (imp.status !== 201) throw new Error(`import failed (${imp.status}): ${JSON.stringify(imp.report).slice(0, 500)}`);
    const mem = await rssBytes(server.pids());
    const importS = imp.ms / 1000;
    emit({ suite: SUITE, metric: 'import', path: 'current', cells: N, seconds: +importS.toFixed(1), cellsPerSec: Math.round(N / importS), imported: imp.report['imported'], scored: (imp.report['modelRun'] as { scored?: number } | undefined)?.scored, serverPeakRssMB: +(mem.peak / 2 ** 20).toFixed(0), loadavg: load() });
    Object.assign(targets, { importSeconds: +importS.toFixed(1), importUnder15s: importS <= 15 });

    // ---- load: the old path (JSON pages), then the new (columnar frames), each in a fresh page
    const loads: Record<string, Loaded> = {};
    for (const transport of ['json', 'columnar'] as const) {
      const l = await openAndLoad(browser, server, transport);
      if (l.size !== N) throw new Error(`${transport}: ${l.size} objects loaded, not ${N}`);
      if (l.transport !== transport) throw new Error(`asked for ${transport}, the session used ${l.transport}`);
      emit({ suite: SUITE, metric: 'load', path: transport, cells: l.size, firstAnnotationsMs: Math.round(l.firstMs), allLoadedMs: Math.round(l.allMs), loadavg: load() });
      loads[transport] = l;
      if (transport === 'json') await l.close();
    }
    const oldLoad = loads['json'] as Loaded;
    const newLoad = loads['columnar'] as Loaded;
    emit({ suite: SUITE, metric: 'load_ratio', cells: N, jsonMs: Math.round(oldLoad.allMs), columnarMs: Math.round(newLoad.allMs), jsonOverColumnar: +(oldLoad.allMs / newLoad.allMs).toFixed(2), loadavg: load() });
    Object.assign(targets, { loadAllMsOld: Math.round(oldLoad.allMs), loadAllMs: Math.round(newLoad.allMs), loadUnder8s: newLoad.allMs <= 8000 });

    // ---- triage in the page that loaded through the new path
    const page = newLoad.page;
    const mid = SLIDE_SIZE / 2;
    await page.evaluate(`(${VIEWER}).goTo({ x: ${mid}, y: ${mid}, zoom: 0.5 }, true)`);
    await settle(page, 300_000);
    await page.locator('wsi-viewer').focus();
    const tq = performance.now();
    await page.locator('wsi-viewer').press('g');
    await page.waitForFunction(`(() => { const t = (${VIEWER}).tools.active.tool; return t.order && t.order.length === ${N} && t.current() !== null; })()`, undefined, { timeout: 1_800_000, polling: 100 });
    emit({ suite: SUITE, metric: 'triage_queue', cells: N, ms: Math.round(performance.now() - tq), note: 'triage key to the queue built (predictions fetched, sorted by score) and its first object current', loadavg: load() });
    let worstP95 = 0;
    for (const [name, key] of [
      ['next', '.'],
      ['accept', 'A'],
    ] as const) {
      const r = await triageSteps(page, key, STEPS);
      if (r.moved < STEPS * 0.9) throw new Error(`triage ${name}: the current object changed on ${r.moved} of ${STEPS} keys`);
      const s = stats(r.ms);
      worstP95 = Math.max(worstP95, s.p95);
      emit({ suite: SUITE, metric: 'triage_step', key: name, cells: N, steps: s.n, medianMs: s.median, p95Ms: s.p95, maxMs: s.max, flightMedianMs: stats(r.flightMs).median, loadavg: load() });
    }
    Object.assign(targets, { triageStepP95Ms: worstP95, triageStepUnder50ms: worstP95 <= 50 });
    // back to the select tool, the slide's own view
    await page.locator('wsi-viewer').press('v');

    // ---- panning with every cell loaded (1× and 20× of a 40× scan)
    let worstPan = 0;
    for (const [label, zoom] of [
      ['1x', 1 / 40],
      ['20x', 0.5],
    ] as const) {
      await page.evaluate(`(${VIEWER}).goTo({ x: ${mid}, y: ${mid}, zoom: ${zoom} }, true)`);
      await settle(page, 300_000);
      const r = await pan(page, zoom, PAN_SECONDS);
      const f = stats(r.frames);
      worstPan = Math.max(worstPan, f.p95);
      emit({ suite: SUITE, metric: 'pan', zoom: label, cells: N, frames: f.n, frameMedianMs: f.median, frameP95Ms: f.p95, frameMaxMs: f.max, longTasks: r.longTasks.length, loadavg: load() });
    }
    Object.assign(targets, { panFrameP95Ms: worstPan, panP95Under33ms: worstPan < 33, loadavg: load() });
    emit(targets);
    await newLoad.close();
  } finally {
    await browser.close();
    await server.stop();
    await rm(work, { recursive: true, force: true });
  }
}
