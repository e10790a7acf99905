/**
 * Durable commits without blocking the event loop. With synchronous=FULL,
 * SQLite calls fsync on the WAL inside every commit, on the thread that
 * commits: the server's event loop, for 2–40 ms at a time on a busy disk,
 * during which no tile and no /api/health is answered (LOAD-05). Instead the
 * server's connection commits with synchronous=NORMAL (in WAL mode: no sync
 * at commit; the WAL is synced before each checkpoint, so the file is never
 * damaged) and the HTTP layer holds a change's answer until `flush()` has
 * synced the WAL with fdatasync in libuv's thread pool. An acknowledged
 * write is thus on disk exactly as with FULL; one not yet acknowledged may
 * be lost to a power cut, and its client, which got no answer, sends it
 * again under the same Idempotency-Key. Syncs are grouped: the changes
 * committed while one sync runs share the next.
 *
 * SQLite specifics stay in the store module: a server on another store
 * (whose commit is durable when it returns) flushes nothing.
 */
import { closeSync, fdatasync, fstatSync, openSync, stat } from 'node:fs';
import type { Db } from './database.js';

/** Makes the changes committed so far durable before their answers go out. */
export interface Durability {
  flush(): Promise<void>;
  /** After a running sync has ended. */
  close(): Promise<void>;
}

/** For stores whose commits are durable when they return. */
export const DURABLE_AT_COMMIT: Durability = { flush: () => Promise.resolve(), close: () => Promise.resolve() };

class WalSync implements Durability {
  private running: Promise<void> | null = null;
  private next: Promise<void> | null = null;
  private closed = false;
  /**
   * The first failed sync, for good: Linux reports a write-back error to a
   * descriptor once, so a later fdatasync may succeed without the lost pages
   * ever reaching the disk. Every later flush fails with it.
   */
  private failure: Error | null = null;

  private fd: number;
  private ino: number;

  constructor(
    private readonly path: string,
    private readonly onFailure: (err: Error) => void,
  ) {
    this.fd = openSync(path, 'r');
    this.ino = fstatSync(this.fd).ino;
  }

  flush(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    if (!this.running) return this.start();
    // the sync under way may have begun before the caller's commit: the next one covers it
    this.next ??= this.running.then(
      () => this.afterRunning(),
      () => this.afterRunning(),
    );
    return this.next;
  }

  private afterRunning(): Promise<void> {
    this.next = null;
    if (this.failure) return Promise.reject(this.failure);
    return this.closed ? Promise.reject(new Error('the store is closed')) : this.start();
  }

  private start(): Promise<void> {
    const run = this.sync().catch((err: unknown) => {
      if (!this.failure) {
        this.failure = err as Error;
        this.onFailure(this.failure);
      }
      throw this.failure;
    });
    this.running = run;
    const clear = (): void => {
      if (this.running === run) this.running = null;
    };
    run.then(clear, clear);
    return run;
  }

  /**
   * fdatasync of the WAL; and, in case SQLite ever replaced the file (it
   * deletes it only when its last connection closes, and ours stays open),
   * the file now at the path is reopened and synced too.
   */
  private async sync(): Promise<void> {
    const [, now] = await Promise.all([
      new Promise<void>((resolve, reject) => fdatasync(this.fd, (err) => (err ? reject(err) : resolve()))),
      new Promise<number | null>((resolve) => stat(this.path, (err, st) => resolve(err ? null : st.ino))),
    ]);
    if (now === null || now === this.ino || this.closed) return;
    closeSync(this.fd);
    this.fd = openSync(this.path, 'r');
    this.ino = fstatSync(this.fd).ino;
    await new Promise<void>((resolve, reject) => fdatasync(this.fd, (err) => (err ? reject(err) : resolve())));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // the descriptor is closed only once no sync of the thread pool can still be using its number
    await Promise.allSettled([this.running, this.next]);
    closeSync(this.fd);
  }
}

/**
 * Switches the server's connection to synchronous=NORMAL and returns the
 * WAL's sync; or, when the WAL file cannot be opened (an in-memory database,
 * a store opened read-only after damage), leaves the connection at FULL and
 * returns DURABLE_AT_COMMIT. Call once, after the migrations (the WAL file
 * exists then), and close it after the database. `onFailure` hears of the
 * first failed sync (after which no change can be acknowledged).
 */
export function walSyncOf(db: Db, path: string, onFailure: (err: Error) => void = () => undefined): Durability {
  if (path === ':memory:' || db.pragma('journal_mode', { simple: true }) !== 'wal' || db.pragma('query_only', { simple: true }) === 1) return DURABLE_AT_COMMIT;
  let sync: WalSync;
  try {
    // read-only: fdatasync works on any descriptor of the file, and this one writes nothing
    sync = new WalSync(`${path}-wal`, onFailure);
  } catch {
    return DURABLE_AT_COMMIT;
  }
  db.pragma('synchronous = NORMAL');
  return sync;
}
