/**
 * The queries a class merge or rename needs (class-relabel-service.ts):
 * the live objects of a slide that carry a class, with their versions. The
 * class sits in the head version's JSON, so the query reads it with
 * SQLite's json_extract; it stays in this module (PostgreSQL:
 * (h.data::jsonb)->>'classification'). A model's predictions are read-only
 * and are counted apart, never changed.
 */
import { VISIBLE } from './annotation-store.js';
import type { Db } from './database.js';

export interface ClassObjects {
  /** The objects to relabel: id and current version. */
  editable: Array<{ id: string; version: number }>;
  /** Predictions of a model run with the class (read-only: left as they are). */
  predictions: number;
}

export class ClassRelabelQueries {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      objects: db.prepare<[string, string], { id: string; version: number; prediction: number }>(
        `SELECT a.id, a.version, (a.source IS NOT NULL AND a.parent IS NULL) AS prediction
           FROM annotations a JOIN history h ON h.seq = a.head_seq
          WHERE a.slide_id = ? AND a.deleted = 0 AND ${VISIBLE} AND json_extract(h.data, '$.classification') = ?
          ORDER BY a.rowid`,
      ),
    };
  }

  /** A slide's live objects of class `name`. */
  objectsOf(slideId: string, name: string): ClassObjects {
    const out: ClassObjects = { editable: [], predictions: 0 };
    for (const r of this.stmts.objects.iterate(slideId, name)) {
      if (r.prediction) out.predictions++;
      else out.editable.push({ id: r.id, version: r.version });
    }
    return out;
  }
}
