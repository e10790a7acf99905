/**
 * `npm run bench -- list-profile` (issue 11): what a frame of the annotation
 * list costs the renderer's main thread, not a figure of its own. Imports
 * BENCH_CELLS cells into a fresh data directory, opens the app with the list,
 * and per round measures frames driven by requestAnimationFrame — the list
 * still, scrolled a few rows a frame, jumped anywhere every frame — through
 * Chromium's own counters (CDP Performance.getMetrics: main-thread CPU time,
 * script, style and layout time), which other processes on the machine
 * barely move, unlike frame intervals. It then times a sort by area,
 * records a trace of scrolled frames (thread time per event), and prints
 * self time per function (CDP Profiler) for the jumps and the sort.
 *
 * BENCH_LIST_AB_DIST=<dir>: a second page whose app files (everything but
 * /api and /dzi) come from that directory — another build's `dist`, such as
 * main's — measured in the same rounds, alternated with this build's page
 * (A/B in one run). BENCH_LIST_FRAMES (default 120 per mode and round),
 * BENCH_LIST_AB_ROUNDS (default 4).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, CDPSession, Page } from 'playwright-core';
import { HAS_CHROMIUM, launchChromium } from '../chromium.js';
import { browserCookies } from '../credentials.js';
import { ensureCells, importFile, stats } from './annotations-suite.js';
import { startOurs } from './peers.js';
import { selfTimes, type Profile } from './predictions-profile.js';
import { ensureSlide, type Emit } from './tiles-suite.js';

const SUITE = 'list-profile';
const AB_DIST = process.env['BENCH_LIST_AB_DIST'] ?? '';
const FRAMES = Number(process.env['BENCH_LIST_FRAMES'] ?? 120);
const ROUNDS = Number(process.env['BENCH_LIST_AB_ROUNDS'] ?? 4);
const VIEWER = `document.querySelector('wsi-app')?.shadowRoot?.querySelector('wsi-viewer')`;
const LIST = `(${VIEWER}).shadowRoot.querySelector('wsi-annotation-list')`;
const NEXT_FRAME = `new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))`;
/** Chromium's counters read around each run (seconds, as CDP gives them). */
const METRICS = ['ThreadTime', 'TaskDuration', 'ScriptDuration', 'RecalcStyleDuration', 'LayoutDuration'] as const;
type Mode = 'still' | 'smooth' | 'jump';

interface Variant {
  name: string;
  page: Page;
  cdp: CDPSession;
  /** Per mode: main-thread ms per frame for each counter, one entry per round. */
  perFrame: Record<Mode, Record<string, number[]>>;
  frameP95: Record<Mode, number[]>;
  sortMs: number[];
}

async function metrics(cdp: CDPSession): Promise<Record<string, number>> {
  const { metrics: m } = (await cdp.send('Performance.getMetrics')) as { metrics: Array<{ name: string; value: number }> };
  return Object.fromEntries(m.map((x) => [x.name, x.value]));
}

/** Serves the app's files (not /api, /dzi) of this context from `dir`. */
async function serveAppFrom(context: BrowserContext, dir: string): Promise<void> {
  await context.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    if (url.pathname.startsWith('/api/') || url.pathname.startsWith('/dzi/')) return route.continue();
    const file = join(dir, url.pathname === '/' ? 'index.html' : url.pathname);
    if (!existsSync(file)) return route.continue();
    return route.fulfill({ path: file });
  });
}

/** `frames` animation frames, each moving the list as `mode` says (as the annotations suite's scroll runs). */
function drive(page: Page, mode: Mode, frames: number, seed: number): Promise<number[]> {
  return page.evaluate(`(async () => {
    const list = ${LIST};
    const vp = list.shadowRoot.querySelector('.viewport');
    let s = ${seed};
    const rnd = () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648; };
    const out = [];
    await new Promise((resolve) => {
      let last = performance.now();
      let n = 0;
      const tick = (now) => {
        out.push(now - last);
        last = now;
        if (${JSON.stringify(mode)} === 'smooth') vp.scrollTop += 66;
        else if (${JSON.stringify(mode)} === 'jump') vp.scrollTop = rnd() * (vp.scrollHeight - vp.clientHeight);
        if (++n < ${frames}) requestAnimationFrame(tick); else resolve();
      };
      requestAnimationFrame(tick);
    });
    await ${NEXT_FRAME};
    return out.slice(1);
  })()`);
}

async function open(context: BrowserContext, base: string, slide: string, name: string): Promise<Variant> {
  const page = await context.newPage();
  page.on('pageerror', (e) => process.stderr.write(`[${SUITE} ${name}] page error: ${e.message}\n`));
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable', { timeDomain: 'threadTicks' });
  await page.goto(`${base}/?drawer=canvas#slide=${slide}`);
  await page.waitForFunction(`(${VIEWER})?.annotationSession?.progress?.done === true`, undefined, { timeout: 1_800_000, polling: 200 });
  await page.evaluate(`(async () => { const v = ${VIEWER}; v.showList = true; await v.updateComplete; await ${LIST}.updateComplete; await ${NEXT_FRAME}; })()`);
  const empty = (): Record<string, number[]> => Object.fromEntries(METRICS.map((k) => [k, []]));
  return { name, page, cdp, perFrame: { still: empty(), smooth: empty(), jump: empty() }, frameP95: { still: [], smooth: [], jump: [] }, sortMs: [] };
}

interface TraceEvent {
  name: string;
  ph: string;
  pid: number;
  tid: number;
  dur?: number;
  tdur?: number;
  args?: { name?: string };
}

/**
 * Chromium's trace of `FRAMES` frames driven as `mode` says: per event name
 * on the page's main thread, thread time (CPU, µs in the trace) per frame.
 * Events nest (a task holds its layout and paint), so the names overlap.
 */
async function traced(v: Variant, mode: Mode): Promise<{ perFrameThreadMs: Record<string, number> }> {
  const events: TraceEvent[] = [];
  const onData = (e: { value: object[] }): void => void events.push(...(e.value as TraceEvent[]));
  v.cdp.on('Tracing.dataCollected', onData);
  await v.cdp.send('Tracing.start', { categories: 'devtools.timeline,disabled-by-default-devtools.timeline', transferMode: 'ReportEvents' });
  await drive(v.page, mode, FRAMES, 7);
  const done = new Promise<void>((res) => v.cdp.once('Tracing.tracingComplete', () => res()));
  await v.cdp.send('Tracing.end');
  await done;
  v.cdp.off('Tracing.dataCollected', onData);
  // the main thread of the renderer that ran the frames: the one with the most animation frames fired
  const mains = new Set(events.filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain').map((e) => `${e.pid}:${e.tid}`));
  const frames = new Map<string, number>();
  for (const e of events) if (e.name === 'FireAnimationFrame' && mains.has(`${e.pid}:${e.tid}`)) frames.set(`${e.pid}:${e.tid}`, (frames.get(`${e.pid}:${e.tid}`) ?? 0) + 1);
  const main = [...frames.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  const sums = new Map<string, number>();
  for (const e of events) if (e.ph === 'X' && `${e.pid}:${e.tid}` === main) sums.set(e.name, (sums.get(e.name) ?? 0) + (e.tdur ?? e.dur ?? 0));
  const top = [...sums.entries()].sort((a, b) => b[1] - a[1]).slice(0, 24);
  return { perFrameThreadMs: Object.fromEntries(top.map(([k, us]) => [k, +(us / 1000 / FRAMES).toFixed(3)])) };
}

export async function listProfileSuite(root: string, emit: Emit): Promise<void> {
  if (!HAS_CHROMIUM) throw new Error('no Chromium');
  if (AB_DIST && !existsSync(join(AB_DIST, 'index.html'))) throw new Error(`BENCH_LIST_AB_DIST=${AB_DIST} has no index.html (give a built dist directory)`);
  const slideFile = await ensureSlide(root, emit);
  const cells = await ensureCells(root, emit);
  const cellsN = Number(process.env['BENCH_CELLS'] ?? 1_000_000);
  // a fresh store each run: the bench account's credentials come from the setup token of a new one
  const work = await mkdtemp(join(tmpdir(), 'wsi-list-profile-'));
  const server = await startOurs(root, slideFile, work);
  const base = server.base;
  const browser = await launchChromium();
  try {
    const imp = await importFile(base, server.slideId, cells);
    if (imp.status !== 201) throw new Error(`import failed (${imp.status}): ${JSON.stringify(imp.report).slice(0, 300)}`);
    emit({ suite: SUITE, cells: cellsN, importMs: Math.round(imp.ms) });
    const variants: Variant[] = [];
    for (const [name, dir] of [['this build', ''], ...(AB_DIST ? [['ab-dist', AB_DIST]] : [])] as Array<[string, string]>) {
      const context = await browser.newContext({ viewport: { width: 1600, height: 900 }, bypassCSP: true });
      if (server.session) await context.addCookies(browserCookies(base, server.session));
      if (dir) await serveAppFrom(context, dir);
      variants.push(await open(context, base, server.slideId, name));
    }
    for (let round = 0; round < ROUNDS; round++) {
      // alternate which page goes first, so a change in the machine's load falls on both
      const order = round % 2 === 0 ? variants : [...variants].reverse();
      for (const v of order) {
        await v.page.bringToFront();
        for (const mode of ['still', 'smooth', 'jump'] as const) {
          const m0 = await metrics(v.cdp);
          const frames = await drive(v.page, mode, FRAMES, 4242 + round);
          const m1 = await metrics(v.cdp);
          for (const k of METRICS) v.perFrame[mode][k]?.push((((m1[k] ?? 0) - (m0[k] ?? 0)) * 1000) / FRAMES);
          v.frameP95[mode].push(stats(frames).p95);
        }
        const sort = (await v.page.evaluate(`(async () => {
          const list = ${LIST};
          const t0 = performance.now();
          list.sortBy('area', ${round % 2 === 0});
          await list.updateComplete;
          await ${NEXT_FRAME};
          return performance.now() - t0;
        })()`)) as number;
        v.sortMs.push(sort);
      }
    }
    const r = (x: number): number => +x.toFixed(2);
    for (const v of variants) {
      for (const mode of ['still', 'smooth', 'jump'] as const) {
        const per = Object.fromEntries(METRICS.map((k) => [`${k}MsPerFrame`, r(stats(v.perFrame[mode][k] ?? []).median)]));
        emit({ suite: SUITE, variant: v.name, mode, rounds: ROUNDS, framesPerRound: FRAMES, ...per, threadMsPerFrameRounds: (v.perFrame[mode]['ThreadTime'] ?? []).map(r), frameP95Ms: v.frameP95[mode].map(r), loadavg: loadavg().map((x) => +x.toFixed(2)) });
      }
      emit({ suite: SUITE, variant: v.name, step: 'sort by area to the next frame', msMedian: Math.round(stats(v.sortMs).median), ms: v.sortMs.map(Math.round) });
    }
    // where this build's time goes: self time per function over the jumps, then over sorts by area
    const v = variants[0] as Variant;
    await v.page.bringToFront();
    await v.cdp.send('Profiler.enable');
    await v.cdp.send('Profiler.setSamplingInterval', { interval: 200 });
    for (const mode of ['smooth', 'jump'] as const) emit({ suite: SUITE, variant: v.name, trace: mode, ...(await traced(v, mode)) });
    for (const phase of ['jump', 'sort'] as const) {
      await v.cdp.send('Profiler.start');
      if (phase === 'jump') await drive(v.page, 'jump', FRAMES * 2, 99);
      else await v.page.evaluate(`(async () => { const list = ${LIST}; for (let i = 0; i < 4; i++) { list.sortBy('area', i % 2 === 0); await list.updateComplete; await ${NEXT_FRAME}; } })()`);
      const { profile } = (await v.cdp.send('Profiler.stop')) as unknown as { profile: Profile };
      emit({ suite: SUITE, variant: v.name, profile: phase, mainThreadSelf: selfTimes(profile, 30) });
    }
  } finally {
    await browser.close();
    await server.stop();
    await rm(work, { recursive: true, force: true });
  }
}
