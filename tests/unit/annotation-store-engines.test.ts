/**
 * The annotation store (tiles-server/store/annotation-store.ts) on both
 * engines: versions, history, tombstones and restore; pages and the spatial
 * query (SQLite's R*Tree, PostgreSQL's GiST box index: edges included on
 * both); per-class counts (the JSON field, SQL NULL for no class);
 * idempotent batches (DATA-03); class ids. Then the cases where the engines
 * could differ: a unique key hit directly, the longest text a field takes,
 * NULLs in unique keys, a class name too long for PostgreSQL's B-tree
 * (refused on both, by name), and a second writer (another replica, another
 * thread) that writes the same object while a batch waits: the batch gets 412,
 * never a unique-key error.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeEach, expect, it } from 'vitest';
import { MAX_TEXT, type AnnotationInput } from '../../src/core/annotation.js';
import { AnnotationStore, MAX_CLASS_NAME } from '../../tiles-server/store/annotation-store.js';
import type { Db } from '../../tiles-server/store/database.js';
import { describeEachEngine, type StoreUnderTest } from '../helpers/store-engines.js';

/** Each test's own slide (and operation ids under it): the tests of an engine share one store. */
let SLIDE = 'slide-0';
let slides = 0;

function rect(x: number, y: number, w: number, h: number, classification: string | null = 'Tumour', id: string = randomUUID()): AnnotationInput {
  return {
    id,
    kind: 'rectangle',
    geometry: { type: 'Polygon', coordinates: [[[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]]] },
    classification,
    name: null,
    note: null,
    locked: false,
    objectType: 'annotation',
    properties: {},
  };
}

describeEachEngine('the annotation store', ({ make }) => {
  // one store per engine (a PostgreSQL database costs a CREATE DATABASE): each test on a slide of its own
  let shared: { engine: StoreUnderTest; db: Db; store: AnnotationStore } | null = null;
  const fresh = (): { engine: StoreUnderTest; db: Db; store: AnnotationStore } => {
    if (!shared) {
      const engine = make();
      const db = engine.open();
      shared = { engine, db, store: new AnnotationStore(db) };
    }
    return shared;
  };
  beforeEach(() => {
    SLIDE = `slide-${++slides}`;
  });
  afterAll(() => {
    shared?.db.close();
    shared?.engine.dispose();
  });

  it('keeps every version: update, delete as a tombstone, restore; lists pages, counts and deleted objects', () => {
    const { store } = fresh();
    const a = rect(0, 0, 10, 10);
    const b = rect(100, 0, 10, 10, null);
    expect(store.applyBatch(SLIDE, `${SLIDE}:op-1`, 'ann', [{ op: 'create', annotation: a }, { op: 'create', annotation: b }]).status).toBe(200);
    expect(store.applyBatch(SLIDE, `${SLIDE}:op-2`, 'ann', [{ op: 'update', id: a.id, ifMatch: 1, changes: { name: 'first' } }]).body).toEqual({ opId: `${SLIDE}:op-2`, results: [{ id: a.id, version: 2, deleted: false }] });
    expect(store.applyBatch(SLIDE, `${SLIDE}:op-3`, 'rev', [{ op: 'delete', id: a.id, ifMatch: 2 }]).status).toBe(200);
    expect(store.get(a.id)).toMatchObject({ version: 3, deleted: true, name: 'first', updatedBy: 'rev', createdBy: 'ann', source: 'manual' });
    expect(store.count(SLIDE)).toBe(1);
    const gone = store.deletedOf(SLIDE);
    expect(gone.annotations.map((x) => x.id)).toEqual([a.id]);
    expect(store.applyBatch(SLIDE, `${SLIDE}:op-4`, 'ann', [{ op: 'restore', id: a.id, ifMatch: 3, toVersion: 1 }]).status).toBe(200);
    expect(store.get(a.id)).toMatchObject({ version: 4, deleted: false, name: null });
    expect(store.history(a.id).map((h) => [h.version, h.op, h.author, h.annotation.deleted])).toEqual([
      [1, 'create', 'ann', false],
      [2, 'update', 'ann', false],
      [3, 'delete', 'rev', true],
      [4, 'restore', 'ann', false],
    ]);
    // pages by rowid, with a cursor
    const first = store.list(SLIDE, { limit: 1 });
    expect(first.annotations.map((x) => x.id)).toEqual([a.id]);
    expect(store.list(SLIDE, { limit: 1, after: first.next as number }).annotations.map((x) => x.id)).toEqual([b.id]);
    // the class sits in the head's JSON: no class is SQL NULL on both engines
    expect(store.classCounts(SLIDE).sort((x, y) => String(x.name).localeCompare(String(y.name)))).toEqual([
      { name: null, n: 1 },
      { name: 'Tumour', n: 1 },
    ]);
    expect(store.countBy(SLIDE, 'ann')).toBe(2);
    expect(store.countBy(SLIDE, 'rev')).toBe(0);
  });

  it('finds objects in a box, edges included, and follows moves and deletions', () => {
    const { store } = fresh();
    const a = rect(0, 0, 10, 10);
    const b = rect(50, 50, 10, 10);
    const p = { ...rect(0, 0, 1, 1), kind: 'point' as const, geometry: { type: 'Point' as const, coordinates: [200, 300] as [number, number] } };
    store.applyBatch(SLIDE, `${SLIDE}:op-1`, 'ann', [{ op: 'create', annotation: a }, { op: 'create', annotation: b }, { op: 'create', annotation: p }]);
    store.applyBatch(`${SLIDE}-other`, `${SLIDE}:op-2`, 'ann', [{ op: 'create', annotation: rect(0, 0, 10, 10) }]);
    const inBox = (x0: number, y0: number, x1: number, y1: number): string[] => store.list(SLIDE, { bbox: [x0, y0, x1, y1] }).annotations.map((x) => x.id);
    expect(inBox(-5, -5, 5, 5)).toEqual([a.id]);
    expect(inBox(10, 10, 50, 50)).toEqual([a.id, b.id]); // touching corners count
    expect(inBox(11, 11, 49, 49)).toEqual([]);
    expect(inBox(200, 300, 200, 300)).toEqual([p.id]); // a point, a box of no area
    expect(inBox(-1000, -1000, 1000, 1000)).toEqual([a.id, b.id, p.id]);
    expect(store.list(SLIDE, { bbox: [-1000, -1000, 1000, 1000], limit: 2 }).next).not.toBeNull();
    // moved: the index follows
    store.applyBatch(SLIDE, `${SLIDE}:op-3`, 'ann', [{ op: 'update', id: a.id, ifMatch: 1, changes: { geometry: rect(500, 500, 5, 5).geometry } }]);
    expect(inBox(-5, -5, 5, 5)).toEqual([]);
    expect(inBox(500, 500, 501, 501)).toEqual([a.id]);
    store.applyBatch(SLIDE, `${SLIDE}:op-4`, 'ann', [{ op: 'delete', id: b.id, ifMatch: 1 }]);
    expect(inBox(10, 10, 50, 50)).toEqual([]);
    store.applyBatch(SLIDE, `${SLIDE}:op-5`, 'ann', [{ op: 'restore', id: b.id, ifMatch: 2 }]);
    expect(inBox(10, 10, 50, 50)).toEqual([b.id]);
  });

  it('answers a repeated operation id with the first answer, refuses it for another request, and remembers refusals (DATA-03)', () => {
    const { store } = fresh();
    const a = rect(0, 0, 10, 10);
    const first = store.applyBatch(SLIDE, `${SLIDE}:op-1`, 'ann', [{ op: 'create', annotation: a }]);
    expect(store.applyBatch(SLIDE, `${SLIDE}:op-1`, 'ann', [{ op: 'create', annotation: a }])).toEqual({ status: 200, body: { ...first.body, replayed: true } });
    expect(() => store.applyBatch(SLIDE, `${SLIDE}:op-1`, 'ann', [{ op: 'create', annotation: rect(1, 1, 1, 1) }])).toThrow(/already used/);
    const stale = store.applyBatch(SLIDE, `${SLIDE}:op-2`, 'ann', [{ op: 'update', id: a.id, ifMatch: 7, changes: { name: 'x' } }]);
    expect(stale.status).toBe(412);
    expect(store.applyBatch(SLIDE, `${SLIDE}:op-2`, 'ann', [{ op: 'update', id: a.id, ifMatch: 7, changes: { name: 'x' } }]).body['replayed']).toBe(true);
    // all or nothing: the second op fails, the first is not kept
    const b = rect(5, 5, 1, 1);
    expect(store.applyBatch(SLIDE, `${SLIDE}:op-3`, 'ann', [{ op: 'create', annotation: b }, { op: 'create', annotation: a }]).status).toBe(409);
    expect(store.exists(b.id)).toBe(false);
    expect(store.recordedOperation(`${SLIDE}:op-3`)).toBe(true);
  });

  it('gives class names permanent mask ids: kept through palette changes, never reused, never deleted', () => {
    const { db, store } = fresh();
    const tumour = store.classIdOf('Tumour');
    expect(tumour).toBe(1);
    store.setClasses([{ name: 'Stroma', color: '#000000', hotkey: null }, { name: 'New', color: '#ffffff', hotkey: 'w' }]);
    expect(store.classes()).toEqual([
      { id: 2, name: 'Stroma', color: '#000000', hotkey: null },
      { id: 7, name: 'New', color: '#ffffff', hotkey: 'w' },
    ]);
    expect(store.ensureClasses([{ name: 'Tumour', color: '#c8102e', hotkey: null }]).map((c) => c.id)).toEqual([tumour]);
    expect(store.previewClassIds(['Other name', 'New'])).toEqual(new Map([['Other name', 8], ['New', 7]]));
    expect(() => db.prepare('DELETE FROM class_ids WHERE id = 1').run()).toThrow(/class ids are permanent/);
    expect(() => db.prepare(`UPDATE class_ids SET name = 'Renamed' WHERE id = 1`).run()).toThrow(/class ids are permanent/);
  });

  it('the cases where the engines could differ: a unique key hit directly, the longest text, NULLs in unique keys, a class name too long for an index', () => {
    const { db, store } = fresh();
    const a = rect(0, 0, 10, 10);
    store.applyBatch(SLIDE, `${SLIDE}:op-1`, 'ann', [{ op: 'create', annotation: a }]);
    // the history's (annotation, version) is unique on both: a second version 1 is an error, and nothing is written
    const insert = db.prepare(`INSERT INTO history (annotation_id, slide_id, version, op, data, author, at, op_id) VALUES (?, ?, 1, 'create', '{}', 'x', 'now', 'op-x')`);
    expect(() => insert.run(a.id, SLIDE)).toThrow(/UNIQUE|unique/);
    expect(store.history(a.id)).toHaveLength(1);
    // the longest name and note a client may send, every character outside ASCII: back as sent
    const long = '\u00e9\u4e2d\ud83d\ude00'.repeat(MAX_TEXT / 4).slice(0, MAX_TEXT);
    const b = { ...rect(20, 20, 5, 5, long), name: long, note: long };
    expect(store.applyBatch(SLIDE, `${SLIDE}:op-2`, 'ann', [{ op: 'create', annotation: b }]).status).toBe(200);
    expect(store.get(b.id)).toMatchObject({ name: long, note: long, classification: long });
    expect(store.classCounts(SLIDE).find((c) => c.name === long)?.n).toBe(1);
    // NULLs in a unique key: every manual object has a NULL parent, and the unique index on parent lets them be
    for (let i = 0; i < 3; i++) store.applyBatch(SLIDE, `${SLIDE}:op-n${i}`, 'ann', [{ op: 'create', annotation: rect(i, i, 1, 1) }]);
    expect((db.prepare('SELECT count(*) AS n FROM annotations WHERE slide_id = ? AND parent IS NULL').get(SLIDE) as { n: number }).n).toBe(5);
    // an operation id is the primary key: a second row under it is refused, whatever the engine
    expect(() => store.recordOperation(`${SLIDE}:op-1`, SLIDE, 'h', 200, {})).toThrow(/UNIQUE|unique/);
    // a class name its unique index could not hold on PostgreSQL (over 2,704 bytes, incompressible) is refused on both, by name, and nothing changes
    const before = store.classes();
    const huge = randomBytes(3000).toString('base64');
    expect(() => store.ensureClasses([{ name: huge, color: '#000000', hotkey: null }])).toThrow(/at most 500 characters/);
    expect(() => store.previewClassIds([huge])).toThrow(/at most 500 characters/);
    expect(store.classes()).toEqual(before);
    // the longest it takes, in 4-byte characters, is kept on both
    const longest = '\ud83d\ude00'.repeat(MAX_CLASS_NAME / 2);
    expect(store.ensureClasses([{ name: longest, color: '#000000', hotkey: null }]).map((c) => c.name)).toEqual([longest]);
  });

  it('a batch that waits for another writer of the same object gets 412, not a unique-key error', async () => {
    const { engine, db, store } = fresh();
    const a = rect(0, 0, 10, 10);
    store.applyBatch(SLIDE, `${SLIDE}:op-1`, 'ann', [{ op: 'create', annotation: a }]);
    const seq = (db.prepare('SELECT head_seq AS s FROM annotations WHERE id = ?').get(a.id) as { s: number }).s;
    const version2 = JSON.stringify({ ...a, name: 'by the other writer', deleted: false });
    // the other writer: a thread with its own connection, writing version 2 inside the store's write transaction, held open a while
    const writer = otherWriter(engine, { id: a.id, slide: SLIDE, data: version2, seq });
    await writer.holding;
    const t0 = Date.now();
    const r = store.applyBatch(SLIDE, `${SLIDE}:op-2`, 'ann', [{ op: 'update', id: a.id, ifMatch: 1, changes: { name: 'mine' } }]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150); // it waited for the other transaction
    await writer.done;
    expect(r.status).toBe(412);
    expect(r.body['code']).toBe('PRECONDITION_FAILED');
    expect(store.get(a.id)).toMatchObject({ version: 2, name: 'by the other writer' });
  });
});

/** Another connection in another thread that writes version 2 of an annotation in a write transaction it holds for 300 ms. */
function otherWriter(engine: StoreUnderTest, w: { id: string; slide: string; data: string; seq: number }): { holding: Promise<void>; done: Promise<void> } {
  const require = createRequire(import.meta.url);
  const code =
    engine.engine === 'postgres'
      ? `const { parentPort, workerData: w } = require('node:worker_threads');
         const pg = require(w.module);
         (async () => {
           const c = new pg.Client({ connectionString: w.url });
           await c.connect();
           await c.query('BEGIN');
           await c.query('SELECT pg_advisory_xact_lock(7828329)');
           const h = await c.query("INSERT INTO history (annotation_id, slide_id, version, op, data, author, at, op_id) VALUES ($1, $2, 2, 'update', $3, 'other', 'now', 'op-other') RETURNING seq", [w.id, w.slide, w.data]);
           await c.query('UPDATE annotations SET version = 2, head_seq = $1 WHERE id = $2', [h.rows[0].seq, w.id]);
           parentPort.postMessage('holding');
           await new Promise((r) => setTimeout(r, 300));
           await c.query('COMMIT');
           await c.end();
           parentPort.postMessage('done');
         })();`
      : `const { parentPort, workerData: w } = require('node:worker_threads');
         const Database = require(w.module);
         const db = new Database(w.url);
         db.prepare('BEGIN IMMEDIATE').run();
         const seq = db.prepare("INSERT INTO history (annotation_id, slide_id, version, op, data, author, at, op_id) VALUES (?, ?, 2, 'update', ?, 'other', 'now', 'op-other')").run(w.id, w.slide, w.data).lastInsertRowid;
         db.prepare('UPDATE annotations SET version = 2, head_seq = ? WHERE id = ?').run(seq, w.id);
         parentPort.postMessage('holding');
         setTimeout(() => { db.prepare('COMMIT').run(); db.close(); parentPort.postMessage('done'); }, 300);`;
  const worker = new Worker(code, {
    eval: true,
    workerData: { ...w, url: engine.url, module: require.resolve(engine.engine === 'postgres' ? 'pg' : 'better-sqlite3') },
  });
  const message = (want: string): Promise<void> =>
    new Promise((resolve, reject) => {
      worker.on('message', (m) => m === want && resolve());
      worker.once('error', reject);
    });
  return { holding: message('holding'), done: message('done') };
}
