/**
 * Painting benchmark (issue: paint cell-level classes into tiled masks). On
 * the 50,000 × 50,000 bench slide in headless Chromium (no GPU, canvas
 * drawer, 1600 × 900), at 40× (1 screen px per image px):
 *
 * - `strokes`: BENCH_STROKES brush strokes (default 120, brush 60 screen px
 *   = 15 µm) drawn with real mouse events, ~400 px long with 12 points,
 *   one every ~150 ms as a person would: commit-to-visible latency (pointer-
 *   up → the new tiles drawn on screen), frame intervals and long tasks
 *   while painting;
 * - `memory`: resident bytes of the mask per painted pixel (the client's
 *   tiles and cached pyramid levels) and stored bytes per painted pixel
 *   (the server's compressed tiles; the database's growth, history included),
 *   after the strokes and again after three large ROI fills. The database
 *   is measured twice: as found (the file plus its WAL, whose size is
 *   SQLite's working buffer of up to ~1,000 pages, reused and not growth),
 *   and its file alone after a checkpoint (TRUNCATE) moved every WAL page
 *   into it — the durable size of everything stored, history included.
 *   The same measures were taken before the painting;
 * - `history`: the mask history's rows (keyframes and deltas) and bytes
 *   after the strokes, and `restore`: every stored version of every painted
 *   tile read back one by one (GET …/tiles/{tx}/{ty}/versions/{v}), the
 *   whole HTTP round trip, the server's own time and the CPU time it
 *   used (its Server-Timing header), median, p95 and max;
 * - `server_rasterize`: BENCH_RASTER_SERVER_CELLS cell detections (default
 *   100,000) imported, then painted into a mask on the server
 *   (POST …/rasterize) while one client keeps fetching random full-
 *   resolution tiles: the rasterization's time and tiles written, and the
 *   tile latency during it next to the same client's latency before it
 *   (what a pathologist viewing the slide would feel meanwhile).
 */
import { createReadStream, existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Page } from 'playwright-core';
import { CHROMIUM, HAS_CHROMIUM, launchChromium } from '../chromium.js';
import { Readable } from 'node:stream';
import { writeCellsGeojson } from './cells.js';
import { startOurs, type OursStarted } from './peers.js';
import { ensureSlide, SLIDE_SIZE, type Emit } from './tiles-suite.js';
import { rng } from './workloads.js';
import { browserCookies } from '../credentials.js';

const STROKES = Number(process.env['BENCH_STROKES'] ?? 120);
const SERVER_CELLS = Number(process.env['BENCH_RASTER_SERVER_CELLS'] ?? 100_000);
const BRUSH_PX = 60;
const VIEWER = `document.querySelector('wsi-app')?.shadowRoot?.querySelector('wsi-viewer')`;

function stats(values: number[]): { n: number; median: number; p95: number; max: number } {
  const s = [...values].sort((a, b) => a - b);
  const q = (f: number): number => +(s[Math.min(s.length - 1, Math.floor(f * s.length))] ?? Number.NaN).toFixed(1);
  return { n: s.length, median: q(0.5), p95: q(0.95), max: +(s[s.length - 1] ?? Number.NaN).toFixed(1) };
}

async function saved(page: Page): Promise<void> {
  await page.evaluate(`(${VIEWER}).annotationSession.mask.idle()`);
  await page.waitForFunction(`(() => { const s = (${VIEWER}).annotationSession.mask.sync.snapshot; return s.status === 'saved' && s.queued === 0; })()`, undefined, { timeout: 120_000 });
}

interface DbSize {
  /** wsi.db plus wsi.db-wal as found. */
  asFound: number;
  /** wsi.db after a TRUNCATE checkpoint (the WAL is then empty). */
  checkpointed: number;
}

/** The database's size as found, then its file alone once a checkpoint moved the WAL into it (from a connection of our own). */
async function dbBytes(dataDir: string): Promise<DbSize> {
  const file = join(dataDir, 'wsi.db');
  const asFound = (await stat(file)).size + (await stat(`${file}-wal`).catch(() => ({ size: 0 }))).size;
  const db = new Database(file);
  try {
    db.pragma('busy_timeout = 10000');
    const [r] = db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number; log: number; checkpointed: number }>;
    if (!r || r.busy !== 0) throw new Error(`the checkpoint could not complete: ${JSON.stringify(r)}`);
  } finally {
    db.close();
  }
  return { asFound, checkpointed: (await stat(file)).size };
}

/** Painted pixels and bytes per painted pixel; the database counts from `dbBefore` (its size before any painting). */
async function memory(page: Page, base: string, slide: string, annotator: string, dataDir: string, dbBefore: DbSize): Promise<Record<string, number>> {
  await saved(page);
  const m = (await page.evaluate(`(() => { const mk = (${VIEWER}).annotationSession.mask; return { painted: mk.store.paintedPixels(), resident: mk.residentBytes(), tiles: mk.store.size }; })()`)) as { painted: number; resident: number; tiles: number };
  const pack = Buffer.from(await (await fetch(`${base}/api/slides/${slide}/masks/${annotator}/tiles`)).arrayBuffer());
  let stored = 0;
  for (let o = 8, i = 0, n = pack.readUInt32LE(4); i < n; i++) {
    const len = pack.readUInt32LE(o + 12);
    stored += len;
    o += 16 + len;
  }
  const now = await dbBytes(dataDir);
  const found = now.asFound - dbBefore.asFound;
  const file = now.checkpointed - dbBefore.checkpointed;
  return {
    paintedPixels: m.painted,
    tiles: m.tiles,
    residentBytes: m.resident,
    residentBytesPerPaintedPixel: +(m.resident / m.painted).toFixed(4),
    storedBytes: stored,
    storedBytesPerPaintedPixel: +(stored / m.painted).toFixed(4),
    databaseGrowthBytes: file,
    databaseGrowthBytesPerPaintedPixel: +(file / m.painted).toFixed(4),
    databaseWithWalAsFoundGrowthBytes: found,
    databaseWithWalAsFoundGrowthBytesPerPaintedPixel: +(found / m.painted).toFixed(4),
  };
}

export async function masksSuite(root: string, emit: Emit): Promise<void> {
  if (!existsSync(join(root, 'dist', 'index.html'))) throw new Error('run npm run build first');
  if (!HAS_CHROMIUM) {
    emit({ suite: 'masks', metric: 'skipped', reason: `no Chromium at ${CHROMIUM}` });
    return;
  }
  const slideFile = await ensureSlide(root, emit);
  const work = await mkdtemp(join(tmpdir(), 'wsi-bench-masks-'));
  const server = await startOurs(root, slideFile, work);
  const base = new URL(server.dziUrl).origin;
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ viewport: { width: 1600, height: 900 } });
    if (server.session) await context.addCookies(browserCookies(base, server.session));
    const page = await context.newPage();
    page.on('pageerror', (e) => process.stderr.write(`[bench] page error: ${e.message}\n`));
    await page.goto(`${base}/?drawer=canvas#slide=${server.slideId}`);
    await page.waitForFunction(`(${VIEWER})?.annotationSession?.mask?.loaded === true && (${VIEWER}).annotationSession.progress.done === true`, undefined, { timeout: 120_000 });
    const cx = SLIDE_SIZE / 2;
    await page.evaluate(`(${VIEWER}).goTo({ x: ${cx}, y: ${cx}, zoom: 1 }, true)`);
    await page.waitForFunction(`(${VIEWER}).isFullyLoaded()`, undefined, { timeout: 60_000 });
    await page.locator('wsi-viewer').focus();
    await page.locator('wsi-viewer').press('b');
    await page.locator('wsi-viewer').press('t');
    await page.evaluate(`(${VIEWER}).paint.setBrushScreenPx(${BRUSH_PX})`);
    const box = await page.evaluate(`(() => { const r = (${VIEWER}).shadowRoot.querySelector('.osd').getBoundingClientRect(); return { x: r.left, y: r.top, w: r.width, h: r.height }; })()`) as { x: number; y: number; w: number; h: number };
    // frame intervals and long tasks while painting
    await page.evaluate(`(() => {
      window.__frames = []; window.__long = [];
      new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push(e.duration); }).observe({ type: 'longtask' });
      let last = performance.now();
      const tick = (now) => { window.__frames.push(now - last); last = now; if (!window.__stop) requestAnimationFrame(tick); };
      requestAnimationFrame(tick);
    })()`);
    const r = rng(99);
    const dbBefore = await dbBytes(work);
    const t0 = performance.now();
    for (let i = 0; i < STROKES; i++) {
      let x = box.x + 100 + r() * (box.w - 600);
      let y = box.y + 80 + r() * (box.h - 160);
      let a = r() * Math.PI * 2;
      await page.mouse.move(x, y);
      await page.mouse.down();
      for (let k = 0; k < 12; k++) {
        a += (r() - 0.5) * 0.8;
        x = Math.min(box.x + box.w - 20, Math.max(box.x + 20, x + Math.cos(a) * 33));
        y = Math.min(box.y + box.h - 20, Math.max(box.y + 20, y + Math.sin(a) * 33));
        await page.mouse.move(x, y, { steps: 2 });
      }
      await page.mouse.up();
      await page.waitForTimeout(150);
    }
    await saved(page);
    const seconds = (performance.now() - t0) / 1000;
    const run = (await page.evaluate(`(() => { window.__stop = true; return { lat: (${VIEWER}).paint.strokeLatencies.slice(), frames: window.__frames.slice(1), long: window.__long.slice() }; })()`)) as { lat: number[]; frames: number[]; long: number[] };
    const lat = stats(run.lat);
    const frames = stats(run.frames);
    emit({
      suite: 'masks',
      metric: 'strokes',
      zoom: '40x',
      brushUm: (BRUSH_PX * 0.25).toFixed(1),
      strokes: STROKES,
      seconds: +seconds.toFixed(1),
      commitToVisibleMedianMs: lat.median,
      commitToVisibleP95Ms: lat.p95,
      commitToVisibleMaxMs: lat.max,
      measured: lat.n,
      frameMedianMs: frames.median,
      frameP95Ms: frames.p95,
      frameMaxMs: frames.max,
      longTasks: run.long.length,
      longestTaskMs: run.long.length ? Math.round(Math.max(...run.long)) : 0,
    });
    const afterStrokes = await memory(page, base, server.slideId, server.userId, work, dbBefore);
    emit({ suite: 'masks', metric: 'memory', after: 'strokes', ...afterStrokes });
    emit({ suite: 'masks', metric: 'history', after: 'strokes', ...historyRows(work) });
    const restore = await restoreEveryVersion(base, server.slideId, server.userId);
    emit({ suite: 'masks', metric: 'restore', after: 'strokes', ...restore });
    // three large ROI fills (about 3,000–6,000 px across)
    const fills = await page.evaluate(`(async () => {
      const mk = (${VIEWER}).annotationSession.mask;
      const t = [];
      for (const [x, y, rad] of [[${cx - 12000}, ${cx - 9000}, 1500], [${cx + 6000}, ${cx - 4000}, 3000], [${cx - 3000}, ${cx + 9000}, 2200]]) {
        const ring = new Float64Array(400);
        for (let k = 0; k < 200; k++) { const a = k / 200 * Math.PI * 2; const rr = rad * (1 + 0.15 * Math.sin(5 * a)); ring[2 * k] = x + Math.cos(a) * rr; ring[2 * k + 1] = y + Math.sin(a) * rr; }
        const s = performance.now();
        await mk.fillPolygons([[ring]], 2, 'Fill 1 region');
        t.push(performance.now() - s);
      }
      return t;
    })()`) as number[];
    const afterFills = await memory(page, base, server.slideId, server.userId, work, dbBefore);
    emit({ suite: 'masks', metric: 'memory', after: 'strokes+3 ROI fills', fillMs: fills.map((v) => Math.round(v)), ...afterFills });
    emit({
      suite: 'masks',
      metric: 'targets',
      commitToVisibleP95Ms: lat.p95,
      latencyUnder50ms: lat.p95 <= 50,
      residentBytesPerPaintedPixel: afterStrokes.residentBytesPerPaintedPixel,
      residentAtMost1_2: (afterStrokes.residentBytesPerPaintedPixel as number) <= 1.2 && (afterFills.residentBytesPerPaintedPixel as number) <= 1.2,
      storedBytesPerPaintedPixel: afterStrokes.storedBytesPerPaintedPixel,
      databaseGrowthBytesPerPaintedPixel: afterStrokes.databaseGrowthBytesPerPaintedPixel,
      databaseAtMost0_5: (afterStrokes.databaseGrowthBytesPerPaintedPixel as number) <= 0.5,
      restoreMaxMs: restore['maxMs'] ?? null,
      restoreAtMost50ms: typeof restore['maxMs'] === 'number' ? restore['maxMs'] <= 50 : null,
      longestTaskWhilePaintingMs: run.long.length ? Math.round(Math.max(...run.long)) : 0,
    });
    await context.close();
    await serverRasterize(server, work, emit);
  } finally {
    await browser.close();
    await server.stop();
    await rm(work, { recursive: true, force: true });
  }
}

/** The mask history's rows by encoding and their data bytes (read from the database; a server before deltas has no encoding column). */
function historyRows(dataDir: string): Record<string, unknown> {
  const db = new Database(join(dataDir, 'wsi.db'), { readonly: true });
  try {
    const cols = (db.pragma('table_info(mask_history)') as Array<{ name: string }>).map((c) => c.name);
    const enc = cols.includes('encoding') ? 'encoding' : `'zlib'`;
    const rows = db.prepare(`SELECT ${enc} AS encoding, count(*) AS versions, sum(length(data)) AS bytes FROM mask_history GROUP BY 1 ORDER BY 1`).all() as Array<{ encoding: string; versions: number; bytes: number }>;
    return { byEncoding: rows, versions: rows.reduce((n, r) => n + r.versions, 0), dataBytes: rows.reduce((n, r) => n + r.bytes, 0) };
  } finally {
    db.close();
  }
}

/** Reads every stored version of every tile of a mask, one request each; the round-trip times. */
async function restoreEveryVersion(base: string, slide: string, annotator: string): Promise<Record<string, unknown>> {
  const pack = Buffer.from(await (await fetch(`${base}/api/slides/${slide}/masks/${annotator}/tiles`)).arrayBuffer());
  const tiles: Array<[number, number, number]> = [];
  for (let o = 8, i = 0, n = pack.readUInt32LE(4); i < n; i++) {
    tiles.push([pack.readInt32LE(o), pack.readInt32LE(o + 4), pack.readUInt32LE(o + 8)]);
    o += 16 + pack.readUInt32LE(o + 12);
  }
  const ms: number[] = [];
  const server: number[] = [];
  const cpu: number[] = [];
  for (const [tx, ty, head] of tiles) {
    for (let v = 1; v <= head; v++) {
      const t = performance.now();
      const res = await fetch(`${base}/api/slides/${slide}/masks/${annotator}/tiles/${tx}/${ty}/versions/${v}`);
      await res.arrayBuffer();
      if (res.status === 404 && ms.length === 0) return { available: false, reason: 'this server has no route for one version of a tile' };
      if (res.status !== 200) throw new Error(`restore (${tx}, ${ty}) v${v}: ${res.status}`);
      ms.push(performance.now() - t);
      const timing = res.headers.get('server-timing') ?? '';
      const wall = /rebuild;dur=([\d.]+)/.exec(timing);
      const used = /cpu;dur=([\d.]+)/.exec(timing);
      if (wall) server.push(Number(wall[1]));
      if (used) cpu.push(Number(used[1]));
    }
  }
  const s = stats(ms);
  const sv = stats(server);
  const c = stats(cpu);
  return {
    available: true,
    versions: s.n,
    tiles: tiles.length,
    medianMs: s.median,
    p95Ms: s.p95,
    maxMs: s.max,
    serverMedianMs: sv.median,
    serverP95Ms: sv.p95,
    serverMaxMs: sv.max,
    serverCpuMedianMs: c.median,
    serverCpuP95Ms: c.p95,
    serverCpuMaxMs: c.max,
  };
}

/**
 * Fetches random full-resolution tiles one after another until `stop`
 * settles; the latencies (ms) of those served, and how many were refused
 * with 503 (the server sheds tile renders while its event loop lags).
 */
async function probeTiles(server: OursStarted, stop: Promise<unknown>, seed: number): Promise<{ ms: number[]; refused: number }> {
  const r = rng(seed);
  const level = Math.ceil(Math.log2(SLIDE_SIZE));
  const cols = Math.ceil(SLIDE_SIZE / 256);
  let done = false;
  void stop.finally(() => (done = true));
  const out: number[] = [];
  let refused = 0;
  while (!done) {
    const t = performance.now();
    const res = await fetch(server.tileUrl(level, Math.floor(r() * cols), Math.floor(r() * cols)));
    await res.arrayBuffer();
    if (res.status === 503) {
      refused++;
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    if (res.status !== 200) throw new Error(`tile probe: ${res.status}`);
    out.push(performance.now() - t);
  }
  return { ms: out, refused };
}

async function serverRasterize(server: OursStarted, work: string, emit: Emit): Promise<void> {
  const base = new URL(server.dziUrl).origin;
  const file = join(work, 'cells.geojson');
  await writeCellsGeojson(file, SLIDE_SIZE, SLIDE_SIZE, SERVER_CELLS, 7);
  const imp = await fetch(`${base}/api/slides/${server.slideId}/annotations/import?format=qupath-geojson`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/geo+json', 'Idempotency-Key': `bench-cells-${Date.now()}` },
    body: Readable.toWeb(createReadStream(file, { highWaterMark: 1 << 20 })) as ReadableStream,
    duplex: 'half',
  } as RequestInit);
  if (imp.status !== 201 && imp.status !== 200) throw new Error(`import: ${imp.status} ${await imp.text()}`);
  await imp.arrayBuffer();
  const beforeRun = await probeTiles(server, new Promise((resolve) => setTimeout(resolve, 3000)), 5);
  const before = { ...stats(beforeRun.ms), refused: beforeRun.refused };
  const t0 = performance.now();
  const call = fetch(`${base}/api/slides/${server.slideId}/masks/${server.userId}/rasterize`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Idempotency-Key': `bench-rasterize-${Date.now()}` },
    body: JSON.stringify({ objectTypes: ['detection'] }),
  }).then(async (res) => ({ status: res.status, body: (await res.json()) as Record<string, unknown>, ms: performance.now() - t0 }));
  const duringRun = await probeTiles(server, call, 6);
  const during = { ...stats(duringRun.ms), refused: duringRun.refused };
  const r = await call;
  if (r.status !== 201) throw new Error(`rasterize: ${r.status} ${JSON.stringify(r.body)}`);
  emit({
    suite: 'masks',
    metric: 'server_rasterize',
    polygons: r.body['painted'],
    tiles: r.body['tiles'],
    pixels: r.body['pixels'],
    seconds: +(r.ms / 1000).toFixed(2),
    polygonsPerSec: Math.round((r.body['painted'] as number) / (r.ms / 1000)),
    tileLatencyBefore: before,
    tileLatencyDuring: during,
  });
}
