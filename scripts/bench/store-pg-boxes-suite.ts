/**
 * The annotation box index on PostgreSQL (issue 16: "measure which is
 * faster for our viewport and hit queries"): the same boxes in SQLite's
 * R*Tree (the reference), in a PostgreSQL table with a GiST index on
 * `box(point(min_x, min_y), point(max_x, max_y))` queried with `&&` (what
 * pg-schema.ts and dialect.ts use), and in one with a B-tree on min_x only
 * (the baseline before). A throwaway cluster as in the tests.
 * BENCH_PG_BOXES boxes (default 200,000 cells of 8–40 px on a 100,000 px
 * slide), BENCH_PG_QUERIES queries per kind and round (default 200),
 * BENCH_PG_ROUNDS rounds (default 5), engines alternated per round. Query
 * kinds: a viewport (2,000 × 1,000 px, the screen at full resolution), a
 * wide viewport (16,000 × 8,000 px) and a hit (the centre of a random box:
 * a click on an object). Each returns the rowids in rowid order, as the
 * store's listing does (at most 10,000). The statements are unnamed, as the
 * store's bridge sends them: PostgreSQL plans each with its values (a
 * named, server-prepared statement soon gets a generic plan, which cannot
 * judge a box's selectivity).
 * Reported: median µs per query (PostgreSQL through `pg` awaited: the
 * server's work and one round trip) and rows per query.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { rng } from './workloads.js';
import { pgBinDir, startPgCluster } from '../pg-cluster.js';
import type { Emit } from './tiles-suite.js';

const N = Number(process.env['BENCH_PG_BOXES'] ?? 200_000);
const QUERIES = Number(process.env['BENCH_PG_QUERIES'] ?? 200);
const ROUNDS = Number(process.env['BENCH_PG_ROUNDS'] ?? 5);
const SLIDE = 100_000;
const LIMIT = 10_000;

const KINDS = { viewport: [2000, 1000], wide: [16_000, 8000], hit: [0, 0] } as const;
type Kind = keyof typeof KINDS;

interface Index {
  name: string;
  query(x0: number, y0: number, x1: number, y1: number): Promise<number> | number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

export async function storePgBoxesSuite(_root: string, emit: Emit): Promise<void> {
  const bin = pgBinDir();
  if (!bin) throw new Error('store-pg-boxes: PostgreSQL is not installed (apt-get install postgresql)');
  const cluster = await startPgCluster(bin);
  const dir = await mkdtemp(join(tmpdir(), 'wsi-bench-boxes-'));
  const lite = new Database(join(dir, 'boxes.db'));
  const client = new pg.Client({ connectionString: cluster.url });
  try {
    await client.connect();
    const r = rng(16);
    const boxes: number[][] = [];
    for (let i = 1; i <= N; i++) {
      const x = r() * SLIDE;
      const y = r() * SLIDE;
      boxes.push([i, x, x + 8 + r() * 32, y, y + 8 + r() * 32]);
    }
    lite.exec('CREATE VIRTUAL TABLE boxes USING rtree (rowid, min_x, max_x, min_y, max_y)');
    const ins = lite.prepare('INSERT INTO boxes VALUES (?, ?, ?, ?, ?)');
    lite.transaction(() => {
      for (const b of boxes) ins.run(...b);
    })();
    for (const t of ['boxes_gist', 'boxes_btree']) {
      await client.query(`CREATE TABLE ${t} (rowid BIGINT PRIMARY KEY, min_x DOUBLE PRECISION NOT NULL, max_x DOUBLE PRECISION NOT NULL, min_y DOUBLE PRECISION NOT NULL, max_y DOUBLE PRECISION NOT NULL)`);
      for (let i = 0; i < boxes.length; i += 5000) {
        const part = boxes.slice(i, i + 5000);
        await client.query(
          `INSERT INTO ${t} SELECT * FROM unnest($1::bigint[], $2::float8[], $3::float8[], $4::float8[], $5::float8[])`,
          [0, 1, 2, 3, 4].map((k) => part.map((b) => b[k])),
        );
      }
    }
    await client.query('CREATE INDEX boxes_gist_box ON boxes_gist USING gist (box(point(min_x, min_y), point(max_x, max_y)))');
    await client.query('CREATE INDEX boxes_btree_min_x ON boxes_btree (min_x)');
    await client.query('ANALYZE boxes_gist; ANALYZE boxes_btree');

    const liteQ = lite.prepare('SELECT rowid FROM boxes WHERE max_x >= ? AND max_y >= ? AND min_x <= ? AND min_y <= ? ORDER BY rowid LIMIT ?');
    const indexes: Index[] = [
      { name: 'sqlite-rtree', query: (x0, y0, x1, y1) => liteQ.all(x0, y0, x1, y1, LIMIT).length },
      {
        name: 'postgres-gist-box',
        query: async (x0, y0, x1, y1) =>
          (await client.query({ text: 'SELECT rowid FROM boxes_gist WHERE box(point(min_x, min_y), point(max_x, max_y)) && box(point($1, $2), point($3, $4)) ORDER BY rowid LIMIT $5', values: [x0, y0, x1, y1, LIMIT] })).rowCount ?? 0,
      },
      {
        name: 'postgres-btree-min-x',
        query: async (x0, y0, x1, y1) =>
          (await client.query({ text: 'SELECT rowid FROM boxes_btree WHERE max_x >= $1 AND max_y >= $2 AND min_x <= $3 AND min_y <= $4 ORDER BY rowid LIMIT $5', values: [x0, y0, x1, y1, LIMIT] })).rowCount ?? 0,
      },
    ];
    const results = new Map<string, number[]>();
    const rows = new Map<string, number[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const kind of Object.keys(KINDS) as Kind[]) {
        const [w, h] = KINDS[kind];
        const q = rng(1000 + round);
        // a hit is a click on an object: the centre of a random box; a viewport anywhere on the slide
        const spots = Array.from({ length: QUERIES }, () => {
          if (kind !== 'hit') return [q() * (SLIDE - w), q() * (SLIDE - h)] as const;
          const b = boxes[Math.floor(q() * boxes.length)] as number[];
          return [((b[1] as number) + (b[2] as number)) / 2, ((b[3] as number) + (b[4] as number)) / 2] as const;
        });
        for (const ix of round % 2 ? [...indexes].reverse() : indexes) {
          let n = 0;
          const t0 = performance.now();
          for (const [x, y] of spots) n += await ix.query(x, y, x + w, y + h);
          const us = ((performance.now() - t0) * 1000) / QUERIES;
          emit({ suite: 'store-pg-boxes', index: ix.name, kind, round, boxes: N, queries: QUERIES, usPerQuery: us, rowsPerQuery: n / QUERIES });
          const key = `${ix.name}|${kind}`;
          results.set(key, [...(results.get(key) ?? []), us]);
          rows.set(key, [...(rows.get(key) ?? []), n / QUERIES]);
        }
      }
    }
    for (const [key, us] of results) {
      const [index, kind] = key.split('|');
      emit({ suite: 'store-pg-boxes', index, kind, median: true, rounds: us.length, boxes: N, usPerQuery: median(us), rowsPerQuery: median(rows.get(key) ?? []) });
    }
  } finally {
    lite.close();
    await client.end().catch(() => undefined);
    cluster.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
