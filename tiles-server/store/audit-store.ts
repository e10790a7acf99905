/**
 * The audit log's rows: an append-only table whose triggers refuse UPDATE
 * and DELETE, and the signed checkpoints of its hash chain. The chain itself
 * (what is hashed, how it is verified) lives in audit/audit-log.ts; this
 * module only stores and reads rows, behind an interface a PostgreSQL store
 * can implement too. Rows are compact, because every slide view and change
 * writes one: times in ms, the record's digest as a 32-byte blob (the link
 * to the record before is inside it, so it is not stored again), ids only,
 * and UUIDs as 16-byte blobs (a SQLite detail of this module: readers get
 * the text form back, and the chain hashes the text form; PostgreSQL keeps
 * them as text, its columns having one type).
 */
import type { Db } from './database.js';
import { engineOf } from './engine.js';

export type AuditOutcome = 'ok' | 'denied' | 'failed';

export interface AuditRecord {
  seq: number;
  /** Milliseconds since the epoch. */
  at: number;
  /** User id, or null for an anonymous request. */
  actor: string | null;
  action: string;
  outcome: AuditOutcome;
  projectId: string | null;
  /** What the action was on: a project slide, an annotation, a user, an operation id… (ids only). */
  target: string | null;
  /** Ids and counts only, as JSON (never names, file names or secrets). */
  detail: string;
  ip: string | null;
  /** SHA-256 over the hash of the record before and this record's fields (audit/audit-log.ts). */
  hash: Buffer;
}

export interface Checkpoint {
  seq: number;
  hash: Buffer;
  mac: Buffer;
  at: number;
}

export interface AuditQuery {
  actor?: string;
  projectId?: string;
  target?: string;
  action?: string;
  fromMs?: number;
  toMs?: number;
  afterSeq?: number;
  limit: number;
}

export interface AuditStore {
  /** The last record, or null for an empty log. */
  last(): AuditRecord | null;
  /**
   * Chains and appends records, in one transaction with the caller's: `chain`
   * gets the last record and returns the records that follow it. The chain's
   * lock is held from that read to the commit, so writers on other
   * connections (other server replicas on one PostgreSQL, another process on
   * one SQLite file) append one after the other and the log stays one chain.
   */
  append(chain: (last: AuditRecord | null) => AuditRecord[]): AuditRecord[];
  /** Records in sequence order from `fromSeq`, in pages. */
  scan(fromSeq: number, limit: number): AuditRecord[];
  query(q: AuditQuery): AuditRecord[];
  count(): number;
  addCheckpoint(c: Checkpoint): void;
  checkpoints(): Checkpoint[];
  lastCheckpoint(): Checkpoint | null;
}

export const AUDIT_SCHEMA = `
  CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')),
    project_id TEXT,
    target TEXT,
    detail TEXT NOT NULL,
    ip TEXT,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL
  );
  CREATE INDEX audit_by_actor ON audit_log (actor, seq);
  CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
  CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
  CREATE TABLE audit_checkpoints (
    seq INTEGER PRIMARY KEY,
    hash BLOB NOT NULL,
    mac BLOB NOT NULL,
    at INTEGER NOT NULL
  );
  CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
  CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
`;

/**
 * Schema version 6: the audit log without the copy of the previous record's
 * hash (each record's own hash already covers it), and with columns that
 * take 16-byte UUIDs. Records kept from version 5 keep their text ids.
 */
export const AUDIT_COMPACT_SCHEMA = `
  CREATE TABLE audit_log_v6 (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor BLOB,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')),
    project_id BLOB,
    target BLOB,
    detail TEXT NOT NULL,
    ip TEXT,
    hash BLOB NOT NULL
  );
  INSERT INTO audit_log_v6 SELECT seq, at, actor, action, outcome, project_id, target, detail, ip, hash FROM audit_log;
  DROP TABLE audit_log;
  ALTER TABLE audit_log_v6 RENAME TO audit_log;
  CREATE INDEX audit_by_actor ON audit_log (actor, seq);
  CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
  CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** An id as stored: a lower-case UUID as its 16 bytes, anything else as it is. */
function packId(id: string | null): string | Buffer | null {
  return id !== null && UUID.test(id) ? Buffer.from(id.replace(/-/g, ''), 'hex') : id;
}

function unpackId(v: string | Buffer | null): string | null {
  if (v === null || typeof v === 'string') return v;
  const h = v.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

interface Row {
  seq: number;
  at: number;
  actor: string | Buffer | null;
  action: string;
  outcome: AuditOutcome;
  project_id: string | Buffer | null;
  target: string | Buffer | null;
  detail: string;
  ip: string | null;
  hash: Buffer;
}

const toRecord = (r: Row): AuditRecord => ({
  seq: r.seq,
  at: r.at,
  actor: unpackId(r.actor),
  action: r.action,
  outcome: r.outcome,
  projectId: unpackId(r.project_id),
  target: unpackId(r.target),
  detail: r.detail,
  ip: r.ip,
  hash: r.hash,
});

export class SqliteAuditStore implements AuditStore {
  private readonly s;
  private readonly pack: (id: string | null) => string | Buffer | null;

  constructor(private readonly db: Db) {
    this.pack = engineOf(db) === 'postgres' ? (id) => id : packId;
    this.s = {
      last: db.prepare<[], Row>(`SELECT * FROM audit_log ORDER BY seq DESC LIMIT 1`),
      insert: db.prepare(
        `INSERT INTO audit_log (seq, at, actor, action, outcome, project_id, target, detail, ip, hash)
         VALUES (@seq, @at, @actor, @action, @outcome, @project_id, @target, @detail, @ip, @hash)`,
      ),
      scan: db.prepare<[number, number], Row>(`SELECT * FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT ?`),
      count: db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM audit_log`),
      addCheckpoint: db.prepare(`INSERT INTO audit_checkpoints (seq, hash, mac, at) VALUES (@seq, @hash, @mac, @at)`),
      checkpoints: db.prepare<[], Checkpoint>(`SELECT seq, hash, mac, at FROM audit_checkpoints ORDER BY seq`),
      lastCheckpoint: db.prepare<[], Checkpoint>(`SELECT seq, hash, mac, at FROM audit_checkpoints ORDER BY seq DESC LIMIT 1`),
    };
  }

  last(): AuditRecord | null {
    const r = this.s.last.get();
    return r ? toRecord(r) : null;
  }

  append(chain: (last: AuditRecord | null) => AuditRecord[]): AuditRecord[] {
    // immediate: the store's write lock (SQLite's at BEGIN IMMEDIATE, PostgreSQL's advisory lock: pg-db.ts) is held from the read of the last record to the commit
    const run = this.db.transaction((): AuditRecord[] => {
      const records = chain(this.last());
      for (const r of records) {
        this.s.insert.run({
          seq: r.seq,
          at: r.at,
          actor: this.pack(r.actor),
          action: r.action,
          outcome: r.outcome,
          project_id: this.pack(r.projectId),
          target: this.pack(r.target),
          detail: r.detail,
          ip: r.ip,
          hash: r.hash,
        });
      }
      return records;
    });
    return run.immediate();
  }

  scan(fromSeq: number, limit: number): AuditRecord[] {
    return this.s.scan.all(fromSeq, limit).map(toRecord);
  }

  query(q: AuditQuery): AuditRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (sql: string, v: unknown): void => {
      where.push(sql);
      args.push(v);
    };
    // an id is stored packed, or as text in records from before schema version 6
    const id = (column: string, v: string): void => {
      where.push(`${column} IN (?, ?)`);
      args.push(this.pack(v), v);
    };
    if (q.actor !== undefined) id('actor', q.actor);
    if (q.projectId !== undefined) id('project_id', q.projectId);
    if (q.target !== undefined) id('target', q.target);
    if (q.action !== undefined) add('action = ?', q.action);
    if (q.fromMs !== undefined) add('at >= ?', q.fromMs);
    if (q.toMs !== undefined) add('at < ?', q.toMs);
    if (q.afterSeq !== undefined) add('seq > ?', q.afterSeq);
    const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq LIMIT ?`;
    return (this.db.prepare(sql).all(...args, q.limit) as Row[]).map(toRecord);
  }

  count(): number {
    return this.s.count.get()?.n ?? 0;
  }

  addCheckpoint(c: Checkpoint): void {
    this.s.addCheckpoint.run(c);
  }

  checkpoints(): Checkpoint[] {
    return this.s.checkpoints.all();
  }

  lastCheckpoint(): Checkpoint | null {
    return this.s.lastCheckpoint.get() ?? null;
  }
}
