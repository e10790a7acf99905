/**
 * What the synchronous PostgreSQL bridge (tiles-server/store/pg-sync.ts)
 * costs per statement, against better-sqlite3 and against `pg` used
 * asynchronously on the same thread, alternated in rounds in one run
 * (issue 16: the choice between a synchronous bridge and an async store).
 * A throwaway cluster is started as in the tests (scripts/pg-cluster.ts).
 * Per engine: a primary-key read and a one-row insert in its own
 * transaction, BENCH_PG_OPS (default 2000) of each per round, over
 * BENCH_PG_ROUNDS (default 5) rounds; reported per round and as medians:
 * wall µs per statement and this process's CPU µs per statement (all its
 * threads: Node 20 has no per-thread figure). The bridge blocks the event
 * loop for the whole wall time; async `pg` only for its own CPU share.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openDatabase } from '../../tiles-server/store/database.js';
import { PgDb } from '../../tiles-server/store/pg-db.js';
import { pgBinDir, startPgCluster } from '../pg-cluster.js';
import type { Emit } from './tiles-suite.js';

const OPS = Number(process.env['BENCH_PG_OPS'] ?? 2000);
const ROUNDS = Number(process.env['BENCH_PG_ROUNDS'] ?? 5);

interface Engine {
  name: string;
  read(id: number): Promise<unknown> | unknown;
  write(id: number): Promise<unknown> | unknown;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

async function timeOps(op: (i: number) => Promise<unknown> | unknown, base: number): Promise<{ wallUs: number; cpuUs: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < OPS; i++) await op(base + i);
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wallUs: (wall * 1000) / OPS, cpuUs: (c.user + c.system) / OPS };
}

export async function storePgSuite(_root: string, emit: Emit): Promise<void> {
  const bin = pgBinDir();
  if (!bin) throw new Error('store-pg: PostgreSQL is not installed (apt-get install postgresql)');
  const cluster = await startPgCluster(bin);
  const dir = await mkdtemp(join(tmpdir(), 'wsi-bench-pg-'));
  const schema = 'CREATE TABLE kv (id BIGINT PRIMARY KEY, v TEXT NOT NULL)';
  const lite = openDatabase(join(dir, 'wsi.db'));
  lite.exec(schema);
  const bridge = new PgDb(cluster.url);
  bridge.exec(schema.replace('kv', 'kv_sync'));
  const async = new pg.Client({ connectionString: cluster.url });
  await async.connect();
  await async.query(schema.replace('kv', 'kv_async'));
  const seed = (n: number): string => `row ${n} `.repeat(8);
  const engines: Engine[] = [
    {
      name: 'sqlite',
      read: (() => { const s = lite.prepare('SELECT v FROM kv WHERE id = ?'); return (id: number) => s.get(id % 1000); })(),
      write: (() => { const s = lite.prepare('INSERT INTO kv (id, v) VALUES (?, ?)'); const tx = lite.transaction((id: number) => s.run(id, seed(id))); return (id: number) => tx.immediate(id); })(),
    },
    {
      name: 'postgres-sync-bridge',
      read: (() => { const s = bridge.prepare('SELECT v FROM kv_sync WHERE id = ?'); return (id: number) => s.get(id % 1000); })(),
      write: (() => { const s = bridge.prepare('INSERT INTO kv_sync (id, v) VALUES (?, ?)'); const tx = bridge.transaction((id: number) => s.run(id, seed(id))); return (id: number) => tx.immediate(id); })(),
    },
    {
      name: 'postgres-async-pg',
      read: (id: number) => async.query({ name: 'r', text: 'SELECT v FROM kv_async WHERE id = $1', values: [id % 1000] }),
      write: async (id: number) => {
        await async.query('BEGIN');
        await async.query({ name: 'w', text: 'INSERT INTO kv_async (id, v) VALUES ($1, $2)', values: [id, seed(id)] });
        await async.query('COMMIT');
      },
    },
  ];
  try {
    const results = new Map<string, Array<{ read: { wallUs: number; cpuUs: number }; write: { wallUs: number; cpuUs: number } }>>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const e of round % 2 ? [...engines].reverse() : engines) {
        const base = 1_000_000 * (round + 1);
        const write = await timeOps(e.write, base);
        const read = await timeOps(e.read, base);
        emit({ suite: 'store-pg', engine: e.name, round, ops: OPS, read, write });
        const list = results.get(e.name) ?? [];
        list.push({ read, write });
        results.set(e.name, list);
      }
    }
    for (const [name, rs] of results) {
      emit({
        suite: 'store-pg',
        engine: name,
        median: true,
        rounds: rs.length,
        readWallUs: median(rs.map((r) => r.read.wallUs)),
        readCpuUs: median(rs.map((r) => r.read.cpuUs)),
        writeTxWallUs: median(rs.map((r) => r.write.wallUs)),
        writeTxCpuUs: median(rs.map((r) => r.write.cpuUs)),
      });
    }
  } finally {
    lite.close();
    bridge.close();
    await async.end();
    cluster.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
