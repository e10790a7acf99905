/** worker_threads entry for one import: chunks in, report (or error) out. */
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase, storeProblem } from '../store/database.js';
import { runImport, type ImportJob } from './importer.js';

const port = parentPort;
if (!port) throw new Error('import-worker must run in a worker thread');
const { dbPath, job, maxBytes } = workerData as { dbPath: string; job: ImportJob; maxBytes: number };

const queue: Buffer[] = [];
let ended = false;
let wake: (() => void) | null = null;
port.on('message', (msg: { chunk?: Uint8Array; end?: boolean }) => {
  if (msg.chunk) queue.push(Buffer.from(msg.chunk.buffer, msg.chunk.byteOffset, msg.chunk.byteLength));
  if (msg.end) ended = true;
  wake?.();
  wake = null;
});

async function* chunks(): AsyncGenerator<Buffer> {
  for (;;) {
    const next = queue.shift();
    if (next) {
      // ask for more once the queue runs low (back-pressure on the upload)
      if (queue.length === 0) port?.postMessage({ more: true });
      yield next;
      continue;
    }
    if (ended) return;
    await new Promise<void>((r) => (wake = r));
  }
}

const db = openDatabase(dbPath, { check: false, busyTimeoutMs: 30_000, maxBytes });
runImport(db, job, chunks()).then(
  (report) => {
    try {
      // move the import out of the WAL now (and shrink it), not on some later write
      db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // readers in the way: SQLite checkpoints later by itself
    }
    db.close();
    port.postMessage({ done: true, report });
  },
  (caught: unknown) => {
    db.close();
    const err = storeProblem(caught);
    const e = err as { code?: string; message?: string; detail?: unknown; name?: string };
    port.postMessage({ done: true, error: { code: e.code ?? 'INTERNAL', message: e.message ?? String(err), detail: e.detail, name: e.name } });
  },
);
