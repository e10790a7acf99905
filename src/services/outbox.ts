/**
 * The outbox: every local edit is written here (IndexedDB, durability
 * "strict") before the UI counts it as saved locally, and leaves only when
 * the server has acknowledged it. It survives reloads, crashes and offline
 * hours. When IndexedDB is unavailable (private mode, quota) a memory outbox
 * stands in and the UI says that offline protection is off (DATA-18).
 */
import { openDB, type IDBPDatabase } from 'idb';
import type { BatchOpJson } from './annotation-api.js';

export interface OutboxEntry<Op = BatchOpJson> {
  seq?: number;
  opId: string;
  /** The list this entry belongs to: a slide id, or a sub-key such as `<slide>#mask`. */
  slide: string;
  label: string;
  ops: Op[];
  /**
   * Parts still to send after `ops`, in order, when one gesture was too large
   * for a single request (the server answered 413) and had to be split.
   */
  later?: Op[][];
  createdAt: number;
  attempts: number;
  /** The browser tab that holds it (src/services/tab-lock.ts); absent in entries from before owners were kept. */
  owner?: string;
}

export interface Outbox {
  /** False when entries would not survive a reload. */
  readonly durable: boolean;
  add<Op>(e: OutboxEntry<Op>): Promise<number>;
  list<Op>(slide: string): Promise<Array<OutboxEntry<Op>>>;
  update<Op>(e: OutboxEntry<Op>): Promise<void>;
  remove(seq: number): Promise<void>;
  /** How many edits wait, on every slide. */
  count(): Promise<number>;
  /** Forgets every waiting edit (signing out: they leave the browser with the user). */
  clear(): Promise<void>;
}

const DB = 'wsi-annotate';
const STORE = 'outbox';

class IdbOutbox implements Outbox {
  readonly durable = true;

  constructor(private readonly db: IDBPDatabase) {}

  async add<Op>(e: OutboxEntry<Op>): Promise<number> {
    const tx = this.db.transaction(STORE, 'readwrite', { durability: 'strict' });
    const seq = (await tx.store.add({ ...e })) as number;
    await tx.done;
    return seq;
  }

  async list<Op>(slide: string): Promise<Array<OutboxEntry<Op>>> {
    const all = (await this.db.getAllFromIndex(STORE, 'slide', slide)) as Array<OutboxEntry<Op>>;
    return all.sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
  }

  async update<Op>(e: OutboxEntry<Op>): Promise<void> {
    const tx = this.db.transaction(STORE, 'readwrite', { durability: 'strict' });
    await tx.store.put(e);
    await tx.done;
  }

  async remove(seq: number): Promise<void> {
    const tx = this.db.transaction(STORE, 'readwrite', { durability: 'strict' });
    await tx.store.delete(seq);
    await tx.done;
  }

  count(): Promise<number> {
    return this.db.count(STORE);
  }

  async clear(): Promise<void> {
    const tx = this.db.transaction(STORE, 'readwrite', { durability: 'strict' });
    await tx.store.clear();
    await tx.done;
  }
}

export class MemoryOutbox implements Outbox {
  readonly durable = false;
  private seq = 1;
  private readonly entries = new Map<number, OutboxEntry<unknown>>();

  add<Op>(e: OutboxEntry<Op>): Promise<number> {
    const seq = this.seq++;
    this.entries.set(seq, { ...e, seq });
    return Promise.resolve(seq);
  }

  list<Op>(slide: string): Promise<Array<OutboxEntry<Op>>> {
    return Promise.resolve(([...this.entries.values()] as Array<OutboxEntry<Op>>).filter((e) => e.slide === slide).sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0)));
  }

  update<Op>(e: OutboxEntry<Op>): Promise<void> {
    if (e.seq !== undefined) this.entries.set(e.seq, { ...e });
    return Promise.resolve();
  }

  remove(seq: number): Promise<void> {
    this.entries.delete(seq);
    return Promise.resolve();
  }

  count(): Promise<number> {
    return Promise.resolve(this.entries.size);
  }

  clear(): Promise<void> {
    this.entries.clear();
    return Promise.resolve();
  }
}

let shared: Promise<Outbox> | null = null;

/** The page's outbox: IndexedDB when it works, memory otherwise. */
export function openOutbox(): Promise<Outbox> {
  shared ??= (async (): Promise<Outbox> => {
    try {
      if (typeof indexedDB === 'undefined') throw new Error('no IndexedDB');
      const db = await openDB(DB, 1, {
        upgrade(d) {
          const store = d.createObjectStore(STORE, { keyPath: 'seq', autoIncrement: true });
          store.createIndex('slide', 'slide');
        },
      });
      // a write that fails here (quota, private mode) means no durable outbox
      const probe = new IdbOutbox(db);
      const seq = await probe.add({ opId: 'probe', slide: '\u0000probe', label: '', ops: [], createdAt: 0, attempts: 0 });
      await probe.remove(seq);
      return probe;
    } catch {
      return new MemoryOutbox();
    }
  })();
  return shared;
}
