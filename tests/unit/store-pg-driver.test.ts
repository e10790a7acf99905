/**
 * The store's PostgreSQL driver (tiles-server/store/pg-db.ts over the
 * synchronous bridge, pg-sync.ts): the dialect it translates (placeholders,
 * INSERT OR IGNORE), transactions and savepoints on one connection, what it
 * refuses by name (SQLite-only calls, booleans, missing parameters), the
 * server's errors with their SQLSTATE (a failed COMMIT included), a
 * connection the server ends, an unreachable server, and STORE_URL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { loadConfig } from '../../tiles-server/config.js';
import { PgDb, PgError, translatePlaceholders } from '../../tiles-server/store/pg-db.js';
import { PgSyncConnection } from '../../tiles-server/store/pg-sync.js';
import { openPgDatabase, pgBaseline, PG_UNVERIFIED } from '../../tiles-server/store/pg-schema.js';

describe('placeholders', () => {
  it('become $n outside quotes and comments; names bind in first-seen order', () => {
    expect(translatePlaceholders(`SELECT * FROM t WHERE a = ? AND b = '?' AND "c?" = ? -- ?\n LIMIT ?`).text).toBe(`SELECT * FROM t WHERE a = $1 AND b = '?' AND "c?" = $2 -- ?\n LIMIT $3`);
    const t = translatePlaceholders('INSERT INTO t (a, b, c) VALUES (@a, :b, @a) RETURNING x::text');
    expect(t.text).toBe('INSERT INTO t (a, b, c) VALUES ($1, $2, $1) RETURNING x::text');
    expect(t.bind).toEqual({ named: ['a', 'b'] });
  });

  it('refuse a statement that mixes ? and names', () => {
    expect(() => translatePlaceholders('SELECT ? + @a')).toThrow(/mixes/);
  });
});

describe('STORE_URL', () => {
  it('is unset (SQLite) by default, and a postgres:// URL otherwise', () => {
    expect(loadConfig({}, []).storeUrl).toBeNull();
    expect(loadConfig({ STORE_URL: 'postgres://wsi@db:5432/wsi' }, []).storeUrl).toBe('postgres://wsi@db:5432/wsi');
    expect(loadConfig({ STORE_URL: 'postgresql://wsi@db/wsi' }, []).storeUrl).toBe('postgresql://wsi@db/wsi');
  });

  it('refuses anything else without repeating it (it may hold a password)', () => {
    for (const bad of ['mysql://u:hunter2@db/x', 'hunter2', 'postgres://']) {
      let message = '';
      try {
        loadConfig({ STORE_URL: bad }, []);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/STORE_URL must be a PostgreSQL URL/);
      expect(message).not.toContain('hunter2');
    }
  });
});

describe('an unreachable PostgreSQL', () => {
  it('is an error on the first statement, not a hang', () => {
    const db = new PgDb('postgres://wsi@127.0.0.1:1/none');
    try {
      expect(() => db.prepare('SELECT 1').get()).toThrow(/ECONNREFUSED|connect/);
    } finally {
      db.close();
    }
  });
});

const url = inject('pgUrl');

describe.skipIf(!url)(`the driver on PostgreSQL${url ? '' : ' (SKIPPED: PostgreSQL is not installed here)'}`, () => {
  let db: PgDb;

  beforeAll(() => {
    db = new PgDb(url as string);
    db.exec(`DROP TABLE IF EXISTS drv; CREATE TABLE drv (id BIGINT PRIMARY KEY, name TEXT NOT NULL, data BYTEA)`);
  });

  afterAll(() => {
    db.exec('DROP TABLE drv');
    db.close();
  });

  it('runs, gets, lists and iterates with positional and named parameters; bytea round-trips as a Buffer', () => {
    const ins = db.prepare('INSERT INTO drv (id, name, data) VALUES (@id, @name, @data)');
    expect(ins.run({ id: 1, name: 'one', data: Buffer.from([0, 1, 255]) }).changes).toBe(1);
    expect(ins.run({ id: 2, name: 'two', data: null }).changes).toBe(1);
    const row = db.prepare('SELECT id, name, data FROM drv WHERE id = ?').get(1) as { id: number; name: string; data: Buffer };
    expect(row).toEqual({ id: 1, name: 'one', data: Buffer.from([0, 1, 255]) });
    expect(Buffer.isBuffer(row.data)).toBe(true);
    expect(db.prepare('SELECT count(*) AS n FROM drv').get()).toEqual({ n: 2 });
    expect([...db.prepare('SELECT id FROM drv ORDER BY id').iterate()]).toEqual([{ id: 1 }, { id: 2 }]);
    expect(db.prepare('SELECT id FROM drv WHERE id > ?').all(5)).toEqual([]);
    expect(db.prepare('SELECT id FROM drv WHERE id = ?').get(99)).toBeUndefined();
  });

  it('turns INSERT OR IGNORE into ON CONFLICT DO NOTHING', () => {
    expect(db.prepare(`INSERT OR IGNORE INTO drv (id, name) VALUES (?, ?)`).run(1, 'again').changes).toBe(0);
    expect(db.prepare(`INSERT OR IGNORE INTO drv (id, name) VALUES (?, ?) RETURNING id`).all(3, 'three')).toEqual([{ id: 3 }]);
  });

  it('commits a transaction, rolls back a failed one, and nests as savepoints', () => {
    const add = db.prepare('INSERT INTO drv (id, name) VALUES (?, ?)');
    db.transaction(() => add.run(10, 'ten')).immediate();
    expect(() => db.transaction(() => {
      add.run(11, 'eleven');
      add.run(10, 'duplicate');
    })()).toThrow(/duplicate key/);
    db.transaction(() => {
      add.run(12, 'twelve');
      expect(db.inTransaction).toBe(true);
      expect(() => db.transaction(() => {
        add.run(13, 'thirteen');
        throw new Error('inner fails');
      })()).toThrow('inner fails');
    })();
    expect(db.inTransaction).toBe(false);
    expect(db.prepare('SELECT id FROM drv WHERE id >= 10 ORDER BY id').all()).toEqual([{ id: 10 }, { id: 12 }]);
  });

  it('after a COMMIT the server refuses (a deferred constraint), is out of the transaction and runs the next one', () => {
    db.exec(`DROP TABLE IF EXISTS drv_deferred; CREATE TABLE drv_deferred (id BIGINT, CONSTRAINT drv_deferred_unique UNIQUE (id) DEFERRABLE INITIALLY DEFERRED)`);
    try {
      const add = db.prepare('INSERT INTO drv_deferred (id) VALUES (?)');
      expect(() => db.transaction(() => {
        add.run(1);
        add.run(1);
      })()).toThrow(/duplicate key/);
      expect(db.inTransaction).toBe(false);
      db.transaction(() => add.run(2))();
      expect(db.inTransaction).toBe(false);
      expect(db.prepare('SELECT id FROM drv_deferred').all()).toEqual([{ id: 2 }]);
    } finally {
      db.exec('DROP TABLE drv_deferred');
    }
  });

  it('gives the server\'s errors with their SQLSTATE', () => {
    let caught: unknown;
    try {
      db.prepare('INSERT INTO drv (id, name) VALUES (?, ?)').run(1, 'dup');
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ name: 'PgError', code: '23505' });
    expect(() => db.prepare('SELECT * FROM no_such_table').all()).toThrow(/does not exist/);
  });

  it('refuses by name what only SQLite has, booleans and missing parameters', () => {
    expect(() => db.prepare('INSERT INTO drv (id, name) VALUES (?, ?)').run(20, 'x').lastInsertRowid).toThrow(/RETURNING/);
    expect(() => db.pragma('journal_mode = WAL')).toThrow(/SQLite's/);
    expect(() => db.prepare(`INSERT OR REPLACE INTO drv (id, name) VALUES (?, ?)`)).toThrow(/ON CONFLICT/);
    expect(() => db.prepare('SELECT id FROM drv WHERE id = ?').get(true)).toThrow(/can only bind/);
    expect(() => db.prepare('SELECT id FROM drv WHERE id = @id').get({ other: 1 })).toThrow(/Missing named parameter "id"/);
    expect(() => db.prepare('SELECT id FROM drv WHERE id = @id').get(1)).toThrow(/one object/);
  });

  it('is refused for the server while it lacks parts on PostgreSQL, naming them', () => {
    expect(PG_UNVERIFIED.length).toBeGreaterThan(0);
    expect(() => openPgDatabase(url as string)).toThrow(/not complete yet.*opens only the SQLite store/);
  });

  it('a connection the server ends (an administrator, a restart) is an error on its next statement, not a crash or a wait; others go on', async () => {
    // a short wait: were the bridge's thread dead, the statement would wait this long for an answer
    const victim = new PgSyncConnection(url as string, 5_000);
    const other = new PgSyncConnection(url as string, 5_000);
    const pid = victim.query('SELECT pg_backend_pid() AS pid').rows[0]?.['pid'] as number;
    expect(db.prepare('SELECT pg_terminate_backend(?) AS ok').get(pid)).toEqual({ ok: true });
    // the bridge's thread sees the connection end while it is idle
    await new Promise((r) => setTimeout(r, 300));
    const t0 = performance.now();
    expect(() => victim.query('SELECT 1')).toThrow(PgError);
    expect(performance.now() - t0).toBeLessThan(4_000);
    expect(other.query('SELECT 2 AS two').rows).toEqual([{ two: 2 }]);
    victim.close();
    other.close();
  });

  it('a statement past its time stops the bridge\'s thread: its other connections fail at once, and close without error', () => {
    const slow = new PgSyncConnection(url as string, 300);
    const other = new PgSyncConnection(url as string, 30_000);
    const idle = new PgSyncConnection(url as string, 30_000);
    expect(() => slow.query('SELECT pg_sleep(3)')).toThrow(/did not answer within 300 ms/);
    const t0 = performance.now();
    expect(() => other.query('SELECT 1')).toThrow(/thread has stopped/);
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(() => other.close()).not.toThrow();
    expect(() => idle.close()).not.toThrow();
    expect(() => slow.close()).not.toThrow();
    // the suite's connection was on that thread too: a new one gets a new thread
    db = new PgDb(url as string);
    expect(db.prepare('SELECT 3 AS three').get()).toEqual({ three: 3 });
  });

  it('a closed connection says so', () => {
    const c = new PgDb(url as string);
    c.close();
    expect(() => c.prepare('SELECT 1')).toThrow(/not open/);
  });
});

describe('the PostgreSQL baseline', () => {
  it('is SQLite\'s latest schema translated: every table, its append-only triggers as plpgsql, the R*Tree as boxes', () => {
    const { ddl, rows } = pgBaseline();
    for (const table of ['history', 'annotations', 'mask_history', 'mask_tiles', 'audit_log', 'users', 'review_items', 'model_masks']) {
      expect(ddl).toMatch(new RegExp(`CREATE TABLE "?${table}"? \\(`));
    }
    expect(ddl).not.toMatch(/\bBLOB\b|\bINTEGER\b|\bREAL\b|RAISE\(ABORT|VIRTUAL|sqlite_/);
    expect(ddl).toMatch(/CREATE TRIGGER history_append_only_delete BEFORE DELETE ON history FOR EACH ROW/);
    expect(ddl).toMatch(/IF OLD\.import_job = 0 OR NOT EXISTS/);
    expect(ddl).toMatch(/CREATE TABLE annotations_rtree \(rowid BIGINT PRIMARY KEY, min_x DOUBLE PRECISION/);
    expect(ddl).toMatch(/actor TEXT/);
    expect(rows).toContainEqual({ table: 'counters', row: { name: 'class_id', value: 0 } });
  });
});
