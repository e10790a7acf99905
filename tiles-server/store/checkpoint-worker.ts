/**
 * worker_threads entry: checkpoints the server's WAL from a connection of
 * its own, so that the checkpoint's page copies and its two syncs (the WAL,
 * then the database file) never run on the event loop (store/checkpointer.ts).
 * PASSIVE: it copies what no reader still needs and never waits for a lock,
 * so it blocks no writer and no reader. Under steady writes a PASSIVE
 * checkpoint rarely ends before the next commit, and the WAL only starts
 * over once one has; so past RESTART_FRAMES a RESTART checkpoint holds
 * writers back for the few frames left and its two syncs, and the next
 * commit starts the WAL over (once per 16 MB written, instead of SQLite's
 * own full checkpoint every 4 MB on the event loop).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from './database.js';

const port = parentPort;
if (!port) throw new Error('checkpoint-worker must run in a worker thread');
const { dbPath, everyMs } = workerData as { dbPath: string; everyMs: number };
/** WAL frames (4 KiB pages) past which the WAL is made to start over. */
const RESTART_FRAMES = 4096;

// a RESTART waits this long for a writer to finish, then tries again next time (never a long wait)
const db = openDatabase(dbPath, { check: false, busyTimeoutMs: 50 });
// the checkpoint syncs the WAL before copying it and the database file after (NORMAL does both in WAL mode)
db.pragma('synchronous = NORMAL');

let reported = -1;
function checkpoint(): void {
  let [r] = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
  if (r && r.log > RESTART_FRAMES) [r] = db.pragma('wal_checkpoint(RESTART)') as typeof r[];
  // frames copied so far from the current WAL (it starts over once a writer finds it all copied)
  if (r && r.checkpointed > 0 && r.checkpointed !== reported) {
    reported = r.checkpointed;
    port?.postMessage({ checkpointed: r.checkpointed, log: r.log });
  }
}

const timer = setInterval(() => {
  try {
    checkpoint();
  } catch (err) {
    // the server takes checkpoints back (checkpointer.ts); this thread ends
    clearInterval(timer);
    port.postMessage({ failed: (err as Error).message });
    db.close();
    port.close();
  }
}, everyMs);

port.on('message', (m: 'stop') => {
  if (m !== 'stop') return;
  clearInterval(timer);
  try {
    checkpoint();
  } finally {
    db.close();
    port.postMessage({ stopped: true });
    port.close();
  }
});
port.postMessage({ ready: true });
