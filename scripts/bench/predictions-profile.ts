/**
 * `npm run bench -- predictions-profile` (issue 13): where the time of the
 * predictions bench's read side goes, not a figure of its own. Imports
 * BENCH_PREDICTIONS_N predictions into a fresh data directory
 * (.bench-cache/predictions/profile-N), then opens the app through the
 * columnar frames (or BENCH_PROFILE_TRANSPORT=json) under Chromium's CPU
 * profiler (CDP), opens the triage queue and steps through it, and prints
 * self time per function for each phase, the server's time per frame
 * (timed apart, no browser) and the phases' wall times.
 *
 * BENCH_PROFILE_PHASES (comma list of listing, load, triage, pan; default
 * all) picks the phases; BENCH_PROFILE_KEEP=1 keeps the imported store from
 * the last run of the same N (signed in again by password) instead of
 * importing afresh; BENCH_PROFILE_TRACE=<file> also writes a Chromium trace
 * of the load (every thread: the loader worker, raster, GC) and prints each
 * thread's busy time by event. BENCH_PROFILE_ROOT=<checkout> serves another
 * checkout's build (server and app) on the same store: an A/B of the load
 * against a kept store, alternated in one session.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { CDPSession, Page } from 'playwright-core';
import { HAS_CHROMIUM, launchChromium } from '../chromium.js';
import { browserCookies, type Session } from '../credentials.js';
import { importFile, settle } from './annotations-suite.js';
import { writeCellsGeojson } from './cells.js';
import { startOurs } from './peers.js';
import { ensureSlide, SLIDE_SIZE, type Emit } from './tiles-suite.js';

const N = Number(process.env['BENCH_PREDICTIONS_N'] ?? 200_000);
const TRANSPORT = process.env['BENCH_PROFILE_TRANSPORT'] === 'json' ? 'json' : 'columnar';
const VIEWER = `document.querySelector('wsi-app')?.shadowRoot?.querySelector('wsi-viewer')`;
const SUITE = 'predictions-profile';
const PHASES = new Set((process.env['BENCH_PROFILE_PHASES'] ?? 'listing,load,triage,pan').split(',').map((s) => s.trim()));
const KEEP = process.env['BENCH_PROFILE_KEEP'] === '1';
const TRACE = process.env['BENCH_PROFILE_TRACE'] ?? '';
const APP_ROOT = process.env['BENCH_PROFILE_ROOT'];

export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
export interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time (ms) per function, the largest first. */
export function selfTimes(p: Profile, top = 25): Array<{ fn: string; ms: number }> {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const acc = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const n = byId.get(id);
    if (!n) return;
    const f = n.callFrame;
    const key = `${f.functionName || '(anon)'} ${f.url.split('/').pop() ?? ''}:${f.lineNumber + 1}`;
    acc.set(key, (acc.get(key) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  });
  return [...acc.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([fn, ms]) => ({ fn, ms: Math.round(ms) }));
}

/** The main thread's sampled time not idle (ms): its CPU, robust to the machine's load. */
function busyMs(p: Profile): number {
  const idle = new Set(p.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
  let us = 0;
  p.samples.forEach((id, i) => {
    if (!idle.has(id)) us += p.timeDeltas[i] ?? 0;
  });
  return Math.round(us / 1000);
}

/** Where a trace's time went: per thread (its name), the top-level duration of each event name, the largest first. */
const TRACE_CATEGORIES = ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8', 'v8.execute', 'blink', 'toplevel', 'disabled-by-default-v8.gc'];
interface TraceEvent {
  ph: string;
  name: string;
  pid: number;
  tid: number;
  ts: number;
  dur?: number;
  args?: { name?: string };
}
interface TraceFile {
  traceEvents: TraceEvent[];
}

/** Per thread (named), the busy time of its top-level complete events (nested ones not counted twice) and the largest event names by their own duration. */
export function threadBusy(trace: TraceFile, top = 12): Array<{ thread: string; busyMs: number; events: Array<{ name: string; ms: number }> }> {
  const names = new Map<string, string>();
  for (const e of trace.traceEvents) if (e.ph === 'M' && e.name === 'thread_name') names.set(`${e.pid}:${e.tid}`, e.args?.name ?? '?');
  const byThread = new Map<string, TraceEvent[]>();
  for (const e of trace.traceEvents) {
    if (e.ph !== 'X' || e.dur === undefined) continue;
    const k = `${e.pid}:${e.tid}`;
    let list = byThread.get(k);
    if (!list) byThread.set(k, (list = []));
    list.push(e);
  }
  const out: Array<{ thread: string; busyMs: number; events: Array<{ name: string; ms: number }> }> = [];
  for (const [k, list] of byThread) {
    list.sort((a, b) => a.ts - b.ts || (b.dur ?? 0) - (a.dur ?? 0));
    let busy = 0;
    let end = -Infinity;
    const self = new Map<string, number>();
    // a stack of open events: each event's own time is its duration less its children's
    const stack: Array<{ e: TraceEvent; child: number }> = [];
    const close = (upTo: number): void => {
      while (stack.length && (stack[stack.length - 1] as { e: TraceEvent }).e.ts + ((stack[stack.length - 1] as { e: TraceEvent }).e.dur ?? 0) <= upTo) {
        const { e, child } = stack.pop() as { e: TraceEvent; child: number };
        self.set(e.name, (self.get(e.name) ?? 0) + (e.dur ?? 0) - child);
      }
    };
    for (const e of list) {
      close(e.ts);
      const parent = stack[stack.length - 1];
      if (parent) parent.child += e.dur ?? 0;
      stack.push({ e, child: 0 });
      const eEnd = e.ts + (e.dur ?? 0);
      if (eEnd > end) {
        busy += eEnd - Math.max(end, e.ts);
        end = eEnd;
      }
    }
    close(Infinity);
    const events = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => ({ name, ms: Math.round(us / 1000) }));
    out.push({ thread: names.get(k) ?? k, busyMs: Math.round(busy / 1000), events });
  }
  return out.filter((t) => t.busyMs >= 50).sort((a, b) => b.busyMs - a.busyMs);
}

async function profiled<T>(cdp: CDPSession, name: string, emit: Emit, fn: () => Promise<T>): Promise<T> {
  await cdp.send('Profiler.start');
  const t0 = performance.now();
  const out = await fn();
  const wallMs = Math.round(performance.now() - t0);
  const { profile } = (await cdp.send('Profiler.stop')) as unknown as { profile: Profile };
  emit({ suite: SUITE, phase: name, wallMs, busyMs: busyMs(profile), mainThreadSelf: selfTimes(profile), loadavg: loadavg().map((v) => +v.toFixed(2)) });
  return out;
}

export async function predictionsProfileSuite(root: string, emit: Emit): Promise<void> {
  if (!HAS_CHROMIUM) throw new Error('no Chromium');
  const slideFile = await ensureSlide(root, emit);
  const dir = join(root, '.bench-cache', 'predictions');
  const file = join(dir, `predictions-${N}-on-${SLIDE_SIZE}.geojson`);
  if (!existsSync(file)) {
    await mkdir(dir, { recursive: true });
    await writeCellsGeojson(file, SLIDE_SIZE, SLIDE_SIZE, N, 13, true);
  }
  const work = join(dir, `profile-${N}`);
  const marker = join(work, 'imported');
  // imported afresh each run unless kept (a kept store's admin signs in by password: the setup link is printed only on the first start)
  const kept = KEEP && existsSync(marker);
  if (!kept) {
    await rm(work, { recursive: true, force: true });
    await mkdir(work, { recursive: true });
  }
  const server = await startOurs(APP_ROOT ?? root, slideFile, work);
  const base = server.base;
  try {
    if (!existsSync(marker)) {
      const res = await fetch(`${base}/api/slides/${server.slideId}/model-runs`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Idempotency-Key': `prof-${Date.now()}` }, body: JSON.stringify({ model: { name: 'bench-cellnet', version: '1' }, parameters: { n: N } }) });
      const run = (await res.json()) as { id: string };
      const imp = await importFile(base, server.slideId, file, `model-runs/${run.id}/predictions?format=qupath-geojson`);
      if (imp.status !== 201) throw new Error(`import failed: ${JSON.stringify(imp.report).slice(0, 300)}`);
      await writeFile(marker, String(imp.ms));
    }
    emit({ suite: SUITE, cells: N, importedMsEarlier: Number(await readFile(marker, 'utf8')), appRoot: APP_ROOT ?? root });
    // the server alone: each frame of the listing, timed from Node
    if (PHASES.has('listing')) await serverListing(base, server.slideId, server.session, emit);
    if (!PHASES.has('load') && !PHASES.has('triage') && !PHASES.has('pan')) return;
    const browser = await launchChromium();
    try {
      const context = await browser.newContext({ viewport: { width: 1600, height: 900 }, bypassCSP: true });
      if (server.session) await context.addCookies(browserCookies(base, server.session));
      const page: Page = await context.newPage();
      page.on('pageerror', (e) => process.stderr.write(`[profile] page error: ${e.message}\n`));
      const cdp = await context.newCDPSession(page);
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.setSamplingInterval', { interval: 500 });
      if (TRACE) await browser.startTracing(page, { path: TRACE, categories: TRACE_CATEGORIES });
      await profiled(cdp, `load-${TRANSPORT}`, emit, async () => {
        await page.goto(`${base}/?drawer=canvas${TRANSPORT === 'json' ? '&transport=json' : ''}#slide=${server.slideId}`);
        await page.waitForFunction(`(${VIEWER})?.annotationSession?.progress?.done === true`, undefined, { timeout: 1_800_000, polling: 100 });
      });
      if (TRACE) {
        await browser.stopTracing();
        emit({ suite: SUITE, phase: 'trace', file: TRACE, threads: threadBusy(JSON.parse(await readFile(TRACE, 'utf8')) as TraceFile) });
      }
      const loadTimes = await page.evaluate(`(${VIEWER}).annotationSession.loadTimes`);
      emit({ suite: SUITE, phase: 'load-times', ...(loadTimes as object) });
      if (PHASES.has('triage')) await triagePhases(page, cdp, emit);
      if (PHASES.has('pan')) await panPhases(page, cdp, emit);
    } finally {
      await browser.close();
    }
  } finally {
    await server.stop();
  }
}

/** The columnar (or JSON) listing of the working layer, frame by frame, timed from Node (no browser). */
async function serverListing(base: string, slideId: string, session: Session | null, emit: Emit): Promise<void> {
  const pageSize = TRANSPORT === 'columnar' ? 50_000 : 20_000;
  const frames: Array<{ ms: number; bytes: number }> = [];
  let after = 0;
  const headers = { cookie: `${session ? browserCookies(base, session).map((c) => `${c.name}=${c.value}`).join('; ') : ''}` };
  for (;;) {
    const t0 = performance.now();
    const url = TRANSPORT === 'columnar' ? `${base}/api/slides/${slideId}/annotations-columnar?v=1&layer=working&limit=${pageSize}&after=${after}` : `${base}/api/slides/${slideId}/annotations?layer=working&limit=${pageSize}&after=${after}`;
    const res = await fetch(url, { headers });
    const buf = new Uint8Array(await res.arrayBuffer());
    frames.push({ ms: Math.round(performance.now() - t0), bytes: buf.length });
    if (res.status !== 200) throw new Error(`listing: ${res.status}`);
    const next = TRANSPORT === 'columnar' ? new DataView(buf.buffer, buf.byteOffset).getFloat64(16, true) : ((JSON.parse(new TextDecoder().decode(buf)) as { next: number | null }).next ?? -1);
    if (next === -1) break;
    after = next;
  }
  emit({ suite: SUITE, phase: 'server-listing', transport: TRANSPORT, frames, totalMs: frames.reduce((s, f) => s + f.ms, 0), totalMB: +(frames.reduce((s, f) => s + f.bytes, 0) / 2 ** 20).toFixed(1) });
}

/** The triage queue built, then 15 steps of each key, each profiled. */
async function triagePhases(page: Page, cdp: CDPSession, emit: Emit): Promise<void> {
  const mid = SLIDE_SIZE / 2;
  await page.evaluate(`(${VIEWER}).goTo({ x: ${mid}, y: ${mid}, zoom: 0.5 }, true)`);
  await settle(page, 300_000);
  await page.locator('wsi-viewer').focus();
  await profiled(cdp, 'triage-queue', emit, async () => {
    await page.locator('wsi-viewer').press('g');
    await page.waitForFunction(`(() => { const t = (${VIEWER}).tools.active.tool; return t.order && t.order.length === ${N} && t.current() !== null; })()`, undefined, { timeout: 1_800_000, polling: 100 });
  });
  for (const key of ['.', 'A']) {
    await profiled(cdp, `triage-step ${key}`, emit, async () => {
      const ms = await page.evaluate(`(async () => {
        const v = ${VIEWER};
        const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
        const ms = [];
        v.annotationLayer.drawTimes.length = 0;
        for (let i = 0; i < 15; i++) {
          const t0 = performance.now();
          v.dispatchEvent(new KeyboardEvent('keydown', { key: ${JSON.stringify(key)}, bubbles: true, composed: true, cancelable: true }));
          await frame();
          ms.push(Math.round(performance.now() - t0));
          for (let k = 0; k < 40; k++) await frame();
        }
        const d = [...v.annotationLayer.drawTimes].sort((a, b) => a - b);
        return { ms, draws: { n: d.length, median: +d[d.length >> 1].toFixed(2), p95: +d[Math.floor(d.length * 0.95)].toFixed(2), sum: Math.round(d.reduce((a, b) => a + b, 0)) } };
      })()`);
      emit({ suite: SUITE, phase: `steps ${key}`, ...(ms as object) });
    });
  }
}

/** A pan at 20×, as vectors and as level-of-detail tiles, profiled. */
async function panPhases(page: Page, cdp: CDPSession, emit: Emit): Promise<void> {
  const mid = SLIDE_SIZE / 2;
  await page.locator('wsi-viewer').press('v');
  // at 20× the bench's 10⁶ cells are drawn as level-of-detail tiles (more than the vector limit in view), fewer objects as vectors: both are profiled
  for (const mode of ['vector', 'lod'] as const) {
    await page.evaluate(`(() => { const v = ${VIEWER}; v.annotationLayer.vectorLimit = ${mode === 'lod' ? 0 : 1500}; v.goTo({ x: ${mid}, y: ${mid}, zoom: 0.5 }, true); })()`);
    await settle(page, 300_000);
    await profiled(cdp, `pan-20x ${mode}`, emit, async () => {
      await page.evaluate(`(async () => {
        const v = ${VIEWER};
        const s = v.getView();
        v.annotationLayer.drawTimes.length = 0;
        for (let i = 0; i < 120; i++) {
          v.goTo({ x: s.x + i * 24, y: s.y, zoom: 0.5 }, true);
          await new Promise((r) => requestAnimationFrame(r));
        }
      })()`);
    });
    const draws = await page.evaluate(`(() => { const l = (${VIEWER}).annotationLayer; const d = [...l.drawTimes].slice(-120).sort((a, b) => a - b); return { mode: l.lastMode, n: d.length, median: d[d.length >> 1], p95: d[Math.floor(d.length * 0.95)] }; })()`);
    emit({ suite: SUITE, phase: `pan-20x ${mode} draws`, draws });
  }
}
