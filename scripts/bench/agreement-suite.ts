/**
 * Agreement benchmark (issue 14). On the bench slide, three readers' masks
 * are painted through the mask API (each reader their own, signed in as
 * themselves): tissue regions of three classes whose boundaries each reader
 * puts a few tens of pixels apart, and nuclei (discs of 6 px radius, two
 * classes) on a jittered 40-px grid, each reader missing some and placing
 * the rest a pixel or two off; the third reader leaves one tile in ten
 * unpainted. So every tile of the ROI holds boundaries and must be inflated
 * and counted pixel by pixel (no tile is one class). Then, as the manager:
 *
 * - `agreement`: GET …/agreement over a square ROI of BENCH_AGREEMENT_SIDE²
 *   level-0 pixels (default 32,768² = 1.07 Gpx, not tile-aligned), three
 *   runs: the round trip, the server's own time and the server process's
 *   CPU time (all threads: on an unshared 2-core machine the wall time is
 *   about half of it), median and each;
 * - `map_build`: the first disagreement-map request (the whole slide's
 *   painted tiles counted in 64-px blocks), and `map_tiles`: BENCH_MAP_TILES
 *   random map tiles over every level afterwards (median, p95, max);
 * - `point`: who-said-what at random points (median, p95).
 *
 * The machine's load average is recorded with each figure (the bench
 * machine may be shared).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { anonymous, cookiesOf, sessionHeaders, type Session } from '../credentials.js';
import { startOurs } from './peers.js';
import { ensureSlide, SLIDE_SIZE, type Emit } from './tiles-suite.js';

const SIDE = Number(process.env['BENCH_AGREEMENT_SIDE'] ?? 32_768);
const MAP_TILES = Number(process.env['BENCH_MAP_TILES'] ?? 300);
const T = 512;
const PASSWORD = 'bench agreement password';

function hash(a: number, b: number, c: number): number {
  let h = (a * 374761393 + b * 668265263 + c * 2147483647) | 0;
  h = Math.imul(h ^ (h >>> 13), 1274126177);
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

function stats(values: number[]): { n: number; median: number; p95: number; max: number } {
  const s = [...values].sort((a, b) => a - b);
  const q = (f: number): number => +(s[Math.min(s.length - 1, Math.floor(f * s.length))] ?? Number.NaN).toFixed(1);
  return { n: s.length, median: q(0.5), p95: q(0.95), max: +(s[s.length - 1] ?? Number.NaN).toFixed(1) };
}

/** Reader k's tile (tx, ty), or null when the reader left it unpainted. */
function paintTile(k: number, tx: number, ty: number, width: number, height: number): Uint8Array | null {
  if (k === 2 && hash(tx, ty, 99) < 0.1) return null;
  const px = new Uint8Array(T * T);
  const w = Math.min(T, width - tx * T);
  const h = Math.min(T, height - ty * T);
  if (w <= 0 || h <= 0) return null;
  for (let y = 0; y < h; y++) {
    const gy = ty * T + y;
    for (let x = 0; x < w; x++) {
      const gx = tx * T + x;
      const region = Math.floor((gx + 24 * k) / 2900) + 3 * Math.floor((gy - 16 * k) / 3100);
      px[y * T + x] = 1 + (((region % 3) + 3) % 3);
    }
  }
  // nuclei on a jittered 40-px grid (the ones whose disc reaches into this tile)
  const G = 40;
  for (let cy = Math.floor((ty * T - 8) / G); cy * G <= ty * T + T + 8; cy++) {
    for (let cx = Math.floor((tx * T - 8) / G); cx * G <= tx * T + T + 8; cx++) {
      if (hash(cx, cy, 7 + k) < 0.12) continue; // this reader missed it
      const x0 = cx * G + 20 + Math.floor(hash(cx, cy, 1) * 16) - 8 + Math.floor(hash(cx, cy, 20 + k) * 3) - 1;
      const y0 = cy * G + 20 + Math.floor(hash(cx, cy, 2) * 16) - 8 + Math.floor(hash(cx, cy, 30 + k) * 3) - 1;
      const cls = hash(cx, cy, 3) < (k === 1 ? 0.6 : 0.5) ? 4 : 5;
      for (let y = Math.max(0, y0 - 6 - ty * T); y <= Math.min(h - 1, y0 + 6 - ty * T); y++) {
        for (let x = Math.max(0, x0 - 6 - tx * T); x <= Math.min(w - 1, x0 + 6 - tx * T); x++) {
          const dx = tx * T + x + 0.5 - x0;
          const dy = ty * T + y + 0.5 - y0;
          if (dx * dx + dy * dy <= 36) px[y * T + x] = cls;
        }
      }
    }
  }
  return px;
}

export async function agreementSuite(root: string, emit: Emit): Promise<void> {
  const slideFile = await ensureSlide(root, emit);
  const work = await mkdtemp(join(tmpdir(), 'wsi-bench-agreement-'));
  const server = await startOurs(root, slideFile, work);
  const base = server.base;
  try {
    if (!server.session) throw new Error('the agreement bench needs a server with accounts');
    const admin = server.session;
    const asAdmin = (method: string, path: string, body?: unknown): Promise<Response> =>
      anonymous(`${base}${path}`, { method, headers: sessionHeaders(base, admin, body === undefined ? {} : { 'Content-Type': 'application/json', 'Idempotency-Key': crypto.randomUUID() }), ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const projects = (await (await asAdmin('GET', '/api/projects')).json()) as { projects: Array<{ id: string; name: string }> };
    const project = projects.projects[0]?.id as string;
    const readers: Array<{ id: string; session: Session }> = [{ id: server.userId, session: admin }];
    for (const name of ['reader2', 'reader3']) {
      const made = await asAdmin('POST', '/api/admin/users', { username: name, password: PASSWORD, globalRole: 'user' });
      const user = ((await made.json()) as { user: { id: string } }).user;
      if ((await asAdmin('PUT', `/api/projects/${project}/members/${user.id}`, { role: 'annotator' })).status !== 200) throw new Error('membership refused');
      const signed = await anonymous(`${base}/api/auth/session`, { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: base }, body: JSON.stringify({ username: name, password: PASSWORD }) });
      readers.push({ id: user.id, session: cookiesOf(signed) });
    }
    const meta = (await (await fetch(`${base}/api/slides/${server.slideId}`)).json()) as { width: number; height: number };
    const x0 = 1000;
    const y0 = 1000;
    if (x0 + SIDE > meta.width || y0 + SIDE > meta.height) throw new Error(`the ROI (${SIDE} px square) does not fit the ${meta.width} × ${meta.height} bench slide (BENCH_SLIDE_SIZE=${SLIDE_SIZE})`);
    // paint: every tile the ROI touches, per reader, through the API
    const t0 = performance.now();
    let tiles = 0;
    let bytes = 0;
    for (const [k, r] of readers.entries()) {
      let ops: Array<{ tx: number; ty: number; ifMatch: number; data: string }> = [];
      const send = async (): Promise<void> => {
        if (ops.length === 0) return;
        const res = await anonymous(`${base}/api/slides/${server.slideId}/masks/${r.id}/tiles`, {
          method: 'POST',
          headers: sessionHeaders(base, r.session, { 'Content-Type': 'application/json', 'Idempotency-Key': crypto.randomUUID() }),
          body: JSON.stringify({ ops }),
        });
        if (res.status !== 200) throw new Error(`painting refused: ${res.status} ${(await res.text()).slice(0, 300)}`);
        await res.arrayBuffer();
        ops = [];
      };
      for (let ty = Math.floor(y0 / T); ty * T < y0 + SIDE; ty++) {
        for (let tx = Math.floor(x0 / T); tx * T < x0 + SIDE; tx++) {
          const px = paintTile(k, tx, ty, meta.width, meta.height);
          if (!px) continue;
          const data = deflateSync(px, { level: 1 });
          bytes += data.length;
          tiles++;
          ops.push({ tx, ty, ifMatch: 0, data: data.toString('base64') });
          if (ops.length >= 400) await send();
        }
      }
      await send();
    }
    emit({ suite: 'agreement', metric: 'painted', readers: readers.length, tiles, compressedBytes: bytes, seconds: +((performance.now() - t0) / 1000).toFixed(1) });
    // the ROI: a square annotation drawn by the manager
    const roiId = crypto.randomUUID();
    const ring = [[x0, y0], [x0 + SIDE, y0], [x0 + SIDE, y0 + SIDE], [x0, y0 + SIDE], [x0, y0]];
    const made = await asAdmin('POST', `/api/slides/${server.slideId}/annotations`, { id: roiId, kind: 'polygon', geometry: { type: 'Polygon', coordinates: [ring] }, classification: null, name: null, note: null, locked: false });
    if (made.status !== 201) throw new Error(`ROI refused: ${made.status} ${await made.text()}`);
    const ids = readers.map((r) => r.id).join(',');
    const runs: Array<{ ms: number; serverMs: number; cpuMs: number }> = [];
    let last: Record<string, unknown> = {};
    for (let i = 0; i < 3; i++) {
      const load = loadavg()[0];
      const s = performance.now();
      const res = await fetch(`${base}/api/slides/${server.slideId}/agreement?roi=${roiId}&readers=${ids}`);
      last = (await res.json()) as Record<string, unknown>;
      if (res.status !== 200) throw new Error(`agreement failed: ${res.status} ${JSON.stringify(last).slice(0, 300)}`);
      const timing = last['timing'] as { ms: number; cpuMs: number; inflatedTiles: number; uniformTiles: number; workers: number };
      runs.push({ ms: +(performance.now() - s).toFixed(0), serverMs: timing.ms, cpuMs: timing.cpuMs });
      emit({ suite: 'agreement', metric: 'agreement_run', run: i + 1, pixels: last['pixels'], ms: runs[i]?.ms, serverMs: timing.ms, serverCpuMs: timing.cpuMs, workers: timing.workers, inflatedTiles: timing.inflatedTiles, uniformTiles: timing.uniformTiles, loadavg1: load });
    }
    const metrics = last['metrics'] as { pairs: Array<{ cohenKappa: number }>; fleissKappa: number };
    emit({
      suite: 'agreement',
      metric: 'agreement',
      readers: readers.length,
      pixels: last['pixels'],
      gpx: +((last['pixels'] as number) / 1e9).toFixed(3),
      medianMs: stats(runs.map((r) => r.ms)).median,
      medianServerMs: stats(runs.map((r) => r.serverMs)).median,
      // the server's CPU time (all threads) over its 2 worker threads: the wall time an unshared 2-core machine would take, about
      medianServerCpuMs: stats(runs.map((r) => r.cpuMs)).median,
      runsMs: runs.map((r) => r.ms),
      targetMs: 10_000,
      cohen: metrics.pairs.map((p) => +p.cohenKappa.toFixed(4)),
      fleiss: +metrics.fleissKappa.toFixed(4),
      cores: (await import('node:os')).availableParallelism(),
    });
    // the disagreement map: the first request builds it, then tiles
    const sMap = performance.now();
    const loadMap = loadavg()[0];
    const mapRes = await fetch(`${base}/api/slides/${server.slideId}/agreement/map?readers=${ids}`);
    const map = (await mapRes.json()) as { width: number; height: number; levels: number; tileSize: number; paintedBlocks: number; buildMs: number; buildCpuMs: number };
    if (mapRes.status !== 200) throw new Error(`map failed: ${JSON.stringify(map)}`);
    emit({ suite: 'agreement', metric: 'map_build', ms: +(performance.now() - sMap).toFixed(0), serverMs: map.buildMs, serverCpuMs: map.buildCpuMs, levels: map.levels, blocks: map.width * map.height, paintedBlocks: map.paintedBlocks, loadavg1: loadMap });
    const grid: Array<[number, number, number]> = [];
    for (let l = 0; l < map.levels; l++) {
      const w = Math.ceil(map.width / 2 ** l);
      const h = Math.ceil(map.height / 2 ** l);
      for (let r = 0; r * map.tileSize < h; r++) for (let c = 0; c * map.tileSize < w; c++) grid.push([l, c, r]);
    }
    const tileMs: number[] = [];
    const loadTiles = loadavg()[0];
    for (let i = 0; i < MAP_TILES; i++) {
      const [l, c, r] = grid[Math.floor(hash(i, 5, 5) * grid.length)] as [number, number, number];
      const s = performance.now();
      const res = await fetch(`${base}/api/slides/${server.slideId}/agreement/map/${l}/${c}/${r}.png?readers=${ids}`);
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`map tile ${l}/${c}/${r}: ${res.status}`);
      tileMs.push(performance.now() - s);
    }
    emit({ suite: 'agreement', metric: 'map_tiles', tiles: grid.length, ...stats(tileMs), targetP95Ms: 20, loadavg1: loadTiles });
    const pointMs: number[] = [];
    for (let i = 0; i < 100; i++) {
      const x = x0 + Math.floor(hash(i, 1, 9) * SIDE);
      const y = y0 + Math.floor(hash(i, 2, 9) * SIDE);
      const s = performance.now();
      const res = await fetch(`${base}/api/slides/${server.slideId}/agreement/point?x=${x}&y=${y}&readers=${ids}`);
      await res.arrayBuffer();
      pointMs.push(performance.now() - s);
    }
    emit({ suite: 'agreement', metric: 'point', ...stats(pointMs) });
  } finally {
    await server.stop();
    await rm(work, { recursive: true, force: true });
  }
}
