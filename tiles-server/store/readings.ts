/**
 * Readings (issue 14): a set of a project's slides (or ROIs on them) that a
 * manager assigns to several readers, each of whom submits once. In a blind
 * project a reader sees only their own work until they submit; from then on
 * they see the others' work on that reading's slides (review-service.ts,
 * AccessService's `unblind`). Portable SQL, part of migration 9.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from './database.js';

export const READING_SCHEMA = `
  CREATE TABLE readings (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE INDEX readings_by_project ON readings (project_id);
  CREATE TABLE reading_slides (
    reading_id TEXT NOT NULL REFERENCES readings(id),
    -- a project-slide id
    slide_id TEXT NOT NULL,
    -- an ROI (annotation id) on it, or '' for the whole slide
    roi_id TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (reading_id, slide_id, roi_id)
  );
  CREATE INDEX reading_slides_by_slide ON reading_slides (slide_id);
  CREATE TABLE reading_readers (
    reading_id TEXT NOT NULL REFERENCES readings(id),
    user_id TEXT NOT NULL,
    submitted_at TEXT,
    PRIMARY KEY (reading_id, user_id)
  );
  CREATE INDEX reading_readers_by_user ON reading_readers (user_id);
`;

export interface Reading {
  id: string;
  projectId: string;
  name: string;
  createdBy: string;
  createdAt: string;
  slides: Array<{ slideId: string; roiId: string | null }>;
  readers: Array<{ userId: string; submittedAt: string | null }>;
}

export class ReadingStore {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      insert: db.prepare(`INSERT INTO readings (id, project_id, name, created_by, created_at) VALUES (?, ?, ?, ?, ?)`),
      addSlide: db.prepare(`INSERT INTO reading_slides (reading_id, slide_id, roi_id) VALUES (?, ?, ?)`),
      addReader: db.prepare(`INSERT INTO reading_readers (reading_id, user_id) VALUES (?, ?)`),
      get: db.prepare<[string], { id: string; project_id: string; name: string; created_by: string; created_at: string }>(`SELECT id, project_id, name, created_by, created_at FROM readings WHERE id = ?`),
      ofProject: db.prepare<[string], { id: string }>(`SELECT id FROM readings WHERE project_id = ? ORDER BY created_at, id`),
      ofReader: db.prepare<[string, string], { id: string }>(
        `SELECT r.id AS id FROM readings r JOIN reading_readers rr ON rr.reading_id = r.id WHERE r.project_id = ? AND rr.user_id = ? ORDER BY r.created_at, r.id`,
      ),
      slides: db.prepare<[string], { slide_id: string; roi_id: string }>(`SELECT slide_id, roi_id FROM reading_slides WHERE reading_id = ? ORDER BY slide_id, roi_id`),
      readers: db.prepare<[string], { user_id: string; submitted_at: string | null }>(`SELECT user_id, submitted_at FROM reading_readers WHERE reading_id = ? ORDER BY user_id`),
      submit: db.prepare(`UPDATE reading_readers SET submitted_at = ? WHERE reading_id = ? AND user_id = ? AND submitted_at IS NULL`),
      submittedOn: db.prepare<[string, string], { n: number }>(
        `SELECT COUNT(*) AS n FROM reading_readers rr JOIN reading_slides rs ON rs.reading_id = rr.reading_id WHERE rr.user_id = ? AND rs.slide_id = ? AND rr.submitted_at IS NOT NULL`,
      ),
    };
  }

  create(r: { projectId: string; name: string; createdBy: string; slides: Array<{ slideId: string; roiId: string | null }>; readers: string[] }): Reading {
    const id = randomUUID();
    this.stmts.insert.run(id, r.projectId, r.name, r.createdBy, new Date().toISOString());
    for (const s of r.slides) this.stmts.addSlide.run(id, s.slideId, s.roiId ?? '');
    for (const u of r.readers) this.stmts.addReader.run(id, u);
    return this.get(id) as Reading;
  }

  get(id: string): Reading | null {
    const r = this.stmts.get.get(id);
    if (!r) return null;
    return {
      id: r.id,
      projectId: r.project_id,
      name: r.name,
      createdBy: r.created_by,
      createdAt: r.created_at,
      slides: this.stmts.slides.all(id).map((s) => ({ slideId: s.slide_id, roiId: s.roi_id === '' ? null : s.roi_id })),
      readers: this.stmts.readers.all(id).map((x) => ({ userId: x.user_id, submittedAt: x.submitted_at })),
    };
  }

  ofProject(projectId: string): Reading[] {
    return this.stmts.ofProject.all(projectId).map((r) => this.get(r.id) as Reading);
  }

  ofReader(projectId: string, userId: string): Reading[] {
    return this.stmts.ofReader.all(projectId, userId).map((r) => this.get(r.id) as Reading);
  }

  /** Ends the reading for a reader; false when they had submitted already. */
  submit(readingId: string, userId: string): boolean {
    return this.stmts.submit.run(new Date().toISOString(), readingId, userId).changes === 1;
  }

  /** Whether the user has submitted a reading that holds this project slide. */
  submittedOn(userId: string, slideId: string): boolean {
    return (this.stmts.submittedOn.get(userId, slideId)?.n ?? 0) > 0;
  }
}
