/**
 * The queries a class merge or rename needs (class-relabel-service.ts):
 * the live objects of a slide that carry a class, with their versions. The
 * class sits in the head version's JSON, so the query reads it with the
 * engine's JSON function (dialect.ts). A model's predictions are read-only
 * and are counted apart, never changed. The answer of a merge or rename is
 * kept under its Idempotency-Key in `operations` (scope `project:<id>`),
 * so a retry replays it.
 */
import { VISIBLE } from './annotation-store.js';
import type { Db } from './database.js';
import { dialectOf } from './dialect.js';

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
          WHERE a.slide_id = ? AND a.deleted = 0 AND ${VISIBLE} AND ${dialectOf(db).jsonText('h.data', 'classification')} = ?
          ORDER BY a.rowid`,
      ),
      getOp: db.prepare<[string], { slide_id: string; request_hash: string; status: number; response: string }>(`SELECT slide_id, request_hash, status, response FROM operations WHERE op_id = ?`),
      putOp: db.prepare(`INSERT INTO operations (op_id, slide_id, request_hash, status, response, at) VALUES (?, ?, ?, ?, ?, ?)`),
    };
  }

  /** The answer kept under an operation id: null if none; `reused` when the key was used for another request. */
  priorOp(opId: string, scope: string, hash: string): { status: number; body: Record<string, unknown> } | 'reused' | null {
    const prior = this.stmts.getOp.get(opId);
    if (!prior) return null;
    if (prior.request_hash !== hash || prior.slide_id !== scope) return 'reused';
    return { status: prior.status, body: JSON.parse(prior.response) as Record<string, unknown> };
  }

  /** Keeps an answer under its operation id (inside the write transaction). */
  putOp(opId: string, scope: string, hash: string, status: number, body: unknown): void {
    this.stmts.putOp.run(opId, scope, hash, status, JSON.stringify(body), new Date().toISOString());
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
