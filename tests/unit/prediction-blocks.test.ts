/**
 * A model run's predictions kept in blocks of WSCA frames (issue 13,
 * store/prediction-blocks.ts) and the columnar listing that sends them
 * (columnar-listing.ts): the listing by blocks holds exactly the objects the
 * row listing holds, per layer, ids renamed at import included; a
 * prediction corrected (and its corrected object changed again) leaves the
 * working layer once and its corrected object is there instead; a damaged
 * block is refused by name, never sent; an import cancelled midway leaves
 * no block and nothing visible; the slide's count the listing sends with each
 * page (kept between pages) follows every write.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeColumnarColumns } from '../../src/core/columnar-pages.js';
import { flatten } from '../../src/core/flat-geometry.js';
import { columnarPage } from '../../tiles-server/columnar-listing.js';
import { runImport, STAGE_OBJECTS, type ImportJob } from '../../tiles-server/import/importer.js';
import { AnnotationStore, type Layer } from '../../tiles-server/store/annotation-store.js';
import { openDatabase, type Db } from '../../tiles-server/store/database.js';
import { ModelRunStore } from '../../tiles-server/store/model-runs.js';
import { BLOCK_CURSOR } from '../../tiles-server/store/prediction-blocks.js';

let dir = '';
let db: Db;
let store: AnnotationStore;
let runs: ModelRunStore;
const SLIDE = 'slide-blocks';
const N = Math.round(STAGE_OBJECTS * 2.5);
const PER_BLOCK = 1000;

async function predictionFile(name: string, ids: string[]): Promise<string> {
  const path = join(dir, name);
  const features = ids.map((id, i) => {
    const x = (i % 50) * 40;
    const y = Math.floor(i / 50) * 40;
    return {
      type: 'Feature',
      id,
      geometry: { type: 'Polygon', coordinates: [[[x, y], [x + 12.5, y], [x + 12.5, y + 9.25], [x, y + 9.25], [x, y]]] },
      properties: { objectType: 'detection', classification: { name: i % 3 ? 'Tumour' : 'Stroma', color: [200, 0, 0] }, measurements: { probability: (i % 1000) / 1000 } },
    };
  });
  await writeFile(path, JSON.stringify({ type: 'FeatureCollection', features }));
  return path;
}

function job(path: string, runId: string): ImportJob {
  return { slideId: SLIDE, opId: randomUUID(), format: 'qupath-geojson', author: 'tester', slideMpp: null, slideSize: { width: 100_000, height: 100_000 }, path, hash: 'h', runId, scoreKey: null, blockObjects: PER_BLOCK };
}

const newRun = (): string => runs.create({ slideId: SLIDE, projectId: 'p', name: 'm', version: '1', parameters: {}, scoreKey: null, author: 'tester' }).id;

/** Every object of a columnar listing (cursor followed to the end): id → [score, first x, version]. */
function listColumnar(layer: Layer): Map<string, [number, number, number]> {
  const out = new Map<string, [number, number, number]>();
  let after = 0;
  for (let pages = 0; pages < 100; pages++) {
    const p = decodeColumnarColumns(columnarPage(store, SLIDE, { limit: 50_000, after, layer }, true, () => true, 0));
    for (let i = 0; i < p.n; i++) {
      const id = p.strings[p.id[i] as number] as string;
      expect(out.has(id)).toBe(false);
      out.set(id, [p.score[i] as number, p.coords[p.coordAt[i] as number] as number, p.version[i] as number]);
    }
    if (p.next === null) return out;
    after = p.next;
  }
  throw new Error('the listing did not end');
}

/** The same from the row listing (the path before blocks). */
function listRows(layer: Layer): Map<string, [number, number, number]> {
  const out = new Map<string, [number, number, number]>();
  let after = 0;
  for (;;) {
    const page = store.list(SLIDE, { layer, after, limit: 1000 });
    for (const a of page.annotations) {
      out.set(a.id, [a.score ?? Number.NaN, flatten(a.geometry).coords[0] as number, a.version]);
    }
    if (page.next === null) return out;
    after = page.next;
  }
}

const blockCount = (): number => (db.prepare(`SELECT count(*) AS n FROM prediction_blocks`).get() as { n: number }).n;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wsi-blocks-'));
  db = openDatabase(join(dir, 'wsi.db'));
  store = new AnnotationStore(db);
  runs = new ModelRunStore(db);
});

afterAll(async () => {
  db.close();
  await rm(dir, { recursive: true, force: true });
});

describe("a model run's predictions in blocks", () => {
  const ids = Array.from({ length: N }, () => randomUUID());
  const manual = randomUUID();

  it('are listed by blocks exactly as by rows, per layer, renamed ids included', async () => {
    // an id the file uses is taken already: it is renamed, in its row and in its block
    const point = { kind: 'point' as const, geometry: { type: 'Point' as const, coordinates: [1, 1] as [number, number] }, classification: null, name: null, note: null, locked: false, objectType: 'annotation', properties: {} };
    expect(store.applyBatch(SLIDE, 'manual-1', 'tester', [{ op: 'create', annotation: { id: manual, ...point } }]).status).toBe(200);
    ids[1500] = manual;
    const out = await runImport(db, job(await predictionFile('run.geojson', ids), newRun()), () => false, () => undefined);
    expect('report' in out && out.report.renamedIds).toBe(1);
    expect(blockCount()).toBe(Math.ceil(N / PER_BLOCK));
    for (const layer of ['all', 'working', 'model'] as const) {
      const byBlocks = listColumnar(layer);
      expect(byBlocks.size).toBe(layer === 'model' ? N : N + 1);
      expect(byBlocks).toEqual(listRows(layer));
    }
  });

  it('leave the working layer once a prediction is corrected, even corrected twice; the model layer keeps it', () => {
    const prediction = ids[2100] as string;
    const corrected = randomUUID();
    const ring: Array<[number, number]> = [[5, 5], [30, 5], [30, 30], [5, 5]];
    const create = store.applyBatch(SLIDE, 'fix-1', 'tester', [{ op: 'create', parent: prediction, annotation: { id: corrected, kind: 'polygon', geometry: { type: 'Polygon', coordinates: [ring] }, classification: 'Stroma', name: null, note: null, locked: false, objectType: 'annotation', properties: {} } }]);
    expect(create.status).toBe(200);
    // the second correction changes the corrected object; a second corrected object for the same prediction is refused
    expect(store.applyBatch(SLIDE, 'fix-2', 'tester', [{ op: 'update', id: corrected, ifMatch: 1, changes: { classification: 'Tumour' } }]).status).toBe(200);
    expect(store.applyBatch(SLIDE, 'fix-3', 'tester', [{ op: 'create', parent: prediction, annotation: { id: randomUUID(), kind: 'point', geometry: { type: 'Point', coordinates: [1, 1] }, classification: null, name: null, note: null, locked: false, objectType: 'annotation', properties: {} } }]).status).toBe(409);
    const working = listColumnar('working');
    expect(working.has(prediction)).toBe(false);
    expect(working.get(corrected)?.[2]).toBe(2);
    expect(working).toEqual(listRows('working'));
    expect(listColumnar('model').has(prediction)).toBe(true);
    expect(store.list(SLIDE, { layer: 'superseded' }).annotations.map((a) => a.id)).toEqual([prediction]);
  });

  it('refuses a damaged block by name instead of sending it', () => {
    const victim = db.prepare(`SELECT id FROM prediction_blocks ORDER BY id LIMIT 1 OFFSET 1`).get() as { id: number };
    const frame = (db.prepare(`SELECT frame FROM prediction_blocks WHERE id = ?`).get(victim.id) as { frame: Buffer }).frame;
    db.prepare(`UPDATE prediction_blocks SET frame = ? WHERE id = ?`).run(frame.subarray(0, frame.length - 100), victim.id);
    try {
      expect(() => listColumnar('model')).toThrow(`prediction block ${victim.id} is damaged`);
    } finally {
      db.prepare(`UPDATE prediction_blocks SET frame = ? WHERE id = ?`).run(frame, victim.id);
    }
    expect(listColumnar('model').size).toBe(N);
  });

  it('of an import cancelled midway leave nothing behind, and nothing shows meanwhile (DATA-10: all or nothing)', async () => {
    const before = blockCount();
    const total = store.count(SLIDE);
    let seen = 0;
    let stagedBlocksMidway = 0;
    let shownMidway = -1;
    const more = Array.from({ length: N }, () => randomUUID());
    const out = await runImport(
      db,
      job(await predictionFile('cancelled.geojson', more), newRun()),
      () => seen >= 2 * PER_BLOCK,
      (p) => {
        seen = p.objects;
        if (seen >= 2 * PER_BLOCK && shownMidway === -1) {
          stagedBlocksMidway = blockCount() - before;
          shownMidway = listColumnar('all').size;
        }
      },
    );
    expect(out).toEqual({ cancelled: true });
    // blocks were staged, and hidden while the import ran
    expect(stagedBlocksMidway).toBeGreaterThan(0);
    expect(shownMidway).toBe(total);
    expect(blockCount()).toBe(before);
    expect(store.count(SLIDE)).toBe(total);
    expect(listColumnar('all').size).toBe(total);
    const cursorPast = decodeColumnarColumns(columnarPage(store, SLIDE, { limit: 50_000, after: BLOCK_CURSOR + 10_000 }, true, () => true, 0));
    expect(cursorPast.n).toBe(0);
  });

  it("count, kept between the listing's pages, follows every write: this connection's and another's", () => {
    const before = store.count(SLIDE);
    expect(store.count(SLIDE)).toBe(before);
    const point = { kind: 'point' as const, geometry: { type: 'Point' as const, coordinates: [3, 3] as [number, number] }, classification: null, name: null, note: null, locked: false, objectType: 'annotation', properties: {} };
    const id = randomUUID();
    expect(store.applyBatch(SLIDE, 'count-1', 'tester', [{ op: 'create', annotation: { id, ...point } }]).status).toBe(200);
    expect(store.count(SLIDE)).toBe(before + 1);
    // a commit of another connection (another process on the same file)
    const other = openDatabase(join(dir, 'wsi.db'));
    try {
      other.prepare(`UPDATE annotations SET deleted = 1 WHERE id = ?`).run(id);
    } finally {
      other.close();
    }
    expect(store.count(SLIDE)).toBe(before);
  });
});
