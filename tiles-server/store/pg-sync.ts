/**
 * A synchronous PostgreSQL connection for the store's synchronous interface:
 * the store modules call `db.prepare(sql).get(...)` and get rows back before
 * the call returns, as with better-sqlite3. Here the connection lives in a
 * worker thread (pg-sync-worker.ts, `pg`); each statement is posted to it and
 * the calling thread waits on a shared flag until the answer is there. One
 * statement therefore blocks the event loop for one round trip to the
 * database (measured in docs/benchmarks.md, "store on PostgreSQL"), and all
 * statements of a transaction go over the same connection, in order.
 */
import { MessageChannel, receiveMessageOnPort, type Worker } from 'node:worker_threads';
import { WsiError } from '../../src/core/errors.js';
import { spawnModuleWorker } from '../workers.js';
import type { PgAnswer, PgRequest } from './pg-sync-worker.js';

/** An error PostgreSQL raised, with its SQLSTATE code (`23505` a unique violation, `P0001` a trigger's RAISE…). */
export class PgError extends Error {
  constructor(message: string, readonly code: string | undefined, readonly detail: string | undefined) {
    super(message);
    this.name = 'PgError';
  }
}

export interface PgResult {
  rows: Array<Record<string, unknown>>;
  rowCount: number;
}

export class PgSyncConnection {
  private readonly worker: Worker;
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private readonly port;
  private closed = false;

  constructor(readonly url: string, private readonly timeoutMs = 60_000) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = spawnModuleWorker(new URL('./pg-sync-worker.js', import.meta.url), {
      workerData: { url, flag: this.flag.buffer, port: port2 },
      transferList: [port2],
    });
    this.worker.unref();
  }

  /** Runs one statement with `$1…` parameters, or (`multi`) a script of statements without any. */
  query(sql: string, params: unknown[] = [], multi = false): PgResult {
    if (this.closed) throw new TypeError('The database connection is not open');
    const req: PgRequest = { sql, params, multi };
    const a = this.call(req);
    if (!a.ok) throw new PgError(a.message, a.code, a.detail);
    return { rows: a.rows.map(buffers), rowCount: a.rowCount };
  }

  close(): void {
    if (this.closed) return;
    this.call('close');
    this.closed = true;
    void this.worker.terminate();
  }

  private call(req: PgRequest | 'close'): PgAnswer {
    Atomics.store(this.flag, 0, 0);
    this.worker.postMessage(req);
    if (Atomics.wait(this.flag, 0, 0, this.timeoutMs) === 'timed-out') {
      throw new WsiError('STORE_BUSY', `the PostgreSQL store did not answer within ${this.timeoutMs} ms; retry shortly`);
    }
    const m = receiveMessageOnPort(this.port);
    if (!m) throw new Error('pg-sync: the answer was signalled but not posted');
    return m.message as PgAnswer;
  }
}

/** bytea arrives as a Uint8Array (structured clone drops Buffer): give the store the Buffer better-sqlite3 gives. */
function buffers(row: Record<string, unknown>): Record<string, unknown> {
  for (const k in row) {
    const v = row[k];
    if (v instanceof Uint8Array && !Buffer.isBuffer(v)) row[k] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  }
  return row;
}
