/**
 * Tile-serving benchmark (issue: slides stream from the tiles-server). On a
 * cached 50,000 × 50,000 JPEG pyramidal TIFF: cold open and first tile, then
 * tiles/s and p50/p99 latency at concurrency 1, 8 and 64 for a random mix
 * over all levels and for full-resolution pan traces — against our server
 * and, when installed, IIPImage and OpenSlide's deepzoom server, on the same
 * slide in the same run; and our server on the DICOM WSI version of the same
 * slide (one instance per level, the same JPEG tiles as frames), reported
 * beside the TIFF.
 */
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSampleSlide } from '../../tiles-server/sample/sample-slide.js';
import { dicomWriterMissing } from '../fixtures/dicom.js';
import { ensureDicomSlide } from './dicom-slide.js';
import { runLoad, type LoadResult } from './load.js';
import { iipimageAvailable, openslideAvailable, rssBytes, startIipimage, startOpenslide, startOurs, type TileServer } from './peers.js';
import { panTrace, randomMix, type TileRef } from './workloads.js';

export type Emit = (record: Record<string, unknown>) => void;

export const SLIDE_SIZE = Number(process.env['BENCH_SLIDE_SIZE'] ?? 50_000);
const SIZE = SLIDE_SIZE;
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 8);
const TILE = 256;
const QUALITY = 85;
const CONCURRENCY = [1, 8, 64];

/** The cached bench slide (a JPEG pyramidal TIFF of SLIDE_SIZE², made once). */
export async function ensureSlide(root: string, emit: Emit): Promise<string> {
  const dir = join(root, '.bench-cache', 'slides');
  const file = join(dir, `bench-${SIZE}.tiff`);
  if (!existsSync(file)) {
    await mkdir(dir, { recursive: true });
    const t0 = performance.now();
    await writeSampleSlide(file, { width: SIZE, height: SIZE, tileSize: TILE, quality: QUALITY, bigTiff: SIZE > 60_000 });
    emit({ suite: 'tiles', metric: 'slide_generated', width: SIZE, height: SIZE, seconds: +((performance.now() - t0) / 1000).toFixed(1), bytes: (await stat(file)).size });
  }
  return file;
}

async function warmPageCache(path: string): Promise<void> {
  if ((await stat(path)).isDirectory()) {
    for (const f of await readdir(path)) if (f.endsWith('.dcm')) await warmPageCache(join(path, f));
    return;
  }
  const file = path;
  await new Promise<void>((resolve, reject) => {
    const s = createReadStream(file, { highWaterMark: 8 << 20 });
    s.on('data', () => undefined);
    s.on('end', resolve);
    s.on('error', reject);
  });
}

function clientsFor(workload: 'random' | 'pan', c: number, seed: number): TileRef[][] {
  const total = 80_000;
  if (workload === 'random') {
    const all = randomMix(SIZE, SIZE, TILE, total, seed);
    return Array.from({ length: c }, (_, i) => all.filter((_, j) => j % c === i));
  }
  return Array.from({ length: c }, (_, i) => panTrace(SIZE, SIZE, TILE, Math.ceil(total / c / 5), seed * 1000 + i));
}

async function measure(server: TileServer, emit: Emit): Promise<Map<string, LoadResult>> {
  const results = new Map<string, LoadResult>();
  // warm-up: the descriptor and a few tiles of each level
  await (await fetch(server.dziUrl)).text();
  for (const [l, c, r] of randomMix(SIZE, SIZE, TILE, 40, 999)) await (await fetch(server.tileUrl(l, c, r))).arrayBuffer();
  let run = 0;
  for (const workload of ['random', 'pan'] as const) {
    for (const c of CONCURRENCY) {
      run++;
      const lists = clientsFor(workload, c, run).map((l) => l.map(([lv, col, row]) => server.tileUrl(lv, col, row)));
      const res = await runLoad(lists, SECONDS);
      const mem = await rssBytes(server.pids());
      results.set(`${workload}/${c}`, res);
      emit({ suite: 'tiles', metric: 'load', server: server.name, workload, concurrency: c, ...res, rssMB: +(mem.rss / 2 ** 20).toFixed(1), peakRssMB: +(mem.peak / 2 ** 20).toFixed(1) });
    }
  }
  return results;
}

export async function tilesSuite(root: string, emit: Emit): Promise<void> {
  if (!existsSync(join(root, 'build', 'tiles-server', 'main.js'))) throw new Error('run npm run build first');
  const file = await ensureSlide(root, emit);
  await warmPageCache(file);
  const work = await mkdtemp(join(tmpdir(), 'wsi-bench-'));
  const all = new Map<string, Map<string, LoadResult>>();
  try {
    const ours = await startOurs(root, file, join(work, 'ours'));
    emit({ suite: 'tiles', metric: 'cold_open', server: 'ours', coldOpenMs: +ours.coldOpenMs.toFixed(1), firstTileMs: +ours.firstTileMs.toFixed(1), slide: `${SIZE}x${SIZE}` });
    try {
      all.set('ours', await measure(ours, emit));
    } finally {
      await ours.stop();
    }
    // the same slide as DICOM WSI, same server settings
    const dicomMissing = dicomWriterMissing();
    if (dicomMissing) emit({ suite: 'tiles', metric: 'dicom_missing', note: `the DICOM bench slide needs pydicom: ${dicomMissing}` });
    else {
      const name = `bench-${SIZE}`;
      const dir = await ensureDicomSlide(root, file, name, emit);
      await warmPageCache(dir);
      // the slide folder is the series folder's parent; the series is listed as `name/`
      const dicom = await startOurs(root, dir, join(work, 'ours-dicom'), {}, `${name}/`, 'ours-dicom');
      emit({ suite: 'tiles', metric: 'cold_open', server: 'ours-dicom', coldOpenMs: +dicom.coldOpenMs.toFixed(1), firstTileMs: +dicom.firstTileMs.toFixed(1), slide: `${SIZE}x${SIZE}` });
      try {
        all.set('ours-dicom', await measure(dicom, emit));
      } finally {
        await dicom.stop();
      }
    }
    // the same server with both caches off: every request reads the file (passthrough) or decodes
    const bare = await startOurs(root, file, join(work, 'ours-nocache'), { TILE_CACHE_MB: '0', DECODED_CACHE_MB: '0' });
    try {
      all.set('ours-nocache', await measure(bare, emit));
    } finally {
      await bare.stop();
    }
    const peers: Array<{ name: string; available: boolean; start: () => Promise<TileServer> }> = [
      { name: 'iipimage', available: iipimageAvailable(), start: () => startIipimage(file, join(work, 'iip'), QUALITY) },
      { name: 'openslide', available: openslideAvailable(), start: () => startOpenslide(file, QUALITY, TILE) },
    ];
    for (const p of peers) {
      if (!p.available) {
        emit({ suite: 'tiles', metric: 'peer_missing', server: p.name, note: 'Debian package not installed; see docs/benchmarks.md' });
        continue;
      }
      const t0 = performance.now();
      const server = await p.start();
      emit({ suite: 'tiles', metric: 'cold_open', server: p.name, coldOpenMs: +(performance.now() - t0).toFixed(1) });
      try {
        all.set(p.name, await measure(server, emit));
      } finally {
        await server.stop();
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const ours = all.get('ours') as Map<string, LoadResult>;
  for (const [peer, res] of all) {
    if (peer === 'ours' || peer === 'ours-nocache' || peer === 'ours-dicom') continue;
    for (const [key, r] of res) {
      const o = ours.get(key) as LoadResult;
      const [workload, c] = key.split('/');
      emit({ suite: 'tiles', metric: 'ratio', vs: peer, workload, concurrency: Number(c), tilesPerSecRatio: +(o.tilesPerSec / r.tilesPerSec).toFixed(2), p99Ratio: +(o.p99ms / r.p99ms).toFixed(2) });
    }
  }
  const dicomRes = all.get('ours-dicom');
  if (dicomRes) {
    for (const [key, r] of dicomRes) {
      const t = ours.get(key) as LoadResult;
      const [workload, c] = key.split('/');
      emit({ suite: 'tiles', metric: 'ratio', vs: 'ours (TIFF)', of: 'ours-dicom', workload, concurrency: Number(c), tilesPerSecRatio: +(r.tilesPerSec / t.tilesPerSec).toFixed(2), p99Ratio: +(r.p99ms / t.p99ms).toFixed(2) });
    }
  }
  const c8 = ours.get('random/8') as LoadResult;
  const dicomC8 = dicomRes?.get('random/8');
  const bareC8 = all.get('ours-nocache')?.get('random/8');
  const iip = all.get('iipimage')?.get('random/8');
  const os = all.get('openslide')?.get('random/8');
  emit({
    suite: 'tiles',
    metric: 'targets',
    oursTilesPerSecC8: c8.tilesPerSec,
    p99msC8: c8.p99ms,
    p99Under50ms: c8.p99ms < 50,
    noCacheTilesPerSecC8: bareC8?.tilesPerSec ?? null,
    noCacheVsIipimage: bareC8 && iip ? +(bareC8.tilesPerSec / iip.tilesPerSec).toFixed(2) : null,
    vsIipimage: iip ? +(c8.tilesPerSec / iip.tilesPerSec).toFixed(2) : null,
    atLeastIipimage: iip ? c8.tilesPerSec >= iip.tilesPerSec : null,
    vsOpenslide: os ? +(c8.tilesPerSec / os.tilesPerSec).toFixed(2) : null,
    dicomTilesPerSecC8: dicomC8?.tilesPerSec ?? null,
    dicomVsTiffC8: dicomC8 ? +(dicomC8.tilesPerSec / c8.tilesPerSec).toFixed(2) : null,
    dicomAtLeast08xTiff: dicomC8 ? dicomC8.tilesPerSec >= 0.8 * c8.tilesPerSec : null,
    atLeast3xOpenslide: os ? c8.tilesPerSec >= 3 * os.tilesPerSec : null,
    errors: [...all.values()].flatMap((m) => [...m.values()]).reduce((s, r) => s + r.errors, 0),
  });
}
