/**
 * worker_threads entry of the synchronous PostgreSQL bridge (store/pg-sync.ts):
 * holds the one `pg` connection of a store and runs the statements the
 * server's thread sends, one at a time, in order. The server's thread waits
 * for each answer on a shared flag (Atomics.wait), so a statement costs it
 * one loopback round trip, as a better-sqlite3 call costs it one SQLite call.
 * Answers go back on a MessagePort the server's thread reads synchronously
 * (receiveMessageOnPort), then the flag is raised.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import pg from 'pg';

interface Start {
  url: string;
  flag: SharedArrayBuffer;
  port: MessagePort;
}

export interface PgRequest {
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
const { url, flag, port } = workerData as Start;
const raised = new Int32Array(flag);

// int8 (counts, ms times, ids) as numbers, as SQLite gives them: all of ours stay below 2^53
pg.types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v: string) => Number(v));

const client = new pg.Client({ connectionString: url });
// the server's thread may already wait: an unreachable server is an answer, not a hang
const ready: Promise<unknown> = client.connect().then(
  () => null,
  (err: unknown) => err ?? new Error('could not connect'),
);

function answer(a: PgAnswer): void {
  port.postMessage(a);
  Atomics.store(raised, 0, 1);
  Atomics.notify(raised, 0);
}

function failure(err: unknown): PgAnswer {
  const e = err as { message?: string; code?: string; detail?: string };
  return { ok: false, message: e.message ?? String(err), code: e.code, detail: e.detail };
}

// one statement at a time: the server's thread sends the next only after it has read this answer
host.on('message', (m: PgRequest | 'close') => {
  if (m === 'close') {
    void client.end().finally(() => answer({ ok: true, rows: [], rowCount: 0 }));
    return;
  }
  void ready.then(async (failed) => {
    if (failed) return answer(failure(failed));
    try {
      if (m.multi) {
        await client.query(m.sql);
        return answer({ ok: true, rows: [], rowCount: 0 });
      }
      const r = await client.query({ text: m.sql, values: m.params });
      answer({ ok: true, rows: r.rows as Array<Record<string, unknown>>, rowCount: r.rowCount ?? 0 });
    } catch (err) {
      answer(failure(err));
    }
  });
});
