/**
 * The queries the regulatory report (issue 15) is built from, each under a
 * name: the report names, beside every figure, the query (its name, its
 * SQL and its parameters) that gave it, so a reader can run it again. Every
 * query orders its rows completely, so the same records always give the
 * same rows in the same order. The SQL is portable (no SQLite-only syntax).
 */
import type { Db } from './database.js';

export const REPORT_QUERIES = {
  project: `SELECT id, name, editing_mode, blind, all_slides, created_at FROM projects WHERE id = :project`,
  palette: `SELECT c.position, c.class_id, i.name, c.color, c.hotkey FROM project_classes c JOIN class_ids i ON i.id = c.class_id
    WHERE c.project_id = :project ORDER BY c.position, c.class_id`,
  protocol: `SELECT version, body, set_by, set_at FROM project_protocols WHERE project_id = :project ORDER BY version DESC LIMIT 1`,
  reviewSettings: `SELECT s.allow_self_review,
      (SELECT COUNT(*) FROM review_experts e WHERE e.project_id = :project) AS experts
    FROM review_settings s WHERE s.project_id = :project`,
  significant: `SELECT kind, value FROM review_significant WHERE project_id = :project ORDER BY kind, value`,
  experts: `SELECT e.user_id, u.username FROM review_experts e LEFT JOIN users u ON u.id = e.user_id WHERE e.project_id = :project ORDER BY e.user_id`,
  reasons: `SELECT code, label, retired_at FROM review_reasons WHERE project_id = :project ORDER BY code`,
  members: `SELECT m.user_id, u.username, u.display_name, m.role, m.added_at,
      q.version AS q_version, q.body AS q_text, q.qualified_on AS q_date, q.set_by AS q_set_by, q.set_at AS q_set_at
    FROM project_members m JOIN users u ON u.id = m.user_id
    LEFT JOIN member_qualifications q ON q.project_id = m.project_id AND q.user_id = m.user_id
      AND q.version = (SELECT MAX(v.version) FROM member_qualifications v WHERE v.project_id = m.project_id AND v.user_id = m.user_id)
    WHERE m.project_id = :project ORDER BY m.role, u.username, m.user_id`,
  projectSlides: `SELECT id, slide_id, study_code, added_at FROM project_slides WHERE project_id = :project ORDER BY study_code, id`,
  slideDescriptors: `SELECT d.project_slide_id, d.version, d.site, d.stain, d.set_by, d.set_at FROM slide_descriptors d
    WHERE d.project_id = :project AND d.version = (SELECT MAX(v.version) FROM slide_descriptors v WHERE v.project_id = d.project_id AND v.project_slide_id = d.project_slide_id)
    ORDER BY d.project_slide_id`,
  deidJobs: `SELECT id, study_code, state, project_slide_id, original, error_code, report FROM deid_jobs WHERE project_id = :project ORDER BY study_code, id`,
  reviewStates: `SELECT kind, state, COUNT(*) AS items FROM review_items WHERE project_id = :project GROUP BY kind, state ORDER BY kind, state`,
  reviewPerSlide: `SELECT slide_id, state, COUNT(*) AS items FROM review_items WHERE project_id = :project GROUP BY slide_id, state ORDER BY slide_id, state`,
  reviewDecisions: `SELECT e.action, e.expert, COUNT(*) AS events FROM review_events e JOIN review_items i ON i.id = e.item_id
    WHERE i.project_id = :project GROUP BY e.action, e.expert ORDER BY e.action, e.expert`,
  rejectionReasons: `SELECT e.reason, COUNT(*) AS events FROM review_events e JOIN review_items i ON i.id = e.item_id
    WHERE i.project_id = :project AND e.action = 'reject' GROUP BY e.reason ORDER BY e.reason`,
  modelRuns: `SELECT id, slide_id FROM model_runs WHERE project_id = :project ORDER BY created_at, id`,
  readings: `SELECT r.id, r.name, s.slide_id, s.roi_id FROM readings r JOIN reading_slides s ON s.reading_id = r.id
    WHERE r.project_id = :project ORDER BY r.created_at, r.id, s.slide_id, s.roi_id`,
  readingReaders: `SELECT rr.reading_id, rr.user_id, rr.submitted_at FROM reading_readers rr JOIN readings r ON r.id = rr.reading_id
    WHERE r.project_id = :project ORDER BY rr.reading_id, rr.user_id`,
} as const;

export type ReportQueryName = keyof typeof REPORT_QUERIES;

/** Where a figure of the report came from: a named query with its text and parameters, or a named computation over such rows. */
export interface FigureSource {
  query: string;
  sql?: string;
  computation?: string;
  params: Record<string, string | number | null>;
}

export function sqlSource(name: ReportQueryName, params: Record<string, string | number | null>): FigureSource {
  return { query: name, sql: REPORT_QUERIES[name].replace(/\s+/g, ' '), params };
}

export class ReportQueries {
  private readonly stmts = new Map<ReportQueryName, ReturnType<Db['prepare']>>();

  constructor(private readonly db: Db) {}

  /** The rows of one named query, with the project's id bound. */
  rows<T>(name: ReportQueryName, project: string): T[] {
    let s = this.stmts.get(name);
    if (!s) this.stmts.set(name, (s = this.db.prepare(REPORT_QUERIES[name])));
    return s.all({ project }) as T[];
  }
}
