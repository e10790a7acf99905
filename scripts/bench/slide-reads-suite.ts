/**
 * What one stored-tile read costs the event loop's thread (`npm run bench --
 * slide-reads`; issue 10, LOAD-06: /api/health waits for that thread): the
 * server's FileByteSource reading tile-sized blocks (BENCH_READ_BYTES, 24,000
 * by default, about a 256² JPEG tile) at spread offsets of one load slide,
 * 16 reads in flight, either synchronously from the page cache (the
 * SLIDE_READ_SYNC_KB policy, here never held back) or through libuv's pool
 * (SLIDE_READ_SYNC_KB=0). The two ways alternate over BENCH_READ_ROUNDS (5)
 * rounds of BENCH_READ_COUNT (30,000) reads; reported per read, medians of
 * the rounds: the event loop thread's CPU time (from /proc/thread-self/stat,
 * 10 ms ticks, so a round spans hundreds of them) and the whole process's
 * (pool threads included). Linux only; elsewhere it says so and skips.
 */
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { FileByteSource } from '../../tiles-server/tiff/byte-source.js';
import { SyncReads } from '../../tiles-server/tiff/sync-reads.js';
import { writeSampleSlide } from '../../tiles-server/sample/sample-slide.js';
import { percentile } from './load.js';
import type { Emit } from './tiles-suite.js';

const BYTES = Number(process.env['BENCH_READ_BYTES'] ?? 24_000);
const COUNT = Number(process.env['BENCH_READ_COUNT'] ?? 30_000);
const ROUNDS = Number(process.env['BENCH_READ_ROUNDS'] ?? 5);
const IN_FLIGHT = 16;

/** CPU time (ms) of the calling thread so far, from /proc (user + system, 10 ms ticks). */
function threadCpuMs(): number {
  const stat = readFileSync('/proc/thread-self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

export async function slideReadsSuite(root: string, emit: Emit): Promise<void> {
  if (!existsSync('/proc/thread-self/stat')) {
    emit({ suite: 'slide-reads', skipped: 'no /proc/thread-self: thread CPU time cannot be read on this system' });
    return;
  }
  const file = join(root, '.bench-cache', 'slide-reads.tiff');
  if (!existsSync(file)) await writeSampleSlide(file, { width: 16_384, height: 16_384, tileSize: 256, quality: 85 });
  const policy = new SyncReads({ maxBytes: Math.max(BYTES, 1), slowMs: Number.POSITIVE_INFINITY, holdMs: 0 });
  const sources = { sync: await FileByteSource.open(file, policy), pool: await FileByteSource.open(file) };
  const offsets = Array.from({ length: COUNT }, (_, i) => (i * 7919 * 4096) % (sources.pool.size - BYTES));
  const run = (src: FileByteSource): Promise<unknown> =>
    Promise.all(Array.from({ length: IN_FLIGHT }, async (_, k) => {
      for (let i = k; i < COUNT; i += IN_FLIGHT) await src.read(offsets[i] as number, BYTES);
    }));
  try {
    // into the page cache first, as a served slide's tiles are
    await run(sources.pool);
    const loop: Record<'sync' | 'pool', number[]> = { sync: [], pool: [] };
    const all: Record<'sync' | 'pool', number[]> = { sync: [], pool: [] };
    const load0 = loadavg();
    for (let r = 0; r < ROUNDS; r++) {
      for (const way of r % 2 === 0 ? (['sync', 'pool'] as const) : (['pool', 'sync'] as const)) {
        const t0 = threadCpuMs();
        const p0 = process.cpuUsage();
        await run(sources[way]);
        const p = process.cpuUsage(p0);
        loop[way].push(((threadCpuMs() - t0) * 1000) / COUNT);
        all[way].push((p.user + p.system) / COUNT);
      }
    }
    const med = (a: number[]): number => +percentile([...a].sort((x, y) => x - y), 50).toFixed(1);
    emit({
      suite: 'slide-reads',
      readBytes: BYTES,
      reads: COUNT,
      rounds: ROUNDS,
      loopThreadUsPerRead: { sync: med(loop.sync), pool: med(loop.pool) },
      processUsPerRead: { sync: med(all.sync), pool: med(all.pool) },
      loopRatio: +(med(loop.sync) / med(loop.pool)).toFixed(2),
      rounds_us: { loopSync: loop.sync.map((v) => +v.toFixed(1)), loopPool: loop.pool.map((v) => +v.toFixed(1)) },
      loadavg: [load0, loadavg()].map((l) => l.map((x) => +x.toFixed(1))),
    });
  } finally {
    await sources.sync.close();
    await sources.pool.close();
  }
}
