/**
 * worker_threads entry for one import: the spooled file in, progress and
 * one outcome out. A cancel is a flag in shared memory, so it is seen
 * between two transactions even while a synchronous XML parse is running;
 * the server's write gate (shared memory too) lets users' writes go first.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from '../store/database.js';
import { WriteGate } from '../store/write-gate.js';
import { serializeError } from '../workers.js';
import { runImport, type ImportJob, type ImportProgress } from './importer.js';

const port = parentPort;
if (!port) throw new Error('import-worker must run in a worker thread');
const { dbPath, job, maxBytes, cancel, gate } = workerData as { dbPath: string; job: ImportJob; maxBytes: number; cancel: SharedArrayBuffer; gate: SharedArrayBuffer };
const flag = new Int32Array(cancel);

let last = 0;
const progress = (p: ImportProgress): void => {
  const now = performance.now();
  if (now - last < 200) return;
  last = now;
  port.postMessage({ progress: p });
};

// a long busy wait is harmless here: only this thread waits, never a user's request
const db = openDatabase(dbPath, { check: false, busyTimeoutMs: 60_000, maxBytes });
runImport(db, job, () => Atomics.load(flag, 0) !== 0, progress, new WriteGate(gate)).then(
  (result) => {
    try {
      // give the WAL back without blocking other writers (a TRUNCATE checkpoint would)
      db.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // SQLite checkpoints later by itself
    }
    db.close();
    port.postMessage({ result });
  },
  (caught: unknown) => {
    db.close();
    port.postMessage({ error: serializeError(caught) });
  },
);
