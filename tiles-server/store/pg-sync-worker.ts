/**
 * worker_threads entry of the synchronous PostgreSQL bridge (store/pg-sync.ts):
 * one thread per calling thread, holding the `pg` connections of its stores
 * (by id) and running the statements that thread sends, one at a time. The server's thread waits
 * for each answer on a shared flag (Atomics.wait), so a statement costs it
 * one loopback round trip, as a better-sqlite3 call costs it one SQLite call.
 * Answers go back on a MessagePort the server's thread reads synchronously
 * (receiveMessageOnPort), then the flag is raised.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import pg from 'pg';

interface Start {
  flag: SharedArrayBuffer;
  port: MessagePort;
}

export type PgRequestBody = { id: number; open: string } | { id: number; close: true } | PgQuery;
/** A request as posted: `seq` numbers the calling thread's statements, and comes back with the answer. */
export type PgRequest = PgRequestBody & { seq: number };

export interface PgQuery {
  id: number;
  sql: string;
  params: unknown[];
  /** Several statements in one string, no parameters (DDL, BEGIN/COMMIT). */
  multi?: boolean;
}

export type PgAnswer =
  | { ok: true; rows: Array<Record<string, unknown>>; rowCount: number }
  | { ok: false; message: string; code: string | undefined; detail: string | undefined };

const host = parentPort;
if (!host) throw new Error('pg-sync-worker must run in a worker thread');
const { flag, port } = workerData as Start;
const raised = new Int32Array(flag);

// int8 (counts, ms times, ids) as numbers, as SQLite gives them: all of ours stay below 2^53
pg.types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v: string) => Number(v));

interface Connection {
  client: pg.Client;
  /** null once connected, else why it could not connect (an answer to every statement, not a hang). */
  ready: Promise<unknown>;
  /** Why the connection ended while idle (the server restarted, an administrator ended it): every later statement's answer. */
  lost: unknown;
}
const connections = new Map<number, Connection>();

function answer(seq: number, a: PgAnswer): void {
  port.postMessage({ ...a, seq });
  Atomics.store(raised, 0, 1);
  Atomics.notify(raised, 0);
}

function failure(err: unknown): PgAnswer {
  const e = err as { message?: string; code?: string; detail?: string };
  return { ok: false, message: e.message ?? String(err), code: e.code, detail: e.detail };
}

const done: PgAnswer = { ok: true, rows: [], rowCount: 0 };

// one statement at a time: the calling thread sends the next only after it has read this answer
host.on('message', (m: PgRequest) => {
  if ('open' in m) {
    const client = new pg.Client({ connectionString: m.open });
    const c: Connection = { client, ready: client.connect().then(() => null, (err: unknown) => err ?? new Error('could not connect')), lost: null };
    // unheard, this event (an idle connection ended by the server) would end this thread and every connection in it
    client.on('error', (err) => (c.lost ??= err));
    connections.set(m.id, c);
    return answer(m.seq, done);
  }
  const c = connections.get(m.id);
  if (!c) return answer(m.seq, failure(new Error('The database connection is not open')));
  if ('close' in m) {
    connections.delete(m.id);
    void c.client.end().catch(() => undefined).finally(() => answer(m.seq, done));
    return;
  }
  const { client, ready } = c;
  void ready.then(async (failed) => {
    if (failed) return answer(m.seq, failure(failed));
    if (c.lost) return answer(m.seq, failure(c.lost));
    try {
      if (m.multi) {
        await client.query(m.sql);
        return answer(m.seq, done);
      }
      const r = await client.query({ text: m.sql, values: m.params.map(bytes) });
      answer(m.seq, { ok: true, rows: r.rows as Array<Record<string, unknown>>, rowCount: r.rowCount ?? 0 });
    } catch (err) {
      answer(m.seq, failure(err));
    }
  });
});

/** Typed arrays arrive for Buffers (structured clone): bind them as bytea. */
function bytes(v: unknown): unknown {
  return v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v;
}
