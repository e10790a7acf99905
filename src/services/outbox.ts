/**
 * The outbox: every local edit is written here (IndexedDB, durability
 * "strict") before the UI counts it as saved locally, and leaves only when
 * the server has acknowledged it. It survives reloads, crashes and offline
 * hours. When IndexedDB is unavailable (private mode, quota) a memory outbox
 * stands in and the UI says that offline protection is off (DATA-18).
 */
import { openDB, type IDBPDatabase } from 'idb';
import type { BatchOpJson } from './annotation-api.js';

export interface OutboxEntry {
  seq?: number;
  opId: string;
  slide: string;
  label: string;
  ops: BatchOpJson[];
  /**
   * Parts still to send after `ops`, in order, when one gesture was too large
   * for a single request (the server answered 413) and had to be split.
   */
  later?: BatchOpJson[][];
  createdAt: number;
  attempts: number;
}

export interface Outbox {
  /** False when entries would not survive a reload. */
  readonly durable: boolean;
  add(e: OutboxEntry): Promise<number>;
  list(slide: string): Promise<OutboxEntry[]>;
  update(e: OutboxEntry): Promise<void>;
  remove(seq: number): Promise<void>;
}

const DB = 'wsi-annotate';
const STORE = 'outbox';

class IdbOutbox implements Outbox {
  readonly durable = true;

  constructor(private readonly db: IDBPDatabase) {}

  async add(e: OutboxEntry): Promise<number> {
    const tx = this.db.transaction(STORE, 'readwrite', { durability: 'strict' });
    const seq = (await tx.store.add({ ...e })) as number;
    await tx.done;
    return seq;
  }

  async list(slide: string): Promise<OutboxEntry[]> {
    const all = (await this.db.getAllFromIndex(STORE, 'slide', slide)) as OutboxEntry[];
    return all.sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
  }

  async update(e: OutboxEntry): Promise<void> {
    const tx = this.db.transaction(STORE, 'readwrite', { durability: 'strict' });
    await tx.store.put(e);
    await tx.done;
  }

  async remove(seq: number): Promise<void> {
    const tx = this.db.transaction(STORE, 'readwrite', { durability: 'strict' });
    await tx.store.delete(seq);
    await tx.done;
  }
}

export class MemoryOutbox implements Outbox {
  readonly durable = false;
  private seq = 1;
  private readonly entries = new Map<number, OutboxEntry>();

  add(e: OutboxEntry): Promise<number> {
    const seq = this.seq++;
    this.entries.set(seq, { ...e, seq });
    return Promise.resolve(seq);
  }

  list(slide: string): Promise<OutboxEntry[]> {
    return Promise.resolve([...this.entries.values()].filter((e) => e.slide === slide).sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0)));
  }

  update(e: OutboxEntry): Promise<void> {
    if (e.seq !== undefined) this.entries.set(e.seq, { ...e });
    return Promise.resolve();
  }

  remove(seq: number): Promise<void> {
    this.entries.delete(seq);
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
