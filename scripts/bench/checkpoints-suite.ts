/**
 * What a WAL checkpoint costs the event loop (issue 10, LOAD-05's health
 * tail). Fifty annotators' edits a second (annotation creates through the
 * store, as the server commits them: synchronous=NORMAL, its schema and
 * indexes) for BENCH_CHECKPOINT_SECONDS (default 20) into a fresh store,
 * with the checkpoints where SQLite puts them by itself (inside a commit,
 * every 1000 WAL pages, on the event loop) and in the server's checkpoint
 * thread (tiles-server/store/checkpointer.ts), alternated over
 * BENCH_CHECKPOINT_ROUNDS rounds (default 3) in the same run. Reported per
 * round and as medians: commit time p50/p99/max, the event loop's delay
 * p99/max (monitorEventLoopDelay, 1 ms resolution), the database file's
 * growth (what was checkpointed) and the WAL's largest size.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Geometry } from '../../src/core/annotation.js';
import { AnnotationStore } from '../../tiles-server/store/annotation-store.js';
import { checkpointerOf } from '../../tiles-server/store/checkpointer.js';
import { openDatabase } from '../../tiles-server/store/database.js';
import type { Emit } from './tiles-suite.js';

const SECONDS = Number(process.env['BENCH_CHECKPOINT_SECONDS'] ?? 20);
const ROUNDS = Number(process.env['BENCH_CHECKPOINT_ROUNDS'] ?? 3);
const WRITES_PER_SECOND = 50;

type Mode = 'in-commit' | 'thread';

function polygon(i: number): Geometry {
  const cx = (i * 997) % 40_000;
  const cy = (i * 613) % 40_000;
  const ring: Array<[number, number]> = [];
  for (let k = 0; k < 32; k++) ring.push([cx + 40 * Math.cos((k / 32) * 2 * Math.PI), cy + 40 * Math.sin((k / 32) * 2 * Math.PI)]);
  ring.push(ring[0] as [number, number]);
  return { type: 'Polygon', coordinates: [ring] };
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : (s[Math.min(s.length - 1, Math.floor(p * s.length))] as number);
};
const r2 = (x: number): number => Math.round(x * 100) / 100;

async function round(mode: Mode): Promise<Record<string, number>> {
  const dir = await mkdtemp(join(tmpdir(), 'wsi-bench-checkpoint-'));
  const path = join(dir, 'wsi.db');
  const db = openDatabase(path);
  db.pragma('synchronous = NORMAL');
  const cp = mode === 'thread' ? checkpointerOf(db, path) : null;
  const store = new AnnotationStore(db);
  const fileBefore = (await stat(path)).size;
  const commits: number[] = [];
  let walMax = 0;
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  let i = 0;
  await new Promise<void>((resolve) => {
    const end = performance.now() + SECONDS * 1000;
    const timer = setInterval(() => {
      if (performance.now() >= end) {
        clearInterval(timer);
        resolve();
        return;
      }
      const t0 = performance.now();
      store.applyBatch('bench-slide', randomUUID(), 'bench-user', [
        { op: 'create', annotation: { id: randomUUID(), kind: 'polygon', geometry: polygon(i++), classification: 'Tumour', name: null, note: null, locked: false, objectType: 'annotation', properties: { area: i } } },
      ]);
      commits.push(performance.now() - t0);
      if (i % 25 === 0) void stat(`${path}-wal`).then((s) => (walMax = Math.max(walMax, s.size)), () => undefined);
    }, 1000 / WRITES_PER_SECOND);
  });
  loop.disable();
  const fileAfter = (await stat(path)).size;
  await cp?.close();
  db.close();
  await rm(dir, { recursive: true, force: true });
  return {
    writes: commits.length,
    commitP50Ms: r2(pct(commits, 0.5)),
    commitP99Ms: r2(pct(commits, 0.99)),
    commitMaxMs: r2(Math.max(...commits)),
    loopDelayP99Ms: r2(loop.percentile(99) / 1e6),
    loopDelayMaxMs: r2(loop.max / 1e6),
    fileGrowthMB: r2((fileAfter - fileBefore) / 2 ** 20),
    walMaxMB: r2(walMax / 2 ** 20),
    threadCheckpoints: cp?.stats.checkpoints ?? 0,
  };
}

export async function checkpointsSuite(_root: string, emit: Emit): Promise<void> {
  const runs: Record<Mode, Array<Record<string, number>>> = { 'in-commit': [], thread: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const mode of ['in-commit', 'thread'] as const) {
      const out = await round(mode);
      runs[mode].push(out);
      emit({ suite: 'checkpoints', metric: 'round', round: r + 1, mode, seconds: SECONDS, writesPerSecond: WRITES_PER_SECOND, ...out });
    }
  }
  const med = (mode: Mode, k: string): number => pct(runs[mode].map((x) => x[k] as number), 0.5);
  const keys = ['commitP50Ms', 'commitP99Ms', 'commitMaxMs', 'loopDelayP99Ms', 'loopDelayMaxMs', 'fileGrowthMB', 'walMaxMB'];
  for (const mode of ['in-commit', 'thread'] as const) emit({ suite: 'checkpoints', metric: 'median', mode, rounds: ROUNDS, ...Object.fromEntries(keys.map((k) => [k, med(mode, k)])) });
  emit({
    suite: 'checkpoints',
    metric: 'ratio',
    of: 'thread',
    vs: 'in-commit',
    commitMax: r2(med('thread', 'commitMaxMs') / Math.max(0.01, med('in-commit', 'commitMaxMs'))),
    loopDelayMax: r2(med('thread', 'loopDelayMaxMs') / Math.max(0.01, med('in-commit', 'loopDelayMaxMs'))),
  });
}
