/**
 * Slides from object storage (issue 16): tiles/s of the same slide read by
 * our server from local disk and from an S3 bucket (s3rver in its own
 * process, over HTTP range requests), at concurrency 8 with a warm block
 * cache — the issue's target is at least 0.5× the local figure — and, for
 * the record, with a cold cache (the first pass over the tiles). Both
 * servers run with the same settings; the bucket's block cache is sized to
 * hold the workload (S3_CACHE_MB), and the warm run follows one pass over
 * exactly the tiles it will ask for. BENCH_S3_SLIDE_SIZE (default 20,000),
 * BENCH_SECONDS (default 8).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSampleSlide } from '../../tiles-server/sample/sample-slide.js';
import { runLoad, type LoadResult } from './load.js';
import { freePort, startOurs, type OursStarted } from './peers.js';
import type { Emit } from './tiles-suite.js';
import { panTrace, randomMix } from './workloads.js';

const SIZE = Number(process.env['BENCH_S3_SLIDE_SIZE'] ?? 20_000);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 8);
const TILE = 256;
const C = 8;

async function ensureSlide(root: string, emit: Emit): Promise<string> {
  const dir = join(root, '.bench-cache', 'slides');
  const file = join(dir, `s3-bench-${SIZE}.tiff`);
  if (!existsSync(file)) {
    await mkdir(dir, { recursive: true });
    const t0 = performance.now();
    await writeSampleSlide(file, { width: SIZE, height: SIZE, tileSize: TILE, quality: 85 });
    emit({ suite: 's3', metric: 'slide_generated', width: SIZE, height: SIZE, seconds: +((performance.now() - t0) / 1000).toFixed(1), bytes: (await stat(file)).size });
  }
  return file;
}

async function startS3rver(root: string, dir: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const port = await freePort();
  const proc = spawn(process.execPath, [join(root, 'node_modules', 's3rver', 'bin', 's3rver.js'), '-d', dir, '-a', '127.0.0.1', '-p', String(port), '--silent', '--configure-bucket', 'slides'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/slides`, { method: 'HEAD' }).then((r) => r.status < 500, () => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    stop: async () => {
      proc.kill();
      await new Promise((r) => proc.once('exit', r));
    },
  };
}

function workload(server: OursStarted, kind: 'random' | 'pan'): string[][] {
  const url = (l: number, c: number, r: number): string => `${server.base}/dzi/${server.slideId}_files/${l}/${c}_${r}.jpeg`;
  if (kind === 'random') {
    const all = randomMix(SIZE, SIZE, TILE, 20_000, 7);
    return Array.from({ length: C }, (_, i) => all.filter((_, j) => j % C === i).map(([l, c, r]) => url(l, c, r)));
  }
  return Array.from({ length: C }, (_, i) => panTrace(SIZE, SIZE, TILE, 400, 7000 + i).map(([l, c, r]) => url(l, c, r)));
}

/** Asks once for every tile of the lists (8 at a time): the block cache then holds what the run reads. */
async function warm(lists: string[][]): Promise<void> {
  await Promise.all(
    lists.map(async (l) => {
      for (const u of l) await (await fetch(u)).arrayBuffer();
    }),
  );
}

export async function s3Suite(root: string, emit: Emit): Promise<void> {
  if (!existsSync(join(root, 'build', 'tiles-server', 'main.js'))) throw new Error('run npm run build first');
  const file = await ensureSlide(root, emit);
  const work = await mkdtemp(join(tmpdir(), 'wsi-bench-s3-'));
  const s3 = await startS3rver(root, join(work, 's3'));
  const results = new Map<string, LoadResult>();
  try {
    const t0 = performance.now();
    const put = await fetch(`http://127.0.0.1:${s3.port}/slides/wsi/${`s3-bench-${SIZE}.tiff`}`, { method: 'PUT', body: new Uint8Array(await readFile(file)) });
    if (!put.ok) throw new Error(`upload to s3rver failed: ${put.status}`);
    emit({ suite: 's3', metric: 'uploaded', bytes: (await stat(file)).size, seconds: +((performance.now() - t0) / 1000).toFixed(1) });
    // the same settings for both; the tile LRU off, so every request reads its storage (passthrough)
    const same = { TILE_CACHE_MB: '0', DECODED_CACHE_MB: '128' };
    const s3env = {
      ...same,
      SLIDES_URL: 's3://slides/wsi/',
      S3_ENDPOINT: `http://127.0.0.1:${s3.port}`,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      S3_CACHE_MB: '4096',
    };
    for (const [name, env] of [
      ['local', same],
      ['s3', s3env],
    ] as const) {
      const server = await startOurs(root, file, join(work, name), env, `s3-bench-${SIZE}.tiff`);
      try {
        for (const kind of ['random', 'pan'] as const) {
          const lists = workload(server, kind);
          if (name === 's3') {
            const cold = await runLoad(lists, SECONDS);
            emit({ suite: 's3', metric: 'load', storage: name, cache: 'cold', workload: kind, concurrency: C, ...cold });
          }
          await warm(lists);
          const res = await runLoad(lists, SECONDS);
          results.set(`${name}/${kind}`, res);
          emit({ suite: 's3', metric: 'load', storage: name, cache: 'warm', workload: kind, concurrency: C, ...res });
        }
      } finally {
        await server.stop();
      }
    }
  } finally {
    await s3.stop();
    await rm(work, { recursive: true, force: true });
  }
  for (const kind of ['random', 'pan'] as const) {
    const l = results.get(`local/${kind}`) as LoadResult;
    const s = results.get(`s3/${kind}`) as LoadResult;
    emit({ suite: 's3', metric: 'ratio', workload: kind, concurrency: C, s3VsLocalTilesPerSec: +(s.tilesPerSec / l.tilesPerSec).toFixed(2), p99Ratio: +(s.p99ms / l.p99ms).toFixed(2), atLeastHalf: s.tilesPerSec >= 0.5 * l.tilesPerSec, errors: s.errors + l.errors });
  }
}
