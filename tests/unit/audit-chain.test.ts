/**
 * SEC-11: the audit chain. Records appended through the log verify; the
 * application's connection cannot UPDATE or DELETE them; and someone with
 * the database file who deletes, edits, reorders or truncates records (the
 * triggers dropped first) is found, with the first broken link named.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog, recordHash } from '../../tiles-server/audit/audit-log.js';
import { SqliteAuditStore } from '../../tiles-server/store/audit-store.js';
import { MIGRATIONS, openDatabase, type Db } from '../../tiles-server/store/database.js';
import { storeEngines, type StoreUnderTest } from '../helpers/store-engines.js';

let dir: string;
let db: Db;
let log: AuditLog;

function fill(n: number): void {
  for (let i = 0; i < n; i++) {
    log.append([{ actor: `user-${i % 7}`, action: i % 3 === 0 ? 'slide.open' : 'annotation.write', projectId: 'p1', target: `t-${i}`, detail: { n: i }, ip: '127.0.0.1' }], 1_700_000_000_000 + i);
  }
}

describe.each(storeEngines())('audit chain (SEC-11) on $name', ({ skip, make }) => {
  let store: StoreUnderTest;

  const reopen = (): void => {
    db = store.open();
    log = new AuditLog(new SqliteAuditStore(db), store.dir, { checkpointEvery: 100 });
  };

  /** The triggers off on a second connection: someone with the database's credentials. */
  function tamper(sql: string): void {
    log.close();
    db.close();
    store.tamper(['audit_log', 'audit_checkpoints'], (raw) => raw.exec(sql));
    reopen();
  }

  /** Rewrites records from `fromSeq` on with `actor` at `editSeq`, rehashing the chain after it (unkeyed hashes). */
  function rehash(raw: Db, fromSeq: number, editSeq: number): Buffer {
    const rows = raw.prepare('SELECT * FROM audit_log WHERE seq >= ? ORDER BY seq').all(fromSeq) as Array<Record<string, unknown>>;
    let prev = rows[0]?.['hash'] as Buffer;
    const update = raw.prepare('UPDATE audit_log SET actor = ?, hash = ? WHERE seq = ?');
    for (const row of rows.slice(1)) {
      const actor = row['seq'] === editSeq ? 'someone-else' : (row['actor'] as string);
      const r = { seq: row['seq'] as number, at: row['at'] as number, actor, action: row['action'] as string, outcome: row['outcome'] as 'ok', projectId: row['project_id'] as string, target: row['target'] as string, detail: row['detail'] as string, ip: row['ip'] as string };
      const hash = recordHash(prev, r);
      update.run(actor, hash, r.seq);
      prev = hash;
    }
    return prev;
  }

  beforeEach(() => {
    if (skip) return;
    store = make();
    dir = store.dir;
    reopen();
    fill(250);
    log.syncHead();
  });

  afterEach(() => {
    if (skip) return;
    log.close();
    db.close();
    store.dispose();
  });

  it.skipIf(skip)('verifies an intact log with its checkpoints and signed head', () => {
    expect(log.verify()).toMatchObject({ ok: true, records: 250, checkpoints: 2, brokenAt: null });
  });

  it.skipIf(skip)('the application connection cannot update or delete records', () => {
    expect(() => db.prepare(`UPDATE audit_log SET action = 'x' WHERE seq = 3`).run()).toThrow(/append-only/);
    expect(() => db.prepare(`DELETE FROM audit_log WHERE seq = 3`).run()).toThrow(/append-only/);
    expect(() => db.prepare(`DELETE FROM audit_checkpoints`).run()).toThrow(/append-only/);
    expect(log.verify()).toMatchObject({ ok: true, records: 250 });
  });

  it.skipIf(skip)('finds a deleted record', () => {
    tamper('DELETE FROM audit_log WHERE seq = 50');
    expect(log.verify()).toMatchObject({ ok: false, brokenAt: 50, contradicts: 100 });
  });

  it.skipIf(skip)('finds an edited record', () => {
    tamper(`UPDATE audit_log SET detail = '{"n":0}' WHERE seq = 70`);
    expect(log.verify()).toMatchObject({ ok: false, brokenAt: 70, reason: expect.stringContaining('altered') as string });
  });

  it.skipIf(skip)('finds an edited record whose chain was recomputed after it, through the signed checkpoint', () => {
    // the hashes are unkeyed: someone with the database can edit record 120 and rehash everything after it
    log.close();
    db.close();
    store.tamper(['audit_log'], (raw) => rehash(raw, 119, 120));
    reopen();
    expect(log.verify()).toMatchObject({ ok: false, brokenAt: 200, contradicts: 200, reason: expect.stringContaining('signed checkpoint') as string });
  });

  it.skipIf(skip)('finds a tail rewritten after the last checkpoint with one record added, through the signed head', () => {
    // records 245–250 rehashed with another actor at 245, and a record 251 appended: the head (250) no longer
    // matches. The server is not closed first (as after a crash), so no checkpoint covers 250: only the head does
    db.close();
    store.tamper(['audit_log'], (raw) => {
      const prev = rehash(raw, 244, 245);
      const extra = { seq: 251, at: 1_700_000_001_000, actor: 'someone-else', action: 'slide.open', outcome: 'ok' as const, projectId: 'p1', target: 't-x', detail: '{}', ip: '127.0.0.1' };
      raw.prepare('INSERT INTO audit_log (seq, at, actor, action, outcome, project_id, target, detail, ip, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run(extra.seq, extra.at, extra.actor, extra.action, extra.outcome, extra.projectId, extra.target, extra.detail, extra.ip, recordHash(prev, extra));
    });
    reopen();
    expect(log.verify()).toMatchObject({ ok: false, brokenAt: 250, contradicts: 250, reason: expect.stringContaining('signed head') as string });
  });

  it.skipIf(skip)('finds reordered records', () => {
    tamper(`UPDATE audit_log SET seq = -1 WHERE seq = 30; UPDATE audit_log SET seq = 30 WHERE seq = 31; UPDATE audit_log SET seq = 31 WHERE seq = -1;`);
    expect(log.verify()).toMatchObject({ ok: false, brokenAt: 30 });
  });

  it.skipIf(skip)('finds a truncated tail, past a checkpoint and after the last one', () => {
    tamper('DELETE FROM audit_log WHERE seq > 180');
    expect(log.verify()).toMatchObject({ ok: false, brokenAt: 181, contradicts: 200 });
  });

  it.skipIf(skip)('finds a tail cut after the last checkpoint, through the signed head', () => {
    tamper('DELETE FROM audit_log WHERE seq > 240');
    expect(log.verify()).toMatchObject({ ok: false, brokenAt: 241, contradicts: 250 });
  });

  it.skipIf(skip)('finds a replaced database (a copy from before) through the signed head', () => {
    log.close();
    db.close();
    store.snapshot();
    reopen();
    fill(10);
    log.close();
    db.close();
    store.restore();
    reopen();
    expect(log.verify()).toMatchObject({ ok: false, brokenAt: 251 });
  });

  it.skipIf(skip)('keeps ids as the chain hashes them and finds records by actor, project and target', () => {
    const alice = '0b9a6f5e-3c1d-4e2f-8a7b-6c5d4e3f2a1b';
    log.append([{ actor: alice, action: 'slide.open', projectId: 'f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9', target: 'slide-7f3a', ip: '127.0.0.1' }]);
    const found = new SqliteAuditStore(db).query({ actor: alice, limit: 10 });
    expect(found).toMatchObject([{ seq: 251, actor: alice, projectId: 'f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9', target: 'slide-7f3a' }]);
    expect(new SqliteAuditStore(db).query({ target: 't-3', action: 'slide.open', limit: 10 }).map((r) => r.seq)).toEqual([4]);
    expect(log.verify()).toMatchObject({ ok: true, records: 251 });
  });
});

/** The SQLite layout of records (16-byte UUIDs, schema version 5 files): SQLite's own. */
describe('audit records on disk (SQLite)', () => {
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'wsi-audit-'));
    db = openDatabase(join(dir, 'wsi.db'));
    log = new AuditLog(new SqliteAuditStore(db), dir, { checkpointEvery: 100 });
    fill(250);
    log.syncHead();
  });

  afterEach(() => {
    log.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const alice = '0b9a6f5e-3c1d-4e2f-8a7b-6c5d4e3f2a1b';
  const project = 'f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9';

  it('keep UUIDs in 16 bytes and give them back as text; other ids as they are', () => {
    log.append([{ actor: alice, action: 'slide.open', projectId: project, target: 'slide-7f3a', ip: '127.0.0.1' }]);
    const row = db.prepare(`SELECT actor, project_id, target FROM audit_log ORDER BY seq DESC LIMIT 1`).get() as Record<string, unknown>;
    expect(Buffer.isBuffer(row['actor']) && (row['actor'] as Buffer).length).toBe(16);
    expect(Buffer.isBuffer(row['project_id'])).toBe(true);
    expect(row['target']).toBe('slide-7f3a');
    const store = new SqliteAuditStore(db);
    expect(store.query({ actor: alice, limit: 10 })).toMatchObject([{ actor: alice, projectId: project, target: 'slide-7f3a' }]);
    expect(log.verify()).toMatchObject({ ok: true, records: 251 });
  });

  it('made before schema version 6 (text ids, the previous hash stored) still verify and are found after the migration', () => {
    const file = join(dir, 'v5.db');
    const raw = new Database(file);
    for (const m of MIGRATIONS.filter((x) => x.version <= 5)) raw.exec(m.sql);
    raw.pragma('user_version = 5');
    let prev: Buffer = Buffer.alloc(32);
    for (let seq = 1; seq <= 3; seq++) {
      const r = { seq, at: 1_700_000_000_000 + seq, actor: alice, action: 'slide.open', outcome: 'ok' as const, projectId: project, target: `t-${seq}`, detail: '{}', ip: '127.0.0.1' };
      const hash = recordHash(prev, r);
      raw.prepare(`INSERT INTO audit_log (seq, at, actor, action, outcome, project_id, target, detail, ip, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(seq, r.at, alice, r.action, r.outcome, project, r.target, r.detail, r.ip, prev, hash);
      prev = hash;
    }
    raw.close();
    const migrated = openDatabase(file);
    const keys = mkdtempSync(join(tmpdir(), 'wsi-audit-v5-'));
    try {
      expect(migrated.pragma('user_version', { simple: true })).toBe(MIGRATIONS[MIGRATIONS.length - 1]?.version);
      const store = new SqliteAuditStore(migrated);
      const after = new AuditLog(store, keys, { checkpointEvery: 100 });
      after.append([{ actor: alice, action: 'slide.open', projectId: project, target: 't-4' }]);
      expect(after.verify()).toMatchObject({ ok: true, records: 4 });
      expect(store.query({ actor: alice, limit: 10 }).map((r) => r.target)).toEqual(['t-1', 't-2', 't-3', 't-4']);
      expect(store.query({ projectId: project, target: 't-2', limit: 10 })).toHaveLength(1);
      after.close();
    } finally {
      migrated.close();
      rmSync(keys, { recursive: true, force: true });
    }
  });
});
