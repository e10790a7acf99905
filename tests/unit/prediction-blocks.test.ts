/**
 * A model run's predictions kept in blocks of WSCA frames (issue 13,
 * store/prediction-blocks.ts) and the columnar listing that sends them
 * (columnar-listing.ts): the listing by blocks holds exactly the objects the
 * row listing holds, per layer, ids renamed at import included; a
 * prediction corrected (and its corrected object changed again) leaves the
 * working layer once and its corrected object is there instead; a damaged
 * block is refused by name, never sent; an import cancelled midway leaves
 * no block and nothing visible; an id repeated within one block is renamed
 * in the block only where its row was; the slide's count the listing sends
 * with each page (kept between pages) follows every write.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeColumnarColumns } from '../../src/core/columnar-pages.js';
import { WsiError } from '../../src/core/errors.js';
import { flatten } from '../../src/core/flat-geometry.js';
import { columnarPage } from '../../tiles-server/columnar-listing.js';
import { runImport, STAGE_OBJECTS, type ImportJob } from '../../tiles-server/import/importer.js';
import { AnnotationStore, type Layer } from '../../tiles-server/store/annotation-store.js';
import { openDatabase, type Db } from '../../tiles-server/store/database.js';
import { ModelRunStore } from '../../tiles-server/store/model-runs.js';
import { BLOCK_CURSOR } from '../../tiles-server/store/prediction-blocks.js';
import { cellGrid, newModelRun, predictionGeojson, predictionJob, tempStore } from '../helpers/store-fixture.js';

const fixture = tempStore('wsi-blocks-');
let db: Db;
let store: AnnotationStore;
let runs: ModelRunStore;
const SLIDE = 'slide-blocks';
const N = Math.round(STAGE_OBJECTS * 2.5);
const PER_BLOCK = 1000;

/** A run's prediction file with these ids, in a grid of cells. */
const predictionFile = (name: string, ids: string[]): Promise<string> => predictionGeojson(fixture.dir, name, cellGrid(ids.length).map((c, i) => ({ ...c, id: ids[i] as string })));
const job = (path: string, runId: string): ImportJob => predictionJob(SLIDE, path, runId, { blockObjects: PER_BLOCK });
const newRun = (): string => newModelRun(runs, SLIDE);

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

beforeAll(() => {
  db = fixture.db;
  store = new AnnotationStore(db);
  runs = new ModelRunStore(db);
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

  it('refuses by name, as the server\'s fault, a block whose inside is damaged or whose count disagrees with its row', () => {
    // the block of the prediction corrected above: the working layer re-encodes it
    const victim = db.prepare(`SELECT b.id FROM prediction_blocks b JOIN annotations p ON p.rowid BETWEEN b.first_row AND b.last_row WHERE p.id = ?`).get(ids[2100]) as { id: number };
    const frame = (db.prepare(`SELECT frame FROM prediction_blocks WHERE id = ?`).get(victim.id) as { frame: Buffer }).frame;
    const damage = (f: (copy: Buffer) => void): void => {
      const copy = Buffer.from(frame);
      f(copy);
      db.prepare(`UPDATE prediction_blocks SET frame = ? WHERE id = ?`).run(copy, victim.id);
    };
    const failure = (layer: Layer): unknown => {
      try {
        listColumnar(layer);
      } catch (err) {
        return err;
      }
      return null;
    };
    try {
      // the strings at its end are no longer UTF-8 (the length and header still hold)
      damage((copy) => copy.fill(0xff, copy.length - 8));
      const err = failure('working');
      expect((err as Error).message).toMatch(`prediction block ${victim.id} is damaged`);
      expect(err).not.toBeInstanceOf(WsiError);
      // a frame of another count than its row's
      damage((copy) => copy.writeUInt32LE(copy.readUInt32LE(8) - 1, 8));
      expect((failure('model') as Error).message).toMatch(new RegExp(`^prediction block ${victim.id} is damaged: its row says (\\d+) predictions, its frame \\d+$`));
    } finally {
      db.prepare(`UPDATE prediction_blocks SET frame = ? WHERE id = ?`).run(frame, victim.id);
    }
    expect(listColumnar('working')).toEqual(listRows('working'));
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

  it('hold an id the file repeats once under each of its ids: the first keeps it, the repeat is renamed (not both)', async () => {
    const file: string[] = Array.from({ length: PER_BLOCK / 2 }, () => randomUUID());
    const twice = file[10] as string;
    file[20] = twice;
    const out = await runImport(db, job(await predictionFile('repeated.geojson', file), newRun()), () => false, () => undefined);
    expect('report' in out && out.report.renamedIds).toBe(1);
    for (const layer of ['all', 'working', 'model'] as const) {
      const byBlocks = listColumnar(layer);
      expect(byBlocks.has(twice)).toBe(true);
      expect(byBlocks).toEqual(listRows(layer));
    }
  });

  it("count, kept between the listing's pages, follows every write: this connection's and another's", () => {
    const before = store.count(SLIDE);
    expect(store.count(SLIDE)).toBe(before);
    const point = { kind: 'point' as const, geometry: { type: 'Point' as const, coordinates: [3, 3] as [number, number] }, classification: null, name: null, note: null, locked: false, objectType: 'annotation', properties: {} };
    const id = randomUUID();
    expect(store.applyBatch(SLIDE, 'count-1', 'tester', [{ op: 'create', annotation: { id, ...point } }]).status).toBe(200);
    expect(store.count(SLIDE)).toBe(before + 1);
    // a commit of another connection (another process on the same file)
    const other = openDatabase(join(fixture.dir, 'wsi.db'));
    try {
      other.prepare(`UPDATE annotations SET deleted = 1 WHERE id = ?`).run(id);
    } finally {
      other.close();
    }
    expect(store.count(SLIDE)).toBe(before);
  });
});
