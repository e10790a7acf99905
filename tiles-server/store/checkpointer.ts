/**
 * WAL checkpoints off the event loop. SQLite checkpoints by itself inside a
 * commit once the WAL holds 1000 pages: on the thread that commits, the
 * server's event loop, it copies those pages into the database file and
 * syncs the WAL and the file — tens of milliseconds on a busy disk, every
 * few seconds under fifty writers (LOAD-05), during which no tile and no
 * /api/health is answered. Instead the server's connection never
 * checkpoints (wal_autocheckpoint = 0) and a worker thread checkpoints the
 * WAL from its own connection every `everyMs` (checkpoint-worker.ts; 250 ms by default). Should
 * that thread fail, the connection checkpoints by itself again, as before.
 *
 * SQLite specifics stay in the store module: another store needs none of this.
 */
import { spawnModuleWorker } from '../workers.js';
import type { Db } from './database.js';

/** Pages after which SQLite checkpoints by itself (its default): the fallback. */
const AUTO_CHECKPOINT_PAGES = 1000;

export interface Checkpointer {
  /** Checkpoints that copied pages, the frames of the WAL copied by the last, and why the thread stopped (null: it runs). */
  readonly stats: { checkpoints: number; pages: number; failed: string | null };
  /** Stops the thread after a last checkpoint. */
  close(): Promise<void>;
}

const NONE: Checkpointer = { stats: { checkpoints: 0, pages: 0, failed: null }, close: () => Promise.resolve() };

export function checkpointerOf(db: Db, path: string, opts: { everyMs?: number; log?: (line: string) => void } = {}): Checkpointer {
  if (path === ':memory:' || db.pragma('journal_mode', { simple: true }) !== 'wal' || db.pragma('query_only', { simple: true }) === 1) return NONE;
  const log = opts.log ?? (() => undefined);
  const stats = { checkpoints: 0, pages: 0, failed: null as string | null };
  const worker = spawnModuleWorker(new URL('./checkpoint-worker.js', import.meta.url), { workerData: { dbPath: path, everyMs: opts.everyMs ?? 250 } });
  worker.unref();
  let stopping = false;
  db.pragma('wal_autocheckpoint = 0');
  const fallBack = (why: string): void => {
    if (stats.failed !== null || stopping) return;
    stats.failed = why;
    try {
      db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
    } catch {
      // the connection is closed already
    }
    log(`checkpoints: the checkpoint thread stopped (${why}); the server's connection checkpoints by itself again`);
  };
  worker.on('message', (m: { checkpointed?: number; failed?: string }) => {
    if (m.checkpointed !== undefined) {
      stats.checkpoints++;
      stats.pages = m.checkpointed;
    }
    if (m.failed !== undefined) fallBack(m.failed);
  });
  worker.on('error', (err) => fallBack(err.message));
  worker.on('exit', (code) => fallBack(`exit ${code}`));
  return {
    stats,
    close: async () => {
      if (stopping) return;
      stopping = true;
      if (stats.failed !== null) return;
      const ended = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      // held until the thread's last checkpoint is done (or 5 s): the caller closes the database next
      worker.ref();
      worker.postMessage('stop');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([ended, new Promise<void>((resolve) => (timer = setTimeout(resolve, 5000)))]);
      clearTimeout(timer);
      await worker.terminate();
    },
  };
}
