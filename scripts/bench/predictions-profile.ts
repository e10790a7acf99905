/**
 * `npm run bench -- predictions-profile` (issue 13): where the time of the
 * predictions bench's read side goes, not a figure of its own. Imports
 * BENCH_PREDICTIONS_N predictions into a fresh data directory
 * (.bench-cache/predictions/profile-N), then opens the app through the
 * columnar frames (or BENCH_PROFILE_TRANSPORT=json) under Chromium's CPU
 * profiler (CDP), opens the triage queue and steps through it, and prints
 * self time per function for each phase, the server's time per frame
 * (timed apart, no browser) and the phases' wall times.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { CDPSession, Page } from 'playwright-core';
import { HAS_CHROMIUM, launchChromium } from '../chromium.js';
import { browserCookies } from '../credentials.js';
import { importFile, settle } from './annotations-suite.js';
import { writeCellsGeojson } from './cells.js';
import { startOurs } from './peers.js';
import { ensureSlide, SLIDE_SIZE, type Emit } from './tiles-suite.js';

const N = Number(process.env['BENCH_PREDICTIONS_N'] ?? 200_000);
const TRANSPORT = process.env['BENCH_PROFILE_TRANSPORT'] === 'json' ? 'json' : 'columnar';
const VIEWER = `document.querySelector('wsi-app')?.shadowRoot?.querySelector('wsi-viewer')`;
const SUITE = 'predictions-profile';

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
  // imported afresh each run: a server with accounts prints its setup link (the bench's sign-in) only on its first start, so a kept store could not be signed in to again
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const server = await startOurs(root, slideFile, work);
  const base = server.base;
  const marker = join(work, 'imported');
  try {
    if (!existsSync(marker)) {
      const res = await fetch(`${base}/api/slides/${server.slideId}/model-runs`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Idempotency-Key': `prof-${Date.now()}` }, body: JSON.stringify({ model: { name: 'bench-cellnet', version: '1' }, parameters: { n: N } }) });
      const run = (await res.json()) as { id: string };
      const imp = await importFile(base, server.slideId, file, `model-runs/${run.id}/predictions?format=qupath-geojson`);
      if (imp.status !== 201) throw new Error(`import failed: ${JSON.stringify(imp.report).slice(0, 300)}`);
      await writeFile(marker, String(imp.ms));
    }
    emit({ suite: SUITE, cells: N, importedMsEarlier: Number(await readFile(marker, 'utf8')) });
    // the server alone: each frame of the listing, timed from Node
    const pageSize = TRANSPORT === 'columnar' ? 50_000 : 20_000;
    const frames: Array<{ ms: number; bytes: number }> = [];
    let after = 0;
    const headers = { cookie: `${server.session ? browserCookies(base, server.session).map((c) => `${c.name}=${c.value}`).join('; ') : ''}` };
    for (;;) {
      const t0 = performance.now();
      const url = TRANSPORT === 'columnar' ? `${base}/api/slides/${server.slideId}/annotations-columnar?v=1&layer=working&limit=${pageSize}&after=${after}` : `${base}/api/slides/${server.slideId}/annotations?layer=working&limit=${pageSize}&after=${after}`;
      const res = await fetch(url, { headers });
      const buf = new Uint8Array(await res.arrayBuffer());
      frames.push({ ms: Math.round(performance.now() - t0), bytes: buf.length });
      if (res.status !== 200) throw new Error(`listing: ${res.status}`);
      const next = TRANSPORT === 'columnar' ? new DataView(buf.buffer, buf.byteOffset).getFloat64(16, true) : ((JSON.parse(new TextDecoder().decode(buf)) as { next: number | null }).next ?? -1);
      if (next === -1) break;
      after = next;
    }
    emit({ suite: SUITE, phase: 'server-listing', transport: TRANSPORT, frames, totalMs: frames.reduce((s, f) => s + f.ms, 0), totalMB: +(frames.reduce((s, f) => s + f.bytes, 0) / 2 ** 20).toFixed(1) });

    const browser = await launchChromium();
    try {
      const context = await browser.newContext({ viewport: { width: 1600, height: 900 }, bypassCSP: true });
      if (server.session) await context.addCookies(browserCookies(base, server.session));
      const page: Page = await context.newPage();
      page.on('pageerror', (e) => process.stderr.write(`[profile] page error: ${e.message}\n`));
      const cdp = await context.newCDPSession(page);
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.setSamplingInterval', { interval: 500 });
      await profiled(cdp, `load-${TRANSPORT}`, emit, async () => {
        await page.goto(`${base}/?drawer=canvas${TRANSPORT === 'json' ? '&transport=json' : ''}#slide=${server.slideId}`);
        await page.waitForFunction(`(${VIEWER})?.annotationSession?.progress?.done === true`, undefined, { timeout: 1_800_000, polling: 100 });
      });
      const marks = await page.evaluate(`performance.getEntriesByType('measure').map((m) => ({ name: m.name, start: Math.round(m.startTime), ms: Math.round(m.duration) }))`);
      emit({ suite: SUITE, phase: 'measures', marks });
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
    } finally {
      await browser.close();
    }
  } finally {
    await server.stop();
  }
}
