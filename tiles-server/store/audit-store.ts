/**
 * The audit log's rows: an append-only table whose triggers refuse UPDATE
 * and DELETE, and the signed checkpoints of its hash chain. The chain itself
 * (what is hashed, how it is verified) lives in audit/audit-log.ts; this
 * module only stores and reads rows, behind an interface a PostgreSQL store
 * can implement too. Rows are compact (times in ms, digests as 32-byte
 * blobs, ids only), because every slide view and change writes one.
 */
import type { Db } from './database.js';

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
  prevHash: Buffer;
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
  /** Appends records (already chained), in one transaction with the caller's. */
  insert(records: AuditRecord[]): void;
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

interface Row {
  seq: number;
  at: number;
  actor: string | null;
  action: string;
  outcome: AuditOutcome;
  project_id: string | null;
  target: string | null;
  detail: string;
  ip: string | null;
  prev_hash: Buffer;
  hash: Buffer;
}

const toRecord = (r: Row): AuditRecord => ({
  seq: r.seq,
  at: r.at,
  actor: r.actor,
  action: r.action,
  outcome: r.outcome,
  projectId: r.project_id,
  target: r.target,
  detail: r.detail,
  ip: r.ip,
  prevHash: r.prev_hash,
  hash: r.hash,
});

export class SqliteAuditStore implements AuditStore {
  private readonly s;

  constructor(private readonly db: Db) {
    this.s = {
      last: db.prepare<[], Row>(`SELECT * FROM audit_log ORDER BY seq DESC LIMIT 1`),
      insert: db.prepare(
        `INSERT INTO audit_log (seq, at, actor, action, outcome, project_id, target, detail, ip, prev_hash, hash)
         VALUES (@seq, @at, @actor, @action, @outcome, @project_id, @target, @detail, @ip, @prev_hash, @hash)`,
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

  insert(records: AuditRecord[]): void {
    const run = this.db.transaction((rows: AuditRecord[]) => {
      for (const r of rows) {
        this.s.insert.run({
          seq: r.seq,
          at: r.at,
          actor: r.actor,
          action: r.action,
          outcome: r.outcome,
          project_id: r.projectId,
          target: r.target,
          detail: r.detail,
          ip: r.ip,
          prev_hash: r.prevHash,
          hash: r.hash,
        });
      }
    });
    run(records);
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
    if (q.actor !== undefined) add('actor = ?', q.actor);
    if (q.projectId !== undefined) add('project_id = ?', q.projectId);
    if (q.target !== undefined) add('target = ?', q.target);
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
