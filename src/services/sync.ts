/**
 * Sends local edits to the server, in order, exactly once. Each local change
 * set (one gesture) becomes one outbox entry holding one atomic batch with
 * its own operation id; entries drain head first. Network failures and 5xx
 * answers are retried with backoff under the same id (the server replays, so
 * nothing doubles); 412/409 stop the queue and surface a conflict that the
 * user resolves; acknowledged versions rebase later queued edits of the same
 * objects, so rapid edits never conflict with themselves. A gesture too large
 * for one request (413) is split into parts sent in order under new ids; a
 * single operation that is still too large is kept and reported (DATA-10).
 */
import type { Annotation } from '../core/annotation.js';
import type { AnnotationRecord, AnnotationStore, ChangeSet } from '../state/annotation-store.js';
import type { AnnotationApi, BatchOpJson, BatchResponse } from './annotation-api.js';
import type { Outbox, OutboxEntry } from './outbox.js';

export type SyncStatus = 'saved' | 'saving' | 'offline' | 'retrying' | 'conflict' | 'error';

export interface Conflict {
  entry: OutboxEntry;
  index: number;
  code: string;
  message: string;
  /** The server's copy (absent when it no longer exists). */
  current: Annotation | null;
  /** What this client tried to write. */
  mine: BatchOpJson;
}

export interface SyncState {
  status: SyncStatus;
  /** Edits not yet acknowledged by the server. */
  queued: number;
  durable: boolean;
  message: string | null;
  conflict: Conflict | null;
}

type Fields = Omit<AnnotationRecord, 'id' | 'version'>;
const FIELDS: Array<keyof Fields> = ['kind', 'geometry', 'classification', 'name', 'note', 'locked', 'objectType', 'properties'];

function toServer(r: AnnotationRecord): Record<string, unknown> {
  const { version: _v, ...rest } = r;
  return rest;
}

function changedFields(before: AnnotationRecord, after: AnnotationRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of FIELDS) {
    const a = before[f];
    const b = after[f];
    if (a === b) continue;
    if (typeof a === 'object' && typeof b === 'object' && JSON.stringify(a) === JSON.stringify(b)) continue;
    out[f] = b;
  }
  return out;
}

function newOpId(): string {
  return typeof crypto !== 'undefined' && 'randomUUID' in crypto ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

const BACKOFF_MS = [500, 1000, 2000, 5000, 10_000, 15_000];

export class SyncEngine {
  private state: SyncState;
  private draining = false;
  private stopped = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private failures = 0;
  /** Last version the server acknowledged per id (for restores after undo). */
  private readonly serverVersion = new Map<string, number>();
  private readonly listeners = new Set<(s: SyncState) => void>();
  private pendingWrites: Promise<unknown> = Promise.resolve();
  private running: Promise<void> = Promise.resolve();
  /** Engines of slides the user left that are still sending their queue. */
  private static readonly leaving = new Map<string, SyncEngine>();
  /** The outbox in memory, in order; entries get a seq once stored. */
  private readonly queue: OutboxEntry[] = [];
  private unsubscribe: () => void;

  constructor(
    private readonly store: AnnotationStore,
    private readonly outbox: Outbox,
    private readonly api: AnnotationApi,
  ) {
    this.state = { status: 'saved', queued: 0, durable: outbox.durable, message: outbox.durable ? null : 'Offline protection is off: this browser cannot store unsent edits, so keep the page open until they are saved.', conflict: null };
    this.unsubscribe = store.observe((cs) => {
      if (cs.origin === 'local') this.enqueue(cs);
    });
    if (typeof window !== 'undefined') window.addEventListener('online', this.onOnline);
  }

  private readonly onOnline = (): void => this.retryNow();

  /** Tries to send now (the browser says it is back online, or the user asked). */
  retryNow(): void {
    this.failures = 0;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    void this.drain();
  }

  get snapshot(): SyncState {
    return this.state;
  }

  onChange(fn: (s: SyncState) => void): () => void {
    this.listeners.add(fn);
    fn(this.state);
    return () => this.listeners.delete(fn);
  }

  private set(patch: Partial<SyncState>): void {
    this.state = { ...this.state, ...patch };
    for (const fn of this.listeners) fn(this.state);
  }

  /** Remembers what the server holds for loaded objects. */
  noteServerVersion(id: string, version: number): void {
    this.serverVersion.set(id, version);
  }

  /** Turns one local change set into the batch that reproduces it on the server. */
  toOps(cs: ChangeSet): BatchOpJson[] {
    const ops: BatchOpJson[] = [];
    for (const h of cs.created) {
      const r = this.store.record(h);
      const known = this.serverVersion.get(r.id);
      if (known !== undefined || r.version > 0) {
        // an object brought back (undo of a delete): restore its tombstone, then set it
        const v = known ?? r.version;
        ops.push({ op: 'restore', id: r.id, ifMatch: v });
        ops.push({ op: 'update', id: r.id, ifMatch: v + 1, changes: toServer(r) });
      } else {
        ops.push({ op: 'create', annotation: toServer(r) });
      }
    }
    for (const u of cs.updated) {
      const after = this.store.record(u.handle);
      const changes = changedFields(u.before, after);
      if (Object.keys(changes).length > 0) ops.push({ op: 'update', id: after.id, ifMatch: u.before.version, changes });
    }
    for (const d of cs.deleted) ops.push({ op: 'delete', id: d.before.id, ifMatch: d.before.version });
    return ops;
  }

  private enqueue(cs: ChangeSet): void {
    const ops = this.toOps(cs);
    if (ops.length === 0) return;
    const entry: OutboxEntry = { opId: newOpId(), slide: this.api.slide, label: cs.label, ops, createdAt: Date.now(), attempts: 0 };
    this.queue.push(entry);
    this.set({ queued: this.queue.length, status: this.state.status === 'saved' ? 'saving' : this.state.status });
    // stored in order; an entry is sent only once it is stored
    this.pendingWrites = this.pendingWrites
      .then(async () => {
        entry.seq = await this.outbox.add(entry);
      })
      .then(() => this.drain());
  }

  /** Edits the user made that the server has not acknowledged yet. */
  get pending(): readonly OutboxEntry[] {
    return this.queue;
  }

  /**
   * After a reload: re-applies unsent edits on top of the server state
   * (without queueing them again) and resumes sending.
   */
  async resume(): Promise<number> {
    const entries = await this.outbox.list(this.api.slide);
    this.queue.unshift(...entries);
    for (const e of entries) {
      for (const op of [...e.ops, ...(e.later ?? []).flat()]) {
        if (op.op === 'create') this.store.apply({ create: [{ ...(op.annotation as unknown as AnnotationRecord), version: 0 }] }, 'silent');
        else if (op.op === 'update') this.store.apply({ update: [{ id: op.id, changes: op.changes as Partial<AnnotationRecord> }] }, 'silent');
        else if (op.op === 'delete') this.store.apply({ delete: [op.id] }, 'silent');
      }
    }
    this.set({ queued: this.queue.length, status: this.queue.length ? 'saving' : 'saved' });
    void this.drain();
    return entries.length;
  }

  /** Sends queued entries until the queue is empty or something stops it. */
  drain(): Promise<void> {
    if (this.draining || this.stopped || this.state.conflict) return this.running;
    this.draining = true;
    this.running = this.drainQueue();
    return this.running;
  }

  private async drainQueue(): Promise<void> {
    try {
      for (;;) {
        if (this.stopped) return;
        const entry = this.queue[0];
        if (!entry) {
          this.failures = 0;
          this.set({ status: 'saved', queued: 0, message: this.outbox.durable ? null : this.state.message });
          return;
        }
        if (entry.seq === undefined) return; // still being stored; its write will call drain
        let res: BatchResponse;
        try {
          res = await this.api.batch(entry.opId, entry.ops);
        } catch {
          this.scheduleRetry('offline', 'The server cannot be reached; edits are kept and will be sent when it can.');
          return;
        }
        if (res.status === 200 && res.body.results) {
          await this.acknowledge(entry, res.body.results);
          continue;
        }
        if (res.status === 412 || res.status === 409 || (res.status === 404 && res.body.code === 'ANNOTATION_NOT_FOUND')) {
          const index = res.body.detail?.index ?? 0;
          this.set({
            status: 'conflict',
            conflict: {
              entry,
              index,
              code: res.body.code ?? String(res.status),
              message: res.body.message ?? 'the server holds a newer version',
              current: res.body.detail?.current ?? null,
              mine: entry.ops[index] as BatchOpJson,
            },
          });
          return;
        }
        if (res.status === 413 && entry.ops.length > 1) {
          // too large for one request: nothing of it was applied, so send it in parts
          const half = Math.ceil(entry.ops.length / 2);
          entry.later = [entry.ops.slice(half), ...(entry.later ?? [])];
          entry.ops = entry.ops.slice(0, half);
          entry.opId = newOpId();
          await this.outbox.update(entry);
          this.set({ message: `A large edit (${entry.label}) is being saved in parts.` });
          continue;
        }
        if (res.status === 413) {
          this.set({ status: 'error', message: `An edit (${entry.label}) is larger than the server accepts: ${res.body.message ?? ''} It is kept in this browser; simplify the shape (fewer vertices) or ask the administrator to raise the limit.` });
          return;
        }
        if (res.status >= 500 || res.status === 429 || res.status === 408) {
          this.scheduleRetry('retrying', `The server answered ${res.status}; retrying.`);
          return;
        }
        // a request the server will never accept: keep it, say so, stop
        this.set({ status: 'error', message: `An edit (${entry.label}) was refused: ${res.body.message ?? res.status}. It is kept; reload or contact support.` });
        return;
      }
    } finally {
      this.draining = false;
    }
  }

  private scheduleRetry(status: 'offline' | 'retrying', message: string): void {
    const delay = BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)] as number;
    this.failures++;
    this.set({ status, message, queued: this.queue.length });
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.drain();
    }, delay);
  }

  private async acknowledge(entry: OutboxEntry, results: Array<{ id: string; version: number; deleted: boolean }>): Promise<void> {
    // later parts of this entry count as later edits too
    const parts: OutboxEntry[] = (entry.later ?? []).map((ops) => ({ ...entry, ops }));
    const later = [...parts, ...this.queue.slice(1)];
    const touched = new Set<OutboxEntry>();
    results.forEach((r, i) => {
      const op = entry.ops[i] as BatchOpJson;
      const before = op.op === 'create' ? 0 : op.ifMatch;
      this.serverVersion.set(r.id, r.version);
      const h = this.store.handleOf(r.id);
      // the client's copy now builds on this version (unless it already knows a newer one)
      if (h === undefined || this.store.versionOf(h) < r.version) this.store.setVersion(r.id, r.version);
      // queued edits of the same object were based on this one
      for (const e of later) {
        for (const o of e.ops) {
          if (o.op !== 'create' && o.id === r.id && o.ifMatch === before) {
            o.ifMatch = r.version;
            touched.add(e);
          }
        }
      }
    });
    // entries not stored yet are written with the rebased ops when their turn comes
    for (const e of touched) if (e.seq !== undefined && !parts.includes(e)) await this.outbox.update(e);
    const next = entry.later?.shift();
    if (next) {
      // the next part of a split gesture (its ops were rebased in place above)
      entry.ops = next;
      entry.opId = newOpId();
      await this.outbox.update(entry);
      this.failures = 0;
      return;
    }
    await this.outbox.remove(entry.seq as number);
    this.queue.shift();
    this.failures = 0;
    this.set({ queued: this.queue.length, status: this.queue.length ? 'saving' : 'saved' });
  }

  /**
   * Resolves the conflict at the head of the queue. "mine" writes this
   * client's version over the server's; "theirs" keeps the server's as the
   * current version. Either way both end up in the history.
   */
  async resolve(choice: 'mine' | 'theirs'): Promise<void> {
    const c = this.state.conflict;
    if (!c) return;
    const cur = c.current;
    const id = 'id' in c.mine ? c.mine.id : (c.mine.annotation['id'] as string);
    const ops: BatchOpJson[] = [];
    if (cur) {
      const v = cur.version;
      const revive = cur.deleted && c.mine.op !== 'delete';
      if (revive) ops.push({ op: 'restore', id, ifMatch: v });
      const base = revive ? v + 1 : v;
      const mineOp: BatchOpJson =
        c.mine.op === 'create'
          ? { op: 'update', id, ifMatch: base, changes: Object.fromEntries(Object.entries(c.mine.annotation).filter(([k]) => k !== 'id')) }
          : { ...c.mine, ifMatch: base } as BatchOpJson;
      ops.push(mineOp);
      // "theirs": put the server's version back on top, so mine stays in the history
      if (choice === 'theirs' && !(cur.deleted && c.mine.op === 'delete')) ops.push({ op: 'restore', id, ifMatch: base + 1, toVersion: v });
    } else if (choice === 'mine' && c.mine.op !== 'delete') {
      // the object is gone for good on the server: save mine as a new object
      const rec = c.mine.op === 'create' ? c.mine.annotation : { ...toServer(this.store.record(this.store.handleOf(id) as number)) };
      ops.push({ op: 'create', annotation: rec });
    }
    const entry = c.entry;
    entry.ops = [...entry.ops.slice(0, c.index), ...ops, ...entry.ops.slice(c.index + 1)];
    entry.opId = newOpId();
    await this.outbox.update(entry);
    if (cur && choice === 'mine') {
      // later queued edits of this object now build on the server's version
      const assumed = c.mine.op === 'create' ? 0 : c.mine.ifMatch;
      const base = cur.deleted && c.mine.op !== 'delete' ? cur.version + 1 : cur.version;
      for (const e of this.queue) {
        if (e === entry) continue;
        let touched = false;
        for (const o of e.ops) {
          if (o.op !== 'create' && o.id === id && o.ifMatch === assumed) {
            o.ifMatch = base;
            touched = true;
          }
        }
        if (touched && e.seq !== undefined) await this.outbox.update(e);
      }
      this.store.setVersion(id, base);
    }
    if (choice === 'theirs') {
      // show the server's version again
      if (cur && !cur.deleted) {
        const { version, createdAt: _a, createdBy: _b, updatedAt: _c, updatedBy: _d, deleted: _e, ...fields } = cur;
        if (this.store.has(id)) this.store.apply({ update: [{ id, changes: { ...fields, version } }] }, 'remote');
        else this.store.apply({ create: [{ ...fields, version }] }, 'remote');
      } else if (this.store.has(id)) this.store.apply({ delete: [id] }, 'remote');
    }
    this.set({ conflict: null, status: 'saving' });
    await this.drain();
  }

  /**
   * Leaving the slide: take no more edits, but keep sending what is queued
   * (retrying as usual) so that switching slides never strands an edit.
   */
  detach(): void {
    this.unsubscribe();
    const key = `${this.api.server}|${this.api.slide}`;
    SyncEngine.leaving.get(key)?.stop();
    SyncEngine.leaving.set(key, this);
    const off = this.onChange((s) => {
      if (s.status !== 'saved' || s.queued !== 0) return;
      queueMicrotask(() => off());
      if (SyncEngine.leaving.get(key) === this) SyncEngine.leaving.delete(key);
      this.stop();
    });
    void this.pendingWrites.then(() => this.drain());
  }

  /**
   * Before a slide is opened again: lets the engine that left it finish
   * sending (up to `waitMs`), then stops it, so two engines never send the
   * same queue at once. Whatever it did not send is still in the outbox.
   */
  static async handOver(server: string, slide: string, waitMs = 5000): Promise<void> {
    const key = `${server}|${slide}`;
    const prev = SyncEngine.leaving.get(key);
    if (!prev) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, waitMs);
      const off = prev.onChange((s) => {
        if ((s.status === 'saved' && s.queued === 0) || prev.stopped) {
          clearTimeout(timer);
          queueMicrotask(() => off());
          resolve();
        }
      });
    });
    prev.stop();
    await prev.running;
    await prev.pendingWrites;
    if (SyncEngine.leaving.get(key) === prev) SyncEngine.leaving.delete(key);
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (typeof window !== 'undefined') window.removeEventListener('online', this.onOnline);
  }
}
