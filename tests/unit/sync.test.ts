/**
 * The sync engine against the real server-side store (in-memory SQLite):
 * ordering, idempotent retries when responses are lost (DATA-03), server
 * errors (DATA-04), rapid edits of one object (DATA-07), conflicts
 * (DATA-06), offline queues (DATA-02) and undo of deletes.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { AnnotationInput } from '../../src/core/annotation.js';
import type { AnnotationApi, BatchOpJson, BatchResponse } from '../../src/services/annotation-api.js';
import { MemoryOutbox } from '../../src/services/outbox.js';
import { SyncEngine } from '../../src/services/sync.js';
import { AnnotationStore, type AnnotationRecord } from '../../src/state/annotation-store.js';
import { UndoManager } from '../../src/state/undo.js';
import { parseBatch } from '../../tiles-server/http/annotation-routes.js';
import { AnnotationStore as ServerStore } from '../../tiles-server/store/annotation-store.js';
import { openDatabase } from '../../tiles-server/store/database.js';

const SLIDE = 'slide1';

class FakeServer {
  readonly db = openDatabase(':memory:');
  readonly store = new ServerStore(this.db);
  calls = 0;
  offline = false;
  /** Batches with more operations than this are refused whole with 413. */
  maxOps = Infinity;
  /** Behaviour for the next calls: 'ok', 'offline', 'lose-response', or a status. */
  script: Array<'ok' | 'offline' | 'lose-response' | number> = [];

  api(): AnnotationApi {
    return {
      slide: SLIDE,
      server: '',
      batch: async (opId: string, ops: BatchOpJson[]): Promise<BatchResponse> => {
        this.calls++;
        if (this.offline) throw new TypeError('fetch failed');
        if (ops.length > this.maxOps) return { status: 413, body: { code: 'PAYLOAD_TOO_LARGE', message: 'the request body exceeds the limit.' } };
        const mode = this.script.shift() ?? 'ok';
        if (mode === 'offline') throw new TypeError('fetch failed');
        if (typeof mode === 'number') return { status: mode, body: { code: 'INTERNAL', message: 'boom' } };
        const r = this.store.applyBatch(SLIDE, opId, 'tester', parseBatch({ ops }), { ops });
        if (mode === 'lose-response') throw new TypeError('connection reset');
        return { status: r.status, body: r.body as BatchResponse['body'] };
      },
    } as unknown as AnnotationApi;
  }

  all(): Array<{ id: string; version: number; name: string | null; geometry: unknown }> {
    return this.store.list(SLIDE, { limit: 100_000 }).annotations;
  }
}

function rect(x: number, name: string | null = null): AnnotationRecord {
  return {
    id: randomUUID(),
    kind: 'polygon',
    geometry: { type: 'Polygon', coordinates: [[[x, 0], [x + 10, 0], [x + 10, 10], [x, 10], [x, 0]]] },
    classification: 'Tumour',
    name,
    note: null,
    locked: false,
    objectType: 'annotation',
    properties: {},
    version: 0,
  };
}

async function settle(sync: SyncEngine): Promise<void> {
  for (let i = 0; i < 200; i++) {
    await new Promise((r) => setTimeout(r, 5));
    const s = sync.snapshot;
    if (s.status === 'saved' || s.status === 'conflict' || s.status === 'error') return;
  }
}

function setup(): { server: FakeServer; store: AnnotationStore; sync: SyncEngine; outbox: MemoryOutbox } {
  const server = new FakeServer();
  const store = new AnnotationStore();
  const outbox = new MemoryOutbox();
  const sync = new SyncEngine(store, outbox, server.api());
  return { server, store, sync, outbox };
}

describe('sync engine', () => {
  it('sends each gesture once, in order, and records versions', async () => {
    const { server, store, sync } = setup();
    const a = rect(0);
    store.apply({ create: [a] }, 'local', 'Draw');
    store.apply({ update: [{ id: a.id, changes: { name: 'one' } }] }, 'local', 'Rename');
    store.apply({ update: [{ id: a.id, changes: { name: 'two' } }] }, 'local', 'Rename');
    await settle(sync);
    expect(sync.snapshot).toMatchObject({ status: 'saved', queued: 0 });
    expect(server.all()).toMatchObject([{ id: a.id, version: 3, name: 'two' }]);
    expect(store.versionOf(store.handleOf(a.id) as number)).toBe(3);
  });

  it('50 rapid saves of one object: no spurious 412, nothing lost (DATA-07)', async () => {
    const { server, store, sync } = setup();
    const a = rect(0);
    store.apply({ create: [a] }, 'local');
    for (let i = 0; i < 50; i++) store.apply({ update: [{ id: a.id, changes: { name: `n${i}` } }] }, 'local');
    await settle(sync);
    expect(sync.snapshot.status).toBe('saved');
    expect(server.all()[0]).toMatchObject({ name: 'n49', version: 51 });
  });

  it('a lost response is retried with the same operation id: exactly one object (DATA-03)', async () => {
    const { server, store, sync } = setup();
    server.script = ['lose-response'];
    store.apply({ create: [rect(0)] }, 'local');
    await settle(sync);
    expect(server.calls).toBe(2);
    expect(server.all()).toHaveLength(1);
  });

  it('retries through intermittent 500/503 and says so (DATA-04)', async () => {
    const { server, store, sync } = setup();
    const statuses: string[] = [];
    sync.onChange((s) => statuses.push(s.status));
    server.script = [500, 'ok', 503, 'ok', 500];
    for (let i = 0; i < 4; i++) store.apply({ create: [rect(i * 20)] }, 'local');
    await settle(sync);
    await new Promise((r) => setTimeout(r, 3000));
    await settle(sync);
    expect(server.all()).toHaveLength(4);
    expect(statuses).toContain('retrying');
    expect(sync.snapshot.status).toBe('saved');
  }, 20_000);

  it('keeps edits through an ended session and sends them once signed in again (SEC-07, SEC-08, DATA-05)', async () => {
    const { server, store, sync } = setup();
    const messages: string[] = [];
    sync.onChange((s) => messages.push(`${s.status}: ${s.message ?? ''}`));
    server.script = [401, 401];
    const a = rect(0);
    store.apply({ create: [a] }, 'local');
    store.apply({ update: [{ id: a.id, changes: { name: 'after' } }] }, 'local');
    await settle(sync);
    await new Promise((r) => setTimeout(r, 3000));
    await settle(sync);
    expect(messages.some((m) => /^retrying: Your session has ended/.test(m))).toBe(true);
    expect(sync.snapshot).toMatchObject({ status: 'saved', queued: 0 });
    expect(server.all()).toMatchObject([{ id: a.id, version: 2, name: 'after' }]);
  }, 20_000);

  it('a gesture too large for one request is saved in parts, in order (DATA-10)', async () => {
    const { server, store, sync, outbox } = setup();
    server.maxOps = 3;
    const a = rect(0);
    store.apply({ create: [a] }, 'local');
    const many = Array.from({ length: 10 }, (_, i) => rect(100 + i * 20));
    store.apply({ create: many }, 'local', 'Paste');
    store.apply({ update: [{ id: a.id, changes: { name: 'after' } }] }, 'local');
    await settle(sync);
    expect(sync.snapshot).toMatchObject({ status: 'saved', queued: 0 });
    expect(server.all()).toHaveLength(11);
    expect(server.all().find((r) => r.id === a.id)).toMatchObject({ name: 'after', version: 2 });
    expect(await outbox.list(SLIDE)).toEqual([]);
  });

  it('a single edit over the limit is kept and reported, never counted as saved (DATA-10)', async () => {
    const { server, store, sync, outbox } = setup();
    server.maxOps = 0;
    const a = rect(0);
    store.apply({ create: [a] }, 'local', 'Draw polygon');
    await settle(sync);
    expect(sync.snapshot.status).toBe('error');
    expect(sync.snapshot.message).toMatch(/larger than the server accepts.*kept/);
    expect(sync.snapshot.queued).toBe(1);
    expect((await outbox.list(SLIDE))[0]?.ops[0]).toMatchObject({ op: 'create' });
    expect(store.has(a.id)).toBe(true);
    expect(server.all()).toEqual([]);
  });

  it('leaving a slide keeps sending its queue; reopening waits for it, then takes over the rest (DATA-15)', async () => {
    const { server, store, sync, outbox } = setup();
    server.offline = true;
    store.apply({ create: [rect(0)] }, 'local');
    store.apply({ create: [rect(20)] }, 'local');
    await new Promise((r) => setTimeout(r, 30));
    sync.detach();
    store.apply({ create: [rect(40)] }, 'local'); // after leaving: no engine takes it (the real store is discarded)
    server.offline = false;
    sync.retryNow();
    // the slide is opened again: the new engine waits for the old one
    await new SyncEngine(new AnnotationStore(), outbox, server.api()).handOver(2000);
    expect(server.all()).toHaveLength(2);
    expect(await outbox.list(SLIDE)).toEqual([]);
    // a second engine that left while offline is stopped by the hand-over; its entries stay in the outbox
    const next = new SyncEngine(store, outbox, server.api());
    server.offline = true;
    store.apply({ create: [rect(60)] }, 'local');
    await new Promise((r) => setTimeout(r, 30));
    next.detach();
    const third = new SyncEngine(new AnnotationStore(), outbox, server.api());
    await third.handOver(100);
    expect((await outbox.list(SLIDE)).length).toBe(1);
    server.offline = false;
    await third.resume();
    await settle(third);
    expect(server.all()).toHaveLength(3);
  });

  it('queues offline with a count and drains in order once back (DATA-02)', async () => {
    const { server, store, sync, outbox } = setup();
    server.offline = true;
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) {
      const r = rect(i * 20);
      ids.push(r.id);
      store.apply({ create: [r] }, 'local');
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(sync.snapshot.status).toBe('offline');
    expect((await outbox.list(SLIDE)).length).toBe(200);
    expect(sync.snapshot.queued).toBe(200);
    server.offline = false;
    sync.retryNow(); // what the browser's "online" event does
    await new Promise((r) => setTimeout(r, 200));
    await settle(sync);
    expect(sync.snapshot.status).toBe('saved');
    expect(server.all().map((x) => x.id)).toEqual(ids);
  }, 20_000);

  it('a stale write stops the queue, keeps the local edit, and either choice keeps both in history (DATA-06)', async () => {
    const { server, store, sync } = setup();
    const a = rect(0, 'base');
    store.apply({ create: [a] }, 'local');
    await settle(sync);
    // someone else edits it on the server
    server.store.applyBatch(SLIDE, randomUUID(), 'other', [{ op: 'update', id: a.id, ifMatch: 1, changes: { name: 'theirs' } }]);
    store.apply({ update: [{ id: a.id, changes: { name: 'mine' } }] }, 'local');
    await settle(sync);
    expect(sync.snapshot.status).toBe('conflict');
    expect(sync.snapshot.conflict?.current?.name).toBe('theirs');
    expect(store.record(store.handleOf(a.id) as number).name).toBe('mine');
    await sync.resolve('mine');
    await settle(sync);
    expect(server.all()[0]).toMatchObject({ name: 'mine', version: 3 });
    // and again, this time choosing theirs
    server.store.applyBatch(SLIDE, randomUUID(), 'other', [{ op: 'update', id: a.id, ifMatch: 3, changes: { name: 'theirs again' } }]);
    store.apply({ update: [{ id: a.id, changes: { name: 'mine again' } }] }, 'local');
    await settle(sync);
    await sync.resolve('theirs');
    await settle(sync);
    expect(server.all()[0]?.name).toBe('theirs again');
    expect(store.record(store.handleOf(a.id) as number).name).toBe('theirs again');
    const names = server.store.history(a.id).map((h) => h.annotation.name);
    expect(names).toEqual(['base', 'theirs', 'mine', 'theirs again', 'mine again', 'theirs again']);
    // the client keeps editing without conflicts afterwards
    store.apply({ update: [{ id: a.id, changes: { name: 'after' } }] }, 'local');
    await settle(sync);
    expect(sync.snapshot.status).toBe('saved');
    expect(server.all()[0]?.name).toBe('after');
  });

  it('undo of a delete restores the tombstone instead of creating twice', async () => {
    const { server, store, sync } = setup();
    const undo = new UndoManager(store);
    const a = rect(0, 'keep me');
    store.apply({ create: [a] }, 'local');
    await settle(sync);
    store.apply({ delete: [a.id] }, 'local', 'Delete');
    await settle(sync);
    expect(server.all()).toHaveLength(0);
    undo.undo();
    await settle(sync);
    expect(sync.snapshot.status).toBe('saved');
    expect(server.all()).toMatchObject([{ id: a.id, name: 'keep me' }]);
    expect(server.store.history(a.id).map((h) => h.op)).toEqual(['create', 'delete', 'restore', 'update']);
  });

  it('after a reload, unsent edits are re-applied on top of the server state and sent', async () => {
    const { server, store, sync, outbox } = setup();
    server.offline = true;
    const a = rect(0, 'unsent');
    store.apply({ create: [a] }, 'local');
    await new Promise((r) => setTimeout(r, 30));
    sync.stop();
    // a new page: fresh store, same outbox
    const store2 = new AnnotationStore();
    const sync2 = new SyncEngine(store2, outbox, server.api());
    server.offline = false;
    expect(await sync2.resume()).toBe(1);
    expect(store2.record(store2.handleOf(a.id) as number).name).toBe('unsent');
    await settle(sync2);
    expect(server.all()).toMatchObject([{ id: a.id, name: 'unsent' }]);
  });

  it('sends only the fields that changed', () => {
    const { store, sync } = setup();
    const a: AnnotationInput & { version: number } = { ...rect(0), version: 4 };
    store.apply({ create: [a] }, 'remote');
    const cs = store.apply({ update: [{ id: a.id, changes: { classification: 'Stroma' } }] }, 'local');
    expect(sync.toOps(cs)).toEqual([{ op: 'update', id: a.id, ifMatch: 4, changes: { classification: 'Stroma' } }]);
  });
});
