/**
 * Imports staged in short transactions (issue 10 finding 1): rows an import
 * is still writing are invisible to every read (list, bounding box, count,
 * get) and their ids are taken; one commit makes all of them visible at
 * once; a discard removes every trace in short transactions while history
 * stays append-only for everything committed; and a writer on another
 * connection is never locked out for longer than one staging transaction.
 * On both engines (SQLite and PostgreSQL: tests/helpers/store-engines.ts).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AnnotationInput } from '../../src/core/annotation.js';
import { AnnotationStore } from '../../tiles-server/store/annotation-store.js';
import { writeGateOf, writeTransaction, type Db } from '../../tiles-server/store/database.js';
import { ImportStaging } from '../../tiles-server/store/import-staging.js';
import { describeEachEngine, type StoreUnderTest } from '../helpers/store-engines.js';

let engine: StoreUnderTest;
let db: Db;
let store: AnnotationStore;
let staging: ImportStaging;
const SLIDE = 'slideA';

function cell(x: number, y: number, id: string = randomUUID()): AnnotationInput {
  return {
    id,
    kind: 'polygon',
    geometry: { type: 'Polygon', coordinates: [[[x, y], [x + 10, y], [x + 10, y + 10], [x, y]]] },
    classification: 'Imported class',
    name: null,
    note: null,
    locked: false,
    objectType: 'cell',
    properties: {},
  };
}

const rows = (sql: string): number => (db.prepare(sql).get() as { n: number }).n;

const job = { slideId: SLIDE, opId: 'import-op-1', format: 'qupath-geojson', author: 'tester' };

describeEachEngine('import staging', ({ make }) => {
  beforeAll(() => {
    engine = make();
    db = engine.open();
    store = new AnnotationStore(db);
    staging = new ImportStaging(db);
  });

  afterAll(() => {
    db.close();
    engine.dispose();
  });

  it('hides staged rows from every read until one commit shows them all', () => {
    const manual = cell(5000, 5000);
    expect(store.applyBatch(SLIDE, 'manual-1', 'tester', [{ op: 'create', annotation: manual }]).status).toBe(200);
    const id = staging.begin(job);
    const first = cell(0, 0);
    const at = new Date().toISOString();
    expect(staging.stage(id, job, at, [first, cell(20, 0), cell(40, 0)])).toBe(0);
    expect(staging.stage(id, job, at, [cell(60, 0)])).toBe(0);
    // staged: not listed, not counted, not in a box, not readable by id — but its id is taken
    expect(store.count(SLIDE)).toBe(1);
    expect(store.list(SLIDE).annotations.map((a) => a.id)).toEqual([manual.id]);
    expect(store.list(SLIDE, { bbox: [0, 0, 100, 100] }).annotations).toEqual([]);
    expect(store.get(first.id)).toBeNull();
    expect(store.slideOf(first.id)).toBeNull();
    expect(store.exists(first.id)).toBe(true);
    // another user creating that very id gets a conflict that shows nothing of the staged object
    const clash = store.applyBatch(SLIDE, 'manual-2', 'tester', [{ op: 'create', annotation: { ...cell(1, 1), id: first.id } }]);
    expect(clash.status).toBe(409);
    expect(clash.body['detail']).toEqual({ opId: 'manual-2', index: 0 });

    staging.commit(id, job, 'hash', [{ name: 'Imported class', color: '#123456', hotkey: null }], (added) => ({ added: added.map((c) => c.name) }));
    expect(store.count(SLIDE)).toBe(5);
    expect(store.list(SLIDE, { bbox: [0, 0, 100, 100] }).annotations).toHaveLength(4);
    expect(store.get(first.id)?.version).toBe(1);
    expect(store.classes().map((c) => c.name)).toContain('Imported class');
    expect(staging.prior(job.opId)).toMatchObject({ slideId: SLIDE, hash: 'hash', status: 201, response: '{"added":["Imported class"]}' });
    // committed rows are history like any other: append-only, and never discarded
    expect(() => db.prepare('DELETE FROM history WHERE annotation_id = ?').run(first.id)).toThrow(/append-only/);
    expect(() => staging.discardSome(id)).toThrow(/committed/);
  });

  it('renames ids that are taken (by any slide, or earlier in the same file) and keeps the old one', () => {
    const j = { ...job, opId: 'import-op-2' };
    const id = staging.begin(j);
    const taken = store.list(SLIDE).annotations[0]?.id as string;
    const twin = randomUUID();
    expect(staging.stage(id, j, new Date().toISOString(), [cell(0, 100, taken), cell(0, 120, twin), cell(0, 140, twin)])).toBe(2);
    staging.commit(id, j, 'h2', [], () => ({}));
    const ids = store.list(SLIDE, { bbox: [0, 100, 20, 160] }).annotations;
    expect(ids).toHaveLength(3);
    expect(ids.filter((a) => a.properties['sourceId'] !== undefined).map((a) => a.properties['sourceId']).sort()).toEqual([taken, twin].sort());
  });

  it('discards a failed or cancelled import completely, in short transactions', () => {
    const before = { annotations: rows('SELECT count(*) AS n FROM annotations'), history: rows('SELECT count(*) AS n FROM history'), boxes: rows('SELECT count(*) AS n FROM annotations_rtree') };
    const j = { ...job, opId: 'import-op-3' };
    const id = staging.begin(j);
    for (let k = 0; k < 5; k++) staging.stage(id, j, new Date().toISOString(), Array.from({ length: 20 }, (_, i) => cell(i * 11, 1000 + k * 11)));
    expect(store.count(SLIDE)).toBe(8);
    let steps = 0;
    while (!staging.discardSome(id, 40)) steps++;
    expect(steps).toBe(2); // 100 rows in chunks of 40: three transactions
    expect({ annotations: rows('SELECT count(*) AS n FROM annotations'), history: rows('SELECT count(*) AS n FROM history'), boxes: rows('SELECT count(*) AS n FROM annotations_rtree') }).toEqual(before);
    expect(rows('SELECT count(*) AS n FROM import_jobs WHERE id = ' + id)).toBe(0);
    expect(staging.prior(j.opId)).toBeNull();
    expect(store.count(SLIDE)).toBe(8);
  });

  it('a staging transaction that finds its import discarded meanwhile stops (and writes nothing)', () => {
    const j = { ...job, opId: 'import-op-4' };
    const id = staging.begin(j);
    while (!staging.discardSome(id));
    const n = rows('SELECT count(*) AS n FROM annotations');
    expect(() => staging.stage(id, j, new Date().toISOString(), [cell(0, 0)])).toThrow(/no longer staging/);
    expect(rows('SELECT count(*) AS n FROM annotations')).toBe(n);
  });

  it('lists what a stopped server left unfinished', () => {
    const j = { ...job, opId: 'import-op-5' };
    const id = staging.begin(j);
    staging.stage(id, j, new Date().toISOString(), [cell(0, 3000)]);
    expect(staging.unfinished()).toEqual([id]);
    while (!staging.discardSome(id));
    expect(staging.unfinished()).toEqual([]);
  });

  it("counts the server's write transactions in its write gate, also when one fails, so an import worker knows when to wait", () => {
    const pending = new Int32Array(writeGateOf(db).buffer);
    expect(Atomics.load(pending, 0)).toBe(0);
    expect(writeTransaction(db, () => Atomics.load(pending, 0))).toBe(1);
    expect(() => writeTransaction(db, () => writeTransaction(db, () => {
      expect(Atomics.load(pending, 0)).toBe(2);
      throw new Error('refused');
    }))).toThrow('refused');
    expect(Atomics.load(pending, 0)).toBe(0);
  });
});
