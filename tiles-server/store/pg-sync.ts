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
import { MessageChannel, receiveMessageOnPort, type MessagePort, type Worker } from 'node:worker_threads';
import { WsiError } from '../../src/core/errors.js';
import { spawnModuleWorker } from '../workers.js';
import type { PgAnswer, PgRequestBody } from './pg-sync-worker.js';

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

interface Bridge {
  worker: Worker;
  flag: Int32Array;
  port: MessagePort;
  /** The thread ended (or failed): its connections answer nothing more. */
  dead: boolean;
  /** The last statement's number: each answer carries its statement's. */
  seq: number;
}

let bridge: Bridge | null = null;
let nextId = 0;

function bridgeThread(): Bridge {
  if (bridge) return bridge;
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const worker = spawnModuleWorker(new URL('./pg-sync-worker.js', import.meta.url), {
    workerData: { flag: flag.buffer, port: port2 },
    transferList: [port2],
  });
  // connections do not keep the process alive; a thread that dies is replaced at the next connection
  worker.unref();
  const b: Bridge = { worker, flag, port: port1, dead: false, seq: 0 };
  const ended = (): void => {
    b.dead = true;
    if (bridge === b) bridge = null;
  };
  worker.once('exit', ended);
  // a failure of the thread is its connections' to report (unheard, it would end the process)
  worker.on('error', ended);
  return (bridge = b);
}

export class PgSyncConnection {
  private readonly id = ++nextId;
  private readonly bridge = bridgeThread();
  private closed = false;

  constructor(readonly url: string, private readonly timeoutMs = 60_000) {
    this.call({ id: this.id, open: url });
  }

  /** Runs one statement with `$1…` parameters, or (`multi`) a script of statements without any. */
  query(sql: string, params: unknown[] = [], multi = false): PgResult {
    if (this.closed) throw new TypeError('The database connection is not open');
    const a = this.call({ id: this.id, sql, params, multi });
    if (!a.ok) throw new PgError(a.message, a.code, a.detail);
    return { rows: a.rows.map(buffers), rowCount: a.rowCount };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // a stopped thread took its connections with it: nothing to close, and shutting down is no error
    if (this.bridge.dead) return;
    this.call({ id: this.id, close: true });
  }

  private call(req: PgRequestBody): PgAnswer {
    const { worker, flag, port, dead } = this.bridge;
    if (dead) {
      this.closed = true;
      throw new WsiError('STORE_BUSY', 'the PostgreSQL store\'s connection thread has stopped; retry shortly');
    }
    const seq = ++this.bridge.seq;
    Atomics.store(flag, 0, 0);
    worker.postMessage({ ...req, seq });
    const deadline = performance.now() + this.timeoutMs;
    // the raised flag says the answer is on its way, not that the port has it: a message posted from
    // the thread can become readable a moment after the flag (measured: up to ~3 ms on a busy machine)
    let m = Atomics.wait(flag, 0, 0, this.timeoutMs) === 'timed-out' ? undefined : receiveMessageOnPort(port);
    while (!m && performance.now() < deadline) {
      Atomics.wait(flag, 0, 1, 1);
      m = receiveMessageOnPort(port);
    }
    if (!m) return this.lost(`the PostgreSQL store did not answer within ${this.timeoutMs} ms; retry shortly`);
    const a = m.message as PgAnswer & { seq: number };
    // an answer to another statement: the two threads no longer agree, so none of their answers can be trusted
    if (a.seq !== seq) return this.lost(`the PostgreSQL store's connection thread answered statement ${a.seq} for ${seq}; retry shortly`);
    return a;
  }

  /** Gives up the thread (its late answers must not be read as the next statements'); its other connections fail at once. */
  private lost(message: string): never {
    if (bridge === this.bridge) bridge = null;
    this.bridge.dead = true;
    void this.bridge.worker.terminate();
    this.closed = true;
    throw new WsiError('STORE_BUSY', message);
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
