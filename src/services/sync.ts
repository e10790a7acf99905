/**
 * Sends local annotation edits to the server through the outbox (see
 * OutboxSender for ordering, retries, splitting and conflicts). Each local
 * change set becomes one batch; acknowledged versions rebase later queued
 * edits of the same objects, so rapid edits never conflict with themselves.
 */
import type { Annotation } from '../core/annotation.js';
import type { AnnotationRecord, AnnotationStore, ChangeSet } from '../state/annotation-store.js';
import type { AnnotationApi, BatchOpJson } from './annotation-api.js';
import type { Outbox, OutboxEntry } from './outbox.js';
import type { PredictionRouter } from './prediction-routing.js';
import { OutboxSender, newOpId, type SendResponse, type SenderState } from './outbox-sender.js';

export type { SyncStatus } from './outbox-sender.js';

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

export type SyncState = SenderState<Conflict>;

type Result = { id: string; version: number; deleted: boolean };

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

export class SyncEngine extends OutboxSender<BatchOpJson, Result, Conflict> {
  /** Last version the server acknowledged per id (for restores after undo). */
  private readonly serverVersion = new Map<string, number>();
  private unsubscribe: () => void;
  /** Turns ops on a model's read-only predictions into ops on their corrected objects (prediction-routing.ts); null: none loaded. */
  router: PredictionRouter | null = null;

  constructor(
    private readonly store: AnnotationStore,
    outbox: Outbox,
    private readonly api: AnnotationApi,
  ) {
    super(outbox, api.slide, api.server);
    this.unsubscribe = store.observe((cs) => {
      if (cs.origin === 'local') this.enqueueOps(this.routed(this.toOps(cs)), cs.label);
    });
  }

  private routed(ops: BatchOpJson[]): BatchOpJson[] {
    return this.router ? this.router.route(ops) : ops;
  }

  /** Queues ops that no local edit makes (accepting a prediction as it is), as one outbox entry. */
  sendOps(ops: BatchOpJson[], label: string): void {
    if (ops.length > 0) this.enqueueOps(ops, label);
  }

  protected unobserve(): void {
    this.unsubscribe();
  }

  /** Remembers what the server holds for an object. */
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

  protected send(entry: OutboxEntry): Promise<SendResponse<Result>> {
    return this.api.batch(entry.opId, entry.ops);
  }

  protected reapply(entries: OutboxEntry[]): void {
    for (const e of entries) {
      for (const op of [...e.ops, ...(e.later ?? []).flat()]) {
        if (op.op === 'create') this.store.apply({ create: [{ ...(op.annotation as unknown as AnnotationRecord), version: 0 }] }, 'silent');
        else if (op.op === 'update') this.store.apply({ update: [{ id: op.id, changes: op.changes as Partial<AnnotationRecord> }] }, 'silent');
        else if (op.op === 'delete') this.store.apply({ delete: [op.id] }, 'silent');
      }
    }
  }

  protected conflictOf(entry: OutboxEntry, index: number, res: SendResponse<Result>): Conflict {
    return {
      entry,
      index,
      code: res.body.code ?? String(res.status),
      message: res.body.message ?? 'the server holds a newer version',
      current: (res.body.detail?.current as Annotation | undefined) ?? null,
      mine: entry.ops[index] as BatchOpJson,
    };
  }

  protected rebase(entry: OutboxEntry, results: Result[], later: OutboxEntry[]): Set<OutboxEntry> {
    const touched = new Set<OutboxEntry>();
    results.forEach((r, i) => {
      const op = entry.ops[i] as BatchOpJson;
      const before = op.op === 'create' ? 0 : op.ifMatch;
      // a prediction's corrected object made here is known locally by the prediction's id
      const local = this.router ? this.router.localId(r.id) : r.id;
      this.serverVersion.set(local, r.version);
      const h = this.store.handleOf(local);
      // the client's copy now builds on this version (unless it already knows a newer one)
      if (h === undefined || this.store.versionOf(h) < r.version) this.store.setVersion(local, r.version);
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
    return touched;
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
    let id = 'id' in c.mine ? c.mine.id : (c.mine.annotation['id'] as string);
    if (c.mine.op === 'create' && c.mine.parent && cur && cur.id !== id) id = await this.retarget(c.mine.parent, id, cur, choice);
    // the local object (a prediction corrected here is known by the prediction's id)
    const local = this.router ? this.router.localId(id) : id;
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
      const rec = c.mine.op === 'create' ? c.mine.annotation : { ...toServer(this.store.record(this.store.handleOf(local) as number)), id };
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
      this.store.setVersion(local, base);
    }
    if (choice === 'theirs') {
      // show the server's version again
      if (cur && !cur.deleted) {
        const { version, createdAt: _a, createdBy: _b, updatedAt: _c, updatedBy: _d, deleted: _e, ...fields } = cur;
        if (this.store.has(local)) this.store.apply({ update: [{ id: local, changes: { ...fields, version } }] }, 'remote');
        else this.store.apply({ create: [{ ...fields, id: local, version }] }, 'remote');
      } else if (this.store.has(local)) this.store.apply({ delete: [local] }, 'remote');
    }
    await this.resumeAfterConflict();
  }

  /**
   * Someone else corrected the prediction first (409 ANNOTATION_EXISTS with
   * their corrected object): this client's corrected object was never made,
   * so its ops go to theirs — the local prediction now stands for it, and
   * queued ops that named mine name theirs, at the versions the resolution
   * leaves (mine: their version + 1; theirs: + 2, the restore on top).
   */
  private async retarget(prediction: string, mine: string, theirs: Annotation, choice: 'mine' | 'theirs'): Promise<string> {
    this.router?.retarget(prediction, theirs.id);
    const base = theirs.deleted ? theirs.version + 1 : theirs.version;
    const shift = choice === 'mine' ? base : base + 1;
    const entry = this.state.conflict?.entry;
    for (const e of this.queue) {
      let touched = false;
      e.ops.forEach((o, i) => {
        if (o.op === 'create' || o.id !== mine || (e === entry && i <= (this.state.conflict?.index ?? -1))) return;
        o.id = theirs.id;
        o.ifMatch += shift;
        touched = true;
      });
      if (touched && e !== entry && e.seq !== undefined) await this.outbox.update(e);
    }
    return theirs.id;
  }

}
