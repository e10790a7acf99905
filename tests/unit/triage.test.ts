/**
 * The viewer half of issue 13, without a browser: edits of a model's
 * read-only predictions go through the sync engine to a corrected object
 * with `parent` (services/prediction-routing.ts), against the real
 * server-side store (in-memory SQLite) — an outline edit, a label-only
 * change (AI-02), a rejection and its undo and redo (AI-03), an acceptance
 * — and the triage queue's pure parts: order by score and by position, the
 * score filter, the state as the client sees it, done/remaining per class,
 * the ROI test.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Geometry } from '../../src/core/annotation.js';
import type { AnnotationApi, BatchOpJson, BatchResponse } from '../../src/services/annotation-api.js';
import { MemoryOutbox } from '../../src/services/outbox.js';
import { PredictionRouter } from '../../src/services/prediction-routing.js';
import { SyncEngine } from '../../src/services/sync.js';
import { AnnotationStore, type AnnotationRecord } from '../../src/state/annotation-store.js';
import { ModelProvenance } from '../../src/state/model-provenance.js';
import { UndoManager } from '../../src/state/undo.js';
import { centreInside, inRange, progressByClass, sortItems, stateOf, toItem, type QueueItem, type TriageState } from '../../src/tools/triage-queue.js';
import { correctionState } from '../../tiles-server/corrections/correction-state.js';
import { parseBatch } from '../../tiles-server/http/annotation-routes.js';
import { AnnotationStore as ServerStore } from '../../tiles-server/store/annotation-store.js';
import { openDatabase } from '../../tiles-server/store/database.js';

const SLIDE = 'slide1';
const RUN = 'run-0000-0001';

const square = (x: number, y: number, s = 10): Geometry => ({
  type: 'Polygon',
  coordinates: [
    [
      [x, y],
      [x + s, y],
      [x + s, y + s],
      [x, y + s],
      [x, y],
    ],
  ],
});

function record(x: number, cls: string | null): AnnotationRecord {
  return { id: randomUUID(), kind: 'polygon', geometry: square(x, 0), classification: cls, name: null, note: null, locked: false, objectType: 'detection', properties: {}, version: 0 };
}

/** The server store with `n` predictions of RUN (made as objects, then marked as the import path marks them). */
function serverWithPredictions(n: number): { server: ServerStore; db: ReturnType<typeof openDatabase>; preds: AnnotationRecord[]; calls: BatchOpJson[][] } {
  const db = openDatabase(':memory:');
  const server = new ServerStore(db);
  const preds = Array.from({ length: n }, (_, i) => record(i * 20, i % 2 ? 'Stroma' : 'Tumour'));
  server.applyBatch(SLIDE, randomUUID(), 'model', parseBatch({ ops: preds.map((p) => ({ op: 'create', annotation: { ...p, version: undefined } })) }), {});
  const mark = db.prepare('UPDATE annotations SET source = ?, score = ? WHERE id = ?');
  preds.forEach((p, i) => mark.run(RUN, i / n, p.id));
  return { server, db, preds, calls: [] };
}

function client(s: ReturnType<typeof serverWithPredictions>): { store: AnnotationStore; sync: SyncEngine; prov: ModelProvenance; undo: UndoManager } {
  const api = {
    slide: SLIDE,
    server: '',
    batch: async (opId: string, ops: BatchOpJson[]): Promise<BatchResponse> => {
      s.calls.push(ops);
      const r = s.server.applyBatch(SLIDE, opId, 'tech', parseBatch({ ops }), { ops });
      return { status: r.status, body: r.body as BatchResponse['body'] };
    },
  } as unknown as AnnotationApi;
  const store = new AnnotationStore();
  const prov = new ModelProvenance(store);
  // loaded as the working layer lists them: the predictions, read-only, with source and score
  const page = s.server.list(SLIDE, { limit: 1000, layer: 'working' }).annotations;
  store.bulkLoad(page.map((a) => ({ record: { ...a, properties: {} }, geometry: { type: 4, coords: new Float64Array((a.geometry as { coordinates: number[][][] }).coordinates[0]!.flat()), parts: new Uint32Array([5]) } })));
  for (const a of page) prov.note(store.handleOf(a.id) as number, a);
  const sync = new SyncEngine(store, new MemoryOutbox(), api);
  sync.router = new PredictionRouter(prov, (id) => {
    const h = store.handleOf(id) ?? prov.predictionHandle(id);
    return h === undefined ? null : store.record(h);
  });
  return { store, sync, prov, undo: new UndoManager(store) };
}

async function settle(sync: SyncEngine): Promise<void> {
  for (let i = 0; i < 200; i++) {
    await new Promise((r) => setTimeout(r, 5));
    const st = sync.snapshot;
    if ((st.status === 'saved' && st.queued === 0) || st.status === 'conflict' || st.status === 'error') return;
  }
}

/** The server's correction state of a prediction (the report's rule). */
function serverState(server: ServerStore, id: string): string {
  return correctionState(server.get(id) as never, server.correctedOf(id) as never);
}

describe('edits of predictions go to corrected objects', () => {
  it('an outline edit, a label-only change (AI-02), a rejection and an acceptance are counted on the server as such', async () => {
    const s = serverWithPredictions(4);
    const { store, sync, prov } = client(s);
    const [p0, p1, p2, p3] = s.preds as [AnnotationRecord, AnnotationRecord, AnnotationRecord, AnnotationRecord];
    expect(prov.isPrediction(p0.id)).toBe(true);
    store.apply({ update: [{ id: p0.id, changes: { geometry: square(0, 0, 12) } }] }, 'local', 'Move vertex');
    store.apply({ update: [{ id: p1.id, changes: { classification: 'Tumour' } }] }, 'local', 'Set class');
    store.apply({ delete: [p2.id] }, 'local', 'Delete');
    sync.sendOps(sync.router!.accept([p3.id]), 'Accept');
    await settle(sync);
    expect(sync.snapshot.status).toBe('saved');
    // no op ever named a prediction except as a parent: nothing was refused as MODEL_OBJECT_READ_ONLY
    for (const ops of s.calls) for (const op of ops) expect(op.op === 'create' ? op.annotation['id'] : op.id).not.toBe(p0.id);
    expect(serverState(s.server, p0.id)).toBe('edited');
    expect(serverState(s.server, p1.id)).toBe('relabelled');
    expect(serverState(s.server, p2.id)).toBe('rejected');
    expect(serverState(s.server, p3.id)).toBe('accepted');
    // the predictions themselves are as the model made them
    expect(s.server.get(p0.id)).toMatchObject({ version: 1, geometry: p0.geometry, readOnly: true });
    // the local objects keep the predictions' ids and now track their corrected objects' versions
    expect(prov.serverId(p0.id)).toBe(s.server.correctedOf(p0.id)?.id);
    // a second edit goes to the same corrected object, with its version
    store.apply({ update: [{ id: p0.id, changes: { classification: 'Necrosis' } }] }, 'local', 'Set class');
    await settle(sync);
    expect(s.server.correctedOf(p0.id)).toMatchObject({ version: 2, classification: 'Necrosis' });
    expect(serverState(s.server, p0.id)).toBe('both');
  });

  it('the queue reuses the loaded predictions (issue 13): untouched ones from the session, the superseded ones from the server, the whole layer once one was acted on here', async () => {
    const s = serverWithPredictions(6);
    const [p0, p1] = s.preds as [AnnotationRecord, AnnotationRecord];
    // someone corrected p0 before this client loaded: the working layer leaves it out, `superseded` lists only it
    s.server.applyBatch(SLIDE, randomUUID(), 'other', parseBatch({ ops: [{ op: 'create', parent: p0.id, annotation: { ...p0, id: randomUUID(), classification: 'Necrosis', version: undefined } }] }), {});
    expect(s.server.list(SLIDE, { layer: 'superseded' }).annotations.map((a) => a.id)).toEqual([p0.id]);
    const { store, prov, sync } = client(s);
    const loaded = prov.untouchedPredictions(RUN, store) as number[];
    expect(loaded.map((h) => store.idOf(h))).toEqual(s.preds.slice(1).map((p) => p.id));
    expect(loaded.map((h) => prov.scoreOf(h))).toEqual([1, 2, 3, 4, 5].map((i) => i / 6));
    expect(prov.untouchedPredictions('another-run', store)).toEqual([]);
    // a local edit of one: its local object may no longer be the model's, so the queue reads the server's layer
    store.apply({ update: [{ id: p1.id, changes: { classification: 'Tumour' } }] }, 'local', 'Set class');
    expect(prov.untouchedPredictions(RUN, store)).toBeNull();
    await settle(sync);
  });

  it('undo of a rejection brings the object back and redo rejects it again; both steps stay in the history (AI-03)', async () => {
    const s = serverWithPredictions(2);
    const { store, sync, undo } = client(s);
    const p = s.preds[0] as AnnotationRecord;
    store.apply({ delete: [p.id] }, 'local', 'Reject');
    await settle(sync);
    expect(serverState(s.server, p.id)).toBe('rejected');
    undo.undo();
    await settle(sync);
    expect(store.has(p.id)).toBe(true);
    // a corrected object cannot go back to "nobody acted": it is there again as the model made it
    expect(serverState(s.server, p.id)).toBe('accepted');
    undo.redo();
    await settle(sync);
    expect(sync.snapshot.status).toBe('saved');
    expect(serverState(s.server, p.id)).toBe('rejected');
    const c = s.server.correctedOf(p.id);
    expect(c?.version).toBeGreaterThanOrEqual(4);
  });

  it('two people correct the same prediction: the second gets a conflict (409 ANNOTATION_EXISTS), and either choice ends on their corrected object, nothing lost', async () => {
    for (const choice of ['mine', 'theirs'] as const) {
      const s = serverWithPredictions(1);
      const a = client(s);
      const b = client(s);
      const p = s.preds[0] as AnnotationRecord;
      a.store.apply({ update: [{ id: p.id, changes: { classification: 'Stroma' } }] }, 'local', 'Set class');
      await settle(a.sync);
      // b still sees the prediction untouched and relabels it too
      b.store.apply({ update: [{ id: p.id, changes: { classification: 'Necrosis' } }] }, 'local', 'Set class');
      await settle(b.sync);
      expect(b.sync.snapshot.status).toBe('conflict');
      expect(b.sync.snapshot.conflict?.code).toBe('ANNOTATION_EXISTS');
      const theirs = s.server.correctedOf(p.id);
      await b.sync.resolve(choice);
      await settle(b.sync);
      expect(b.sync.snapshot.status).toBe('saved');
      // still one corrected object, a's; b's local prediction now stands for it
      expect(s.server.correctedOf(p.id)?.id).toBe(theirs?.id);
      expect(b.prov.serverId(p.id)).toBe(theirs?.id);
      expect(s.server.correctedOf(p.id)?.classification).toBe(choice === 'mine' ? 'Necrosis' : 'Stroma');
      expect(b.store.classOf(b.store.handleOf(p.id) as number)).toBe(choice === 'mine' ? 'Necrosis' : 'Stroma');
      // b's next edit goes to it at the right version
      b.store.apply({ update: [{ id: p.id, changes: { geometry: square(0, 0, 14) } }] }, 'local', 'Move vertex');
      await settle(b.sync);
      expect(b.sync.snapshot.status).toBe('saved');
      expect(serverState(s.server, p.id)).toBe('both');
    }
  });

  it('manual objects pass unchanged, and a direct edit of a prediction without the router is refused (409 MODEL_OBJECT_READ_ONLY)', async () => {
    const s = serverWithPredictions(1);
    const { store, sync } = client(s);
    const mine = record(500, 'Tumour');
    store.apply({ create: [mine] }, 'local', 'Draw');
    await settle(sync);
    expect(s.server.get(mine.id)).toMatchObject({ version: 1, source: 'manual' });
    const p = s.preds[0] as AnnotationRecord;
    const direct = s.server.applyBatch(SLIDE, randomUUID(), 'tech', parseBatch({ ops: [{ op: 'update', id: p.id, ifMatch: 1, changes: { classification: 'Other' } }] }), {});
    expect(direct.status).toBe(409);
    expect(direct.body['code']).toBe('MODEL_OBJECT_READ_ONLY');
  });
});

function item(id: string, score: number | null, x: number, y: number, cls = 'Tumour'): QueueItem {
  return toItem({ id, classification: cls, score, kind: 'polygon', geometry: square(x, y), version: 1 });
}

describe('the triage queue', () => {
  it('orders by score, lowest first and unscored last, or by position in bands', () => {
    const items = [item('c', 0.9, 0, 0), item('a', 0.1, 5000, 5000), item('n', null, 10, 10), item('b', 0.5, 2000, 0)];
    expect(sortItems(items, 'score').map((i) => i.id)).toEqual(['a', 'b', 'c', 'n']);
    expect(sortItems(items, 'position').map((i) => i.id)).toEqual(['c', 'n', 'b', 'a']);
  });

  it('filters by score; an unscored object only passes the full range', () => {
    expect(inRange({ score: 0.3 }, { min: 0.2, max: 0.4 })).toBe(true);
    expect(inRange({ score: 0.5 }, { min: 0.2, max: 0.4 })).toBe(false);
    expect(inRange({ score: null }, { min: 0, max: 1 })).toBe(true);
    expect(inRange({ score: null }, { min: 0.1, max: 1 })).toBe(false);
  });

  it('reads each state from the local object that stands for the prediction; a label-only change is relabelled (AI-02)', () => {
    const store = new AnnotationStore();
    const prov = new ModelProvenance(store);
    const recs = [0, 1, 2, 3, 4].map((i) => ({ ...record(i * 20, 'Tumour'), version: 1 }));
    store.bulkLoad(recs.map((r) => ({ record: r, geometry: { type: 4, coords: new Float64Array(r.geometry.type === 'Polygon' ? r.geometry.coordinates[0]!.flat() : []), parts: new Uint32Array([5]) } })));
    recs.forEach((r) => prov.note(store.handleOf(r.id) as number, { id: r.id, source: RUN, parent: null, score: 0.5, readOnly: true }));
    const items = recs.map((r) => toItem({ id: r.id, classification: 'Tumour', score: 0.5, kind: 'polygon', geometry: r.geometry, version: 1 }));
    const [i0, i1, i2, i3, i4] = items as [QueueItem, QueueItem, QueueItem, QueueItem, QueueItem];
    // acted on here: the router gives each an alias when its first op is routed
    for (const r of recs.slice(0, 4)) prov.alias(r.id, randomUUID());
    store.apply({ update: [{ id: i1.id, changes: { classification: 'Stroma' } }] }, 'local');
    store.apply({ update: [{ id: i2.id, changes: { geometry: square(40, 0, 11) } }] }, 'local');
    store.apply({ delete: [i3.id] }, 'local');
    const st = (it: QueueItem): TriageState => stateOf(it, store, prov);
    expect([i0, i1, i2, i3, i4].map(st)).toEqual(['accepted', 'relabelled', 'edited', 'rejected', 'untouched']);
    // a corrected object loaded from the server stands for its prediction
    const c = { ...record(200, 'Necrosis'), version: 3 };
    const p5 = toItem({ id: randomUUID(), classification: 'Tumour', score: 0.2, kind: 'polygon', geometry: c.geometry, version: 1 });
    store.apply({ create: [c] }, 'remote');
    prov.note(store.handleOf(c.id) as number, { id: c.id, source: RUN, parent: p5.id });
    expect(st(p5)).toBe('relabelled');
    const progress = progressByClass([...items, p5], st);
    expect(progress.get('Tumour')).toEqual({ done: 5, remaining: 1 });
  });

  it('takes objects whose centre lies in an ROI, not in its hole', () => {
    const outer = new Float64Array([0, 0, 100, 0, 100, 100, 0, 100, 0, 0]);
    const hole = new Float64Array([40, 40, 60, 40, 60, 60, 40, 60, 40, 40]);
    expect(centreInside(item('in', 1, 10, 10), [[outer, hole]])).toBe(true);
    expect(centreInside(item('hole', 1, 45, 45), [[outer, hole]])).toBe(false);
    expect(centreInside(item('out', 1, 200, 10), [[outer, hole]])).toBe(false);
  });
});
