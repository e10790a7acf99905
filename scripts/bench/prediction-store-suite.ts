/**
 * `npm run bench -- predictions-store` (issue 13): the server's half of the
 * predictions suite without a browser or HTTP, timed by CPU (robust on a
 * shared machine). Imports BENCH_PREDICTIONS_N predictions (the predictions
 * suite's file) into a fresh store through runImport (reader thread and
 * staging, CPU of both threads), then reads the whole working layer as
 * columnar frames two ways, alternated in one run: from the stored blocks
 * (columnar-listing.ts, what the server does now) and from the rows (the
 * row listing encoded page by page, the path before blocks). Only when named.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeColumnarPage } from '../../src/core/columnar-pages.js';
import { columnarPage } from '../../tiles-server/columnar-listing.js';
import { runImport } from '../../tiles-server/import/importer.js';
import { AnnotationStore } from '../../tiles-server/store/annotation-store.js';
import { openDatabase } from '../../tiles-server/store/database.js';
import { ModelRunStore } from '../../tiles-server/store/model-runs.js';
import { writeCellsGeojson } from './cells.js';
import { SLIDE_SIZE, type Emit } from './tiles-suite.js';

const SUITE = 'predictions-store';
const N = Number(process.env['BENCH_PREDICTIONS_N'] ?? 1_000_000);
const SLIDE = 'bench-slide';
const PAGE = 50_000;
const load = (): number[] => loadavg().map((v) => +v.toFixed(2));
const cpuSeconds = (since: NodeJS.CpuUsage): number => {
  const u = process.cpuUsage(since);
  return +((u.user + u.system) / 1e6).toFixed(2);
};

/** Reads every page of the working layer with `page(after)`; objects and bytes. */
function readAll(page: (after: number) => Uint8Array): { objects: number; bytes: number; pages: number } {
  let after = 0;
  let objects = 0;
  let bytes = 0;
  for (let pages = 1; ; pages++) {
    const f = page(after);
    const dv = new DataView(f.buffer, f.byteOffset, f.byteLength);
    objects += dv.getUint32(8, true);
    bytes += f.byteLength;
    const next = dv.getFloat64(16, true);
    if (next === -1) return { objects, bytes, pages };
    after = next;
  }
}

export async function predictionStoreSuite(root: string, emit: Emit): Promise<void> {
  const dir = join(root, '.bench-cache', 'predictions');
  const file = join(dir, `predictions-${N}-on-${SLIDE_SIZE}.geojson`);
  if (!existsSync(file)) {
    await mkdir(dir, { recursive: true });
    await writeCellsGeojson(`${file}.part`, SLIDE_SIZE, SLIDE_SIZE, N, 13, true);
    await rename(`${file}.part`, file);
  }
  const work = await mkdtemp(join(tmpdir(), 'wsi-predictions-store-'));
  const db = openDatabase(join(work, 'wsi.db'));
  try {
    const store = new AnnotationStore(db);
    const runs = new ModelRunStore(db);
    const run = runs.create({ slideId: SLIDE, projectId: 'p', name: 'bench-cellnet', version: '1', parameters: {}, scoreKey: null, author: 'bench' });
    const job = { slideId: SLIDE, opId: `bench-${Date.now()}`, format: 'qupath-geojson', author: 'bench', slideMpp: null, slideSize: { width: SLIDE_SIZE, height: SLIDE_SIZE }, path: file, hash: 'h', runId: run.id, scoreKey: null };
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const out = await runImport(db, job, () => false, () => undefined);
    if (!('report' in out) || out.report.imported !== N) throw new Error(`import: ${JSON.stringify(out).slice(0, 300)}`);
    const blocks = (db.prepare(`SELECT count(*) AS n, coalesce(sum(length(frame)), 0) AS bytes FROM prediction_blocks`).get() as { n: number; bytes: number });
    emit({ suite: SUITE, phase: 'import', cells: N, wallMs: Math.round(performance.now() - t0), cpuS: cpuSeconds(c0), blocks: blocks.n, blockMB: +(blocks.bytes / 2 ** 20).toFixed(1), dbMB: +((await stat(join(work, 'wsi.db'))).size / 2 ** 20).toFixed(1), loadavg: load() });

    const total = store.count(SLIDE);
    const ways: Record<string, (after: number) => Uint8Array> = {
      blocks: (after) => columnarPage(store, SLIDE, { layer: 'working', limit: PAGE, after }, true, () => true, total),
      rows: (after) => {
        const p = store.list(SLIDE, { layer: 'working', limit: PAGE, after });
        return encodeColumnarPage(p.annotations, p.next, total);
      },
    };
    for (const way of ['blocks', 'rows', 'blocks', 'rows']) {
      const c = process.cpuUsage();
      const t = performance.now();
      const r = readAll(ways[way] as (after: number) => Uint8Array);
      if (r.objects !== N) throw new Error(`${way}: ${r.objects} of ${N} objects listed`);
      emit({ suite: SUITE, phase: 'listing', layer: 'working', way, cells: r.objects, pages: r.pages, MB: +(r.bytes / 2 ** 20).toFixed(1), wallMs: Math.round(performance.now() - t), cpuS: cpuSeconds(c), loadavg: load() });
    }
  } finally {
    db.close();
    await rm(work, { recursive: true, force: true });
  }
}
