/**
 * An import in two threads (issue 13's fast path, import/importer.ts): a
 * reader thread parses and prepares batches while the import's own side
 * stages them. The guarantees of the one-thread path hold: every object
 * reads back as the file wrote it, with its score; ids taken (by another
 * object, or earlier in the same file, across batches) are renamed and
 * counted; a file found bad after batches were staged (DATA-10: a large
 * import is all or nothing) leaves nothing behind and says which object;
 * a cancel while the reader works leaves nothing either.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { runImport, STAGE_OBJECTS, type ImportJob } from '../../tiles-server/import/importer.js';
import { AnnotationStore } from '../../tiles-server/store/annotation-store.js';
import type { Db } from '../../tiles-server/store/database.js';
import { ModelRunStore } from '../../tiles-server/store/model-runs.js';
import { WsiError } from '../../src/core/errors.js';
import { cellGrid, newModelRun, predictionGeojson, predictionJob, tempStore, type Cell } from '../helpers/store-fixture.js';

const fixture = tempStore('wsi-reader-');
let db: Db;
let store: AnnotationStore;
let runs: ModelRunStore;
const SLIDE = 'slide-reader';
const N = Math.round(STAGE_OBJECTS * 2.5);

const cells = cellGrid;
const geojson = (name: string, list: Cell[]): Promise<string> => predictionGeojson(fixture.dir, name, list);
const job = (path: string, runId: string): ImportJob => predictionJob(SLIDE, path, runId);
const newRun = (): string => newModelRun(runs, SLIDE);
const rows = (): Record<string, number> =>
  Object.fromEntries(['annotations', 'history', 'annotations_rtree', 'import_jobs'].map((t) => [t, (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n]));

beforeAll(() => {
  db = fixture.db;
  store = new AnnotationStore(db);
  runs = new ModelRunStore(db);
});

describe('an import read in a thread of its own', () => {
  it('stages every batch: each prediction reads back as written, with its score; taken ids are renamed across batches', async () => {
    const list = cells(N, 0);
    const taken = randomUUID();
    expect(store.applyBatch(SLIDE, 'manual', 'tester', [{ op: 'create', annotation: { id: taken, kind: 'point', geometry: { type: 'Point', coordinates: [1, 1] }, classification: null, name: null, note: null, locked: false, objectType: 'annotation', properties: {} } }]).status).toBe(200);
    // an id taken by a manual object, and one used twice in the file, the second time two batches later
    (list[10] as Cell).id = taken;
    (list[N - 5] as Cell).id = (list[3] as Cell).id;
    const progress: number[] = [];
    const out = await runImport(db, job(await geojson('good.geojson', list), newRun()), () => false, (p) => progress.push(p.objects));
    if (!('report' in out)) throw new Error('not imported');
    expect(out.report.imported).toBe(N);
    expect(out.report.renamedIds).toBe(2);
    expect(out.report.modelRun?.scored).toBe(N);
    expect(progress).toEqual([STAGE_OBJECTS, STAGE_OBJECTS * 2, N]);
    expect(store.count(SLIDE)).toBe(N + 1);
    for (const [i, c] of list.entries()) {
      if (i === 10 || i === N - 5) continue;
      const a = store.get(c.id);
      expect(a?.geometry).toEqual({ type: 'Polygon', coordinates: [c.ring] });
      expect(a?.classification).toBe(c.cls);
      expect(a?.score).toBe(c.score);
      expect(a?.readOnly).toBe(true);
    }
    const renamed = store.list(SLIDE, { limit: 100_000 }).annotations.filter((a) => a.properties['sourceId'] !== undefined);
    expect(renamed.map((a) => a.properties['sourceId']).sort()).toEqual([taken, (list[3] as Cell).id].sort());
    // the renamed object is the file's, under its new id
    const twin = renamed.find((a) => a.properties['sourceId'] === taken);
    expect(twin?.geometry).toEqual({ type: 'Polygon', coordinates: [(list[10] as Cell).ring] });
  });

  it('refuses a file whose last object is bad after two batches were staged, naming it; nothing stays (DATA-10)', async () => {
    const before = rows();
    const list = cells(N, 7);
    (list[N - 1] as Cell).score = 1.7;
    const err = await runImport(db, job(await geojson('bad.geojson', list), newRun()), () => false, () => undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WsiError);
    expect((err as WsiError).code).toBe('IMPORT_INVALID');
    expect((err as WsiError).message).toContain(`object ${N}`);
    expect(rows()).toEqual(before);
  });

  it('stops at a cancel while the reader is ahead, and keeps nothing', async () => {
    const before = rows();
    let staged = 0;
    const out = await runImport(db, job(await geojson('cancel.geojson', cells(N, 13)), newRun()), () => staged > 0, (p) => (staged = p.objects));
    expect(out).toEqual({ cancelled: true });
    expect(staged).toBe(STAGE_OBJECTS);
    expect(rows()).toEqual(before);
  });
});
