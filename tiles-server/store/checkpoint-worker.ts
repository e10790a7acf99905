/**
 * worker_threads entry: checkpoints the server's WAL from a connection of
 * its own, so that the checkpoint's page copies and its two syncs (the WAL,
 * then the database file) never run on the event loop (store/checkpointer.ts).
 * PASSIVE: it copies what no reader still needs and never waits for a lock,
 * so it blocks no writer and no reader.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from './database.js';

const port = parentPort;
if (!port) throw new Error('checkpoint-worker must run in a worker thread');
const { dbPath, everyMs } = workerData as { dbPath: string; everyMs: number };

const db = openDatabase(dbPath, { check: false, busyTimeoutMs: 1000 });
// the checkpoint syncs the WAL before copying it and the database file after (NORMAL does both in WAL mode)
db.pragma('synchronous = NORMAL');

let reported = -1;
function checkpoint(): void {
  const [r] = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
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
