/**
 * De-identification jobs of the quarantine inbox (issue 15). A job is one
 * file that arrived in INBOX_DIR, known only by a keyed hash of its path,
 * size and modification time (the file name may be a patient's: it is never
 * stored); its study code; its state; and its report (JSON, which holds
 * field names and actions, never a removed value). The SQL is portable.
 */
import { WsiError } from '../../src/core/errors.js';
import { writeTransaction, type Db } from './database.js';

/** Migration 11: the inbox's jobs. */
export const DEID_JOB_SCHEMA = `
  CREATE TABLE deid_jobs (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    -- HMAC of the inbox path, size and mtime: finds the file again without naming it
    source_key TEXT NOT NULL UNIQUE,
    study_code TEXT NOT NULL,
    ext TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    -- queued → running → review (a verified copy waits) → approved | rejected; or refused | failed (the original stays)
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'review', 'approved', 'rejected', 'refused', 'failed')),
    report TEXT,
    error_code TEXT,
    -- the project slide made on approval
    project_slide_id TEXT,
    original TEXT CHECK (original IN ('quarantined', 'deleted', 'kept')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    decided_by TEXT,
    decided_at TEXT,
    UNIQUE (project_id, study_code)
  );
  CREATE INDEX deid_jobs_by_project ON deid_jobs (project_id, created_at);
`;

export type DeidJobState = 'queued' | 'running' | 'review' | 'approved' | 'rejected' | 'refused' | 'failed';

export interface DeidJob {
  id: string;
  projectId: string;
  sourceKey: string;
  studyCode: string;
  ext: string;
  bytes: number;
  state: DeidJobState;
  errorCode: string | null;
  projectSlideId: string | null;
  original: 'quarantined' | 'deleted' | 'kept';
  createdAt: string;
  updatedAt: string;
  decidedBy: string | null;
  decidedAt: string | null;
}

interface JobRow {
  id: string;
  project_id: string;
  source_key: string;
  study_code: string;
  ext: string;
  bytes: number;
  state: DeidJobState;
  report: string | null;
  error_code: string | null;
  project_slide_id: string | null;
  original: 'quarantined' | 'deleted' | 'kept' | null;
  created_at: string;
  updated_at: string;
  decided_by: string | null;
  decided_at: string | null;
}

const toJob = (r: JobRow): DeidJob => ({
  id: r.id,
  projectId: r.project_id,
  sourceKey: r.source_key,
  studyCode: r.study_code,
  ext: r.ext,
  bytes: r.bytes,
  state: r.state,
  errorCode: r.error_code,
  projectSlideId: r.project_slide_id,
  original: r.original ?? 'quarantined',
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  decidedBy: r.decided_by,
  decidedAt: r.decided_at,
});

export class DeidJobStore {
  constructor(private readonly db: Db) {}

  /** Adds a job for a newly seen file, numbering its study code `<prefix>-<n>` within the project; null when the file has one already. */
  add(j: { id: string; projectId: string; sourceKey: string; prefix: string; ext: string; bytes: number; now: string }): DeidJob | null {
    return writeTransaction(this.db, () => {
      if (this.db.prepare('SELECT 1 FROM deid_jobs WHERE source_key = ?').get(j.sourceKey)) return null;
      const n = (this.db.prepare('SELECT COUNT(*) AS n FROM deid_jobs WHERE project_id = ?').get(j.projectId) as { n: number }).n;
      let code = '';
      for (let k = n + 1; ; k++) {
        code = `${j.prefix}-${String(k).padStart(4, '0')}`;
        if (!this.db.prepare('SELECT 1 FROM deid_jobs WHERE project_id = ? AND study_code = ?').get(j.projectId, code)) break;
      }
      this.db
        .prepare(
          `INSERT INTO deid_jobs (id, project_id, source_key, study_code, ext, bytes, state, original, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, 'queued', 'quarantined', ?, ?)`,
        )
        .run(j.id, j.projectId, j.sourceKey, code, j.ext, j.bytes, j.now, j.now);
      return this.get(j.id);
    });
  }

  get(id: string): DeidJob | null {
    const r = this.db.prepare('SELECT * FROM deid_jobs WHERE id = ?').get(id) as JobRow | undefined;
    return r ? toJob(r) : null;
  }

  report(id: string): unknown {
    const r = this.db.prepare('SELECT report FROM deid_jobs WHERE id = ?').get(id) as { report: string | null } | undefined;
    return r?.report ? (JSON.parse(r.report) as unknown) : null;
  }

  list(projectId: string): DeidJob[] {
    return (this.db.prepare('SELECT * FROM deid_jobs WHERE project_id = ? ORDER BY created_at, id').all(projectId) as JobRow[]).map(toJob);
  }

  inState(state: DeidJobState): DeidJob[] {
    return (this.db.prepare('SELECT * FROM deid_jobs WHERE state = ? ORDER BY created_at, id').all(state) as JobRow[]).map(toJob);
  }

  /** Moves a job from one state to another; throws DEID_JOB_STATE when it is no longer in `from`. */
  transition(id: string, from: readonly DeidJobState[], to: DeidJobState, set: { report?: unknown; errorCode?: string | null; projectSlideId?: string; original?: DeidJob['original']; decidedBy?: string; now: string }): DeidJob {
    return writeTransaction(this.db, () => {
      const cur = this.get(id);
      if (!cur) throw new WsiError('DEID_JOB_NOT_FOUND', 'no such inbox job');
      if (!from.includes(cur.state)) throw new WsiError('DEID_JOB_STATE', `the job is ${cur.state}, not ${from.join(' or ')}`);
      this.db
        .prepare(
          `UPDATE deid_jobs SET state = ?, updated_at = ?,
             report = COALESCE(?, report), error_code = ?, project_slide_id = COALESCE(?, project_slide_id),
             original = COALESCE(?, original), decided_by = COALESCE(?, decided_by), decided_at = CASE WHEN CAST(? AS TEXT) IS NULL THEN decided_at ELSE ? END
           WHERE id = ?`,
        )
        .run(
          to,
          set.now,
          set.report === undefined ? null : JSON.stringify(set.report),
          set.errorCode === undefined ? cur.errorCode : set.errorCode,
          set.projectSlideId ?? null,
          set.original ?? null,
          set.decidedBy ?? null,
          set.decidedBy ?? null,
          set.decidedBy ? set.now : null,
          id,
        );
      return this.get(id) as DeidJob;
    });
  }

  setOriginal(id: string, original: DeidJob['original'], now: string): void {
    writeTransaction(this.db, () => {
      this.db.prepare('UPDATE deid_jobs SET original = ?, updated_at = ? WHERE id = ?').run(original, now, id);
    });
  }
}
