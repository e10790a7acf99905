/**
 * Decompression bombs against the label-image import (issue 10 finding 3),
 * on the 50,000 × 50,000 bench slide, measuring RSS (VmRSS sampled every
 * 20 ms) of the server process, and of the server with its child processes
 * (each label image is decoded in one):
 *
 * - `bombs`: four 388 KB PNGs of 20,000² zero pixels (400 MB decoded each)
 *   posted at once: their answers, time, and RSS before / peak / after;
 * - `imports_at_cap`: four 10,000² images (100 Mpx, the default
 *   MASK_IMPORT_MAX_PIXELS) of class 1 posted at once, the ones refused
 *   with 503 retried after their Retry-After until all are in: answers,
 *   time, tiles written, and RSS before / peak / after (2 s and 10 s after
 *   the last answer). The target: after within 20% of before.
 *
 * BENCH_SERVER_ROOT runs the server of another checkout (with its own
 * build), e.g. main's, for the figures before a change.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { solidPng } from '../fixtures/label-images.js';
import { startOurs } from './peers.js';
import { ensureSlide, type Emit } from './tiles-suite.js';

const MB = 2 ** 20;

async function cached(root: string, name: string, make: () => Buffer): Promise<Buffer> {
  const dir = join(root, '.bench-cache', 'bombs');
  const file = join(dir, name);
  if (!existsSync(file)) {
    await mkdir(dir, { recursive: true });
    await writeFile(file, make());
  }
  return readFile(file);
}

async function rss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
}

/** The RSS of a process and all its descendants. */
async function treeRss(pid: number): Promise<number> {
  let total = await rss(pid);
  const children = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '')).split(/\s+/).filter(Boolean).map(Number);
  for (const c of children) total += await treeRss(c);
  return total;
}

/** Samples RSS until stopped; returns the highest seen for the process alone and with its children. */
function sampler(pid: number): { stop(): Promise<{ server: number; tree: number }> } {
  const peak = { server: 0, tree: 0 };
  let running = true;
  const loop = (async () => {
    while (running) {
      peak.server = Math.max(peak.server, await rss(pid));
      peak.tree = Math.max(peak.tree, await treeRss(pid));
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
}

interface Answer {
  status: number;
  code: string | null;
  ms: number;
  retryAfter: number | null;
  tiles?: number;
}

/** The bench user's annotator id (its user id on a server with accounts). */
let annotator = 'bench';

async function post(base: string, slide: string, body: Buffer, key: string, query = 'x=0&y=0'): Promise<Answer> {
  const t0 = performance.now();
  const res = await fetch(`${base}/api/slides/${slide}/masks/${annotator}/import?${query}`, { method: 'POST', headers: { 'Content-Type': 'image/png', 'Idempotency-Key': key }, body: new Uint8Array(body) });
  const json = (await res.json()) as { code?: string; tiles?: number };
  const retry = res.headers.get('retry-after');
  return { status: res.status, code: json.code ?? null, ms: Math.round(performance.now() - t0), retryAfter: retry === null ? null : Number(retry), ...(json.tiles !== undefined ? { tiles: json.tiles } : {}) };
}

const countBy = (xs: Answer[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const a of xs) out[`${a.status}${a.code ? ` ${a.code}` : ''}`] = (out[`${a.status}${a.code ? ` ${a.code}` : ''}`] ?? 0) + 1;
  return out;
};

export async function bombsSuite(root: string, emit: Emit): Promise<void> {
  const serverRoot = process.env['BENCH_SERVER_ROOT'] ?? root;
  const slideFile = await ensureSlide(root, emit);
  const bomb = await cached(root, 'zero-20000.png', () => solidPng(20_000));
  const atCap = await cached(root, 'one-10000.png', () => solidPng(10_000, 10_000, 1));
  const work = await mkdtemp(join(tmpdir(), 'wsi-bench-bombs-'));
  const server = await startOurs(serverRoot, slideFile, work);
  annotator = server.userId;
  const pid = server.pids()[0] as number;
  const base = new URL(server.dziUrl).origin;
  const mb = (b: number): number => Math.round(b / MB);
  try {
    // warm up: the import path (worker, sharp, the database) once, small
    await post(base, server.slideId, solidPng(64, 64, 1), 'bench-warm', 'x=49000&y=49000');
    await new Promise((r) => setTimeout(r, 1000));

    const before = await rss(pid);
    let s = sampler(pid);
    let t0 = performance.now();
    const bombs = await Promise.all([0, 1, 2, 3].map((i) => post(base, server.slideId, bomb, `bench-bomb-${i}`)));
    const bombMs = performance.now() - t0;
    let peak = await s.stop();
    await new Promise((r) => setTimeout(r, 2000));
    emit({
      suite: 'bombs',
      metric: 'bombs',
      file: 'PNG 20,000² zero pixels',
      fileKB: Math.round(bomb.length / 1024),
      parallel: 4,
      answers: countBy(bombs),
      medianMs: bombs.map((a) => a.ms).sort((a, b) => a - b)[2],
      seconds: +(bombMs / 1000).toFixed(2),
      rssBeforeMB: mb(before),
      rssPeakMB: mb(peak.server),
      rssPeakWithChildrenMB: mb(peak.tree),
      rssAfterMB: mb(await rss(pid)),
    });

    const before2 = await rss(pid);
    s = sampler(pid);
    t0 = performance.now();
    const answers: Answer[] = [];
    await Promise.all(
      [0, 1, 2, 3].map(async (i) => {
        for (let attempt = 0; attempt < 200; attempt++) {
          const a = await post(base, server.slideId, atCap, `bench-cap-${i}`, `x=${i * 64}&y=${i * 64}`);
          answers.push(a);
          if (a.status !== 503) return;
          await new Promise((r) => setTimeout(r, (a.retryAfter ?? 1) * 1000));
        }
      }),
    );
    const capMs = performance.now() - t0;
    peak = await s.stop();
    await new Promise((r) => setTimeout(r, 2000));
    const after2s = await rss(pid);
    await new Promise((r) => setTimeout(r, 8000));
    const after10s = await rss(pid);
    emit({
      suite: 'bombs',
      metric: 'imports_at_cap',
      file: 'PNG 10,000² of class 1',
      fileKB: Math.round(atCap.length / 1024),
      parallel: 4,
      answers: countBy(answers),
      tilesWritten: answers.reduce((n, a) => n + (a.tiles ?? 0), 0),
      seconds: +(capMs / 1000).toFixed(1),
      rssBeforeMB: mb(before2),
      rssPeakMB: mb(peak.server),
      rssPeakWithChildrenMB: mb(peak.tree),
      rssAfter2sMB: mb(after2s),
      rssAfter10sMB: mb(after10s),
      afterOverBefore: +(after10s / before2).toFixed(2),
      withinTwentyPercent: after10s <= before2 * 1.2,
    });
  } finally {
    await server.stop();
    await rm(work, { recursive: true, force: true });
  }
}
