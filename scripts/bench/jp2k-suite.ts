/**
 * JPEG 2000 tile serving (Aperio compression 33005, OpenJPEG in WebAssembly
 * in our decode workers). A cached BENCH_JP2K_SIZE² (default 8,192) Aperio
 * SVS of lossless JPEG 2000 256-px tiles with a ×4 level, made once from the
 * tissue synthesiser. Random full-resolution tiles at concurrency 1 and 8,
 * every one decoded (our server with its tile caches off, as a cold slide
 * is served), against OpenSlide's deepzoom server (native OpenJPEG) on the
 * same file in the same run when it is installed; then the ratios.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aperioStyleDescription } from '../../tiles-server/sample/sample-slide.js';
import { Photometric } from '../../tiles-server/tiff/tags.js';
import { CODEC_COMPRESSION, encodeTiles, pyramidOf, tissueRaster, writeTiff } from '../fixtures/encode.js';
import { runLoad, type LoadResult } from './load.js';
import { openslideAvailable, rssBytes, startOpenslide, startOurs, type TileServer } from './peers.js';
import type { Emit } from './tiles-suite.js';
import { rng } from './workloads.js';

const SIZE = Number(process.env['BENCH_JP2K_SIZE'] ?? 8192);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 8);
const TILE = 256;

async function ensureJp2kSlide(root: string, emit: Emit): Promise<string> {
  const dir = join(root, '.bench-cache', 'slides');
  const file = join(dir, `bench-jp2k-${SIZE}.svs`);
  if (existsSync(file)) return file;
  await mkdir(dir, { recursive: true });
  const t0 = performance.now();
  const reductions = [0, 2];
  const levels = pyramidOf(tissueRaster(SIZE, SIZE, 7, 0.25), reductions);
  const describe = aperioStyleDescription(SIZE, SIZE, TILE, 0.25, 40);
  const pages = [];
  for (const [k, r] of levels.entries()) {
    const { blocks } = await encodeTiles(r, TILE, 'jp2k-rgb');
    const description = describe(reductions[k] ?? 0, r.width, r.height).replace('JPEG/YCC Q=85', 'J2K/KDU Q=100');
    pages.push({ spec: { width: r.width, height: r.height, tileWidth: TILE, tileHeight: TILE, samplesPerPixel: 3, photometric: Photometric.RGB, compression: CODEC_COMPRESSION['jp2k-rgb'], newSubfileType: k === 0 ? 0 : 1, description }, blocks });
  }
  await writeTiff(file, pages);
  emit({ suite: 'jp2k', metric: 'slide_generated', width: SIZE, height: SIZE, seconds: +((performance.now() - t0) / 1000).toFixed(1), bytes: (await stat(file)).size });
  return file;
}

/** Random full-resolution tiles for `c` clients. */
function clients(server: TileServer, c: number, seed: number): string[][] {
  const r = rng(seed);
  const level = Math.ceil(Math.log2(SIZE));
  const across = Math.ceil(SIZE / TILE);
  return Array.from({ length: c }, () => Array.from({ length: 20_000 }, () => server.tileUrl(level, Math.floor(r() * across), Math.floor(r() * across))));
}

async function measure(server: TileServer, emit: Emit): Promise<Map<number, LoadResult>> {
  const out = new Map<number, LoadResult>();
  await (await fetch(server.dziUrl)).text();
  for (const c of [1, 8]) {
    const res = await runLoad(clients(server, c, 100 + c), SECONDS);
    const mem = await rssBytes(server.pids());
    out.set(c, res);
    emit({ suite: 'jp2k', metric: 'load', server: server.name, workload: 'random-full-resolution', concurrency: c, ...res, rssMB: +(mem.rss / 2 ** 20).toFixed(1) });
  }
  return out;
}

export async function jp2kSuite(root: string, emit: Emit): Promise<void> {
  if (!existsSync(join(root, 'build', 'tiles-server', 'main.js'))) throw new Error('run npm run build first');
  const file = await ensureJp2kSlide(root, emit);
  const work = await mkdtemp(join(tmpdir(), 'wsi-bench-jp2k-'));
  try {
    const ours = await startOurs(root, file, join(work, 'ours'), { TILE_CACHE_MB: '0', DECODED_CACHE_MB: '0' });
    let mine: Map<number, LoadResult>;
    try {
      mine = await measure({ ...ours, name: 'ours-nocache' }, emit);
    } finally {
      await ours.stop();
    }
    if (!openslideAvailable()) {
      emit({ suite: 'jp2k', metric: 'peer_missing', server: 'openslide', note: 'apt-get install -y python3-openslide python-openslide-examples python3-flask' });
      return;
    }
    const os = await startOpenslide(file, 85, TILE);
    let theirs: Map<number, LoadResult>;
    try {
      theirs = await measure(os, emit);
    } finally {
      await os.stop();
    }
    for (const c of [1, 8]) {
      const a = mine.get(c) as LoadResult;
      const b = theirs.get(c) as LoadResult;
      emit({ suite: 'jp2k', metric: 'ratio', vs: 'openslide', concurrency: c, tilesPerSecRatio: +(a.tilesPerSec / b.tilesPerSec).toFixed(2), p99Ratio: +(a.p99ms / b.p99ms).toFixed(2) });
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
