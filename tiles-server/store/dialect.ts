/**
 * The SQL the two store engines write differently, one object per engine, so
 * the store modules keep one query each and never test the engine themselves.
 * What pg-db.ts translates by itself (placeholders, INSERT OR IGNORE) is not
 * here; this is what a translation of text cannot do: a statement whose
 * answer is read otherwise (the new row's key), a function only one engine
 * has (json_extract), the spatial index (SQLite's R*Tree virtual table, a
 * GiST index on PostgreSQL: pg-schema.ts), and connection settings that are
 * SQLite's pragmas (WAL checkpoints, synchronous), and which of an engine's
 * error codes mean a full, busy or damaged store (database.ts storeProblem).
 */
import type { Db } from './database.js';
import { engineOf, type Engine } from './engine.js';

/** An INSERT that gives the key of the row it wrote, or null when it wrote none (ON CONFLICT DO NOTHING). */
export type Inserter = (...args: unknown[]) => number | null;

/** A storage failure the API answers with a problem of its own (507 STORE_FULL, 503 STORE_BUSY, 503 STORE_DAMAGED). */
export type StoreFailure = 'full' | 'busy' | 'damaged';

export interface Dialect {
  readonly engine: Engine;
  /** The failure an error code of this engine stands for, or null (SQLite's codes are SQLITE_…, PostgreSQL's five-character SQLSTATEs). */
  failureOf(code: string): StoreFailure | null;
  /** Prepares `sql` (an INSERT) so that running it gives the new row's `key` column. */
  inserter(db: Db, sql: string, key: string): Inserter;
  /** A text field of a column holding a JSON object, as text (JSON null: SQL NULL). */
  jsonText(column: string, field: string): string;
  /** Puts or replaces an annotation's box: parameters (rowid, min_x, max_x, min_y, max_y). */
  readonly upsertBox: string;
  /** The condition that box index row `r` overlaps a box given as parameters (x0, y0, x1, y1), edges included. */
  boxOverlaps(r: string): string;
  /**
   * Whether this connection's commits wait for the disk (`relaxed`: a bulk
   * stager's chunks, which a crash only costs an import that is discarded at
   * the next start anyway). `checkpointPages`: SQLite's WAL auto-checkpoint
   * interval for the connection (PostgreSQL has no per-connection one).
   */
  relaxCommits(db: Db, relaxed: boolean, checkpointPages?: number): void;
  /** SQLite's WAL auto-checkpoint interval (0: off); nothing on PostgreSQL, whose checkpoints are the server's. */
  autoCheckpoint(db: Db, pages: number): void;
  /**
   * A reader of a value that changes whenever the database may have changed
   * (a write of this connection, a commit of any other), for results kept
   * between reads; null where no such value is cheap, and nothing is kept.
   */
  changeStamp(db: Db): (() => string) | null;
}

const sqlite: Dialect = {
  engine: 'sqlite',
  failureOf(code) {
    if (code === 'SQLITE_FULL') return 'full';
    if (code === 'SQLITE_BUSY') return 'busy';
    // the codes of a file whose pages are not what they should be
    if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') return 'damaged';
    return null;
  },
  inserter(db, sql) {
    const stmt = db.prepare(sql);
    return (...args) => {
      const r = stmt.run(...args);
      return r.changes === 0 ? null : Number(r.lastInsertRowid);
    };
  },
  jsonText: (column, field) => `json_extract(${column}, '$.${field}')`,
  // the R*Tree is a virtual table: no UPSERT
  upsertBox: `INSERT OR REPLACE INTO annotations_rtree (rowid, min_x, max_x, min_y, max_y) VALUES (?, ?, ?, ?, ?)`,
  boxOverlaps: (r) => `${r}.max_x >= ? AND ${r}.max_y >= ? AND ${r}.min_x <= ? AND ${r}.min_y <= ?`,
  relaxCommits(db, relaxed, checkpointPages) {
    db.pragma(`synchronous = ${relaxed ? 'NORMAL' : 'FULL'}`);
    if (checkpointPages !== undefined) db.pragma(`wal_autocheckpoint = ${checkpointPages}`);
  },
  autoCheckpoint(db, pages) {
    db.pragma(`wal_autocheckpoint = ${pages}`);
  },
  changeStamp(db) {
    // this connection's writes (total_changes()) and other connections' commits (data_version): nothing is written
    const local = db.prepare<[], { local: number }>(`SELECT total_changes() AS local`);
    return () => `${db.pragma('data_version', { simple: true }) as number}:${(local.get() as { local: number }).local}`;
  },
};

/** SQLSTATEs: disk_full; serialization, deadlock, lock and statement timeouts, too many connections, shutdowns, lost connections; data and index corruption. */
const PG_FAILURES: Record<string, StoreFailure> = {
  '53100': 'full',
  '40001': 'busy',
  '40P01': 'busy',
  '55P03': 'busy',
  '57014': 'busy',
  '53300': 'busy',
  '57P01': 'busy',
  '57P03': 'busy',
  XX001: 'damaged',
  XX002: 'damaged',
};

const postgres: Dialect = {
  engine: 'postgres',
  failureOf: (code) => PG_FAILURES[code] ?? (/^08[0-9A-Z]{3}$/.test(code) ? 'busy' : null),
  inserter(db, sql, key) {
    const stmt = db.prepare(`${sql.replace(/;\s*$/, '')} RETURNING ${key}`);
    return (...args) => {
      const row = stmt.get(...args) as Record<string, unknown> | undefined;
      return row === undefined ? null : Number(row[key]);
    };
  },
  // json, not jsonb: one field of each row is read once, no binary form is worth building
  jsonText: (column, field) => `(${column}::json)->>'${field}'`,
  upsertBox: `INSERT INTO annotations_rtree (rowid, min_x, max_x, min_y, max_y) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (rowid) DO UPDATE SET min_x = excluded.min_x, max_x = excluded.max_x, min_y = excluded.min_y, max_y = excluded.max_y`,
  // the expression of the GiST index in pg-schema.ts, so the planner uses it
  boxOverlaps: (r) => `box(point(${r}.min_x, ${r}.min_y), point(${r}.max_x, ${r}.max_y)) && box(point(?, ?), point(?, ?))`,
  relaxCommits(db, relaxed) {
    db.exec(`SET synchronous_commit = ${relaxed ? 'off' : 'on'}`);
  },
  autoCheckpoint() {
    // checkpoints are the PostgreSQL server's
  },
  // other replicas commit on the same database: no cheap stamp covers them
  changeStamp: () => null,
};

const DIALECTS: Record<Engine, Dialect> = { sqlite, postgres };

/** The dialect of a store connection. */
export function dialectOf(db: Db): Dialect {
  return DIALECTS[engineOf(db)];
}

/** The storage failure an error stands for, whichever engine raised it (its code says which), or null. */
export function storeFailureOf(err: unknown): StoreFailure | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return null;
  return code.startsWith('SQLITE_') ? sqlite.failureOf(code) : postgres.failureOf(code);
}
