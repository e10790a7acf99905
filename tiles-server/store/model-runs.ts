/**
 * Model runs and their checked areas (issue 13). A model run is its own
 * record: the model's name and version, its parameters (JSON), which
 * project slide it ran on, who imported its predictions and when. Its
 * predictions are ordinary annotation rows (written by the import path,
 * store/import-staging.ts) that carry the run's id in `annotations.source`
 * and their score in `annotations.score`; they are read-only. A corrected
 * object is an annotation whose `parent` is the prediction it came from
 * (one at most per prediction: a unique partial index, as portable to
 * PostgreSQL as the rest). A checked area is a region an annotator marked
 * as fully reviewed for a run: objects added by hand inside it count as
 * the model's misses. The SQL here is portable; nothing SQLite-only.
 */
import { randomUUID } from 'node:crypto';
import { createHash } from 'node:crypto';
import type { Geometry } from '../../src/core/annotation.js';
import { geometryBounds } from '../../src/core/annotation.js';
import { WsiError } from '../../src/core/errors.js';
import { writeTransaction, type Db } from './database.js';

/** Migration 8: model runs, provenance columns on annotations, checked areas. */
export const MODEL_RUN_SCHEMA = `
  CREATE TABLE model_runs (
    id TEXT PRIMARY KEY,
    slide_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    model_name TEXT NOT NULL,
    model_version TEXT NOT NULL,
    parameters TEXT NOT NULL,
    score_key TEXT,
    -- 'pending' until its predictions are committed, then 'imported' (one prediction file per run)
    state TEXT NOT NULL CHECK (state IN ('pending', 'imported')),
    format TEXT,
    import_op TEXT,
    objects INTEGER NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    imported_by TEXT,
    imported_at TEXT
  );
  CREATE INDEX model_runs_by_slide ON model_runs (slide_id);
  -- NULL: made by hand; else the model run whose prediction this is (or was derived from)
  ALTER TABLE annotations ADD COLUMN source TEXT;
  -- the prediction a corrected object was derived from (NULL for predictions and manual objects)
  ALTER TABLE annotations ADD COLUMN parent TEXT;
  -- a prediction's score (0..1), NULL when the file gave none
  ALTER TABLE annotations ADD COLUMN score REAL;
  -- partial indexes (SQLite and PostgreSQL both have them): manual objects, most rows, add nothing to them
  CREATE INDEX annotations_by_source ON annotations (source) WHERE source IS NOT NULL;
  CREATE UNIQUE INDEX annotations_by_parent ON annotations (parent) WHERE parent IS NOT NULL;
  CREATE TABLE checked_areas (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES model_runs(id),
    slide_id TEXT NOT NULL,
    geometry TEXT NOT NULL,
    min_x REAL NOT NULL,
    min_y REAL NOT NULL,
    max_x REAL NOT NULL,
    max_y REAL NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    deleted_by TEXT,
    deleted_at TEXT
  );
  CREATE INDEX checked_areas_by_run ON checked_areas (run_id);
`;

export interface ModelRun {
  id: string;
  slideId: string;
  projectId: string;
  model: { name: string; version: string };
  parameters: Record<string, unknown>;
  scoreKey: string | null;
  state: 'pending' | 'imported';
  format: string | null;
  importOp: string | null;
  objects: number;
  createdBy: string;
  createdAt: string;
  importedBy: string | null;
  importedAt: string | null;
}

export interface CheckedArea {
  id: string;
  runId: string;
  geometry: Geometry;
  bbox: [number, number, number, number];
  createdBy: string;
  createdAt: string;
}

interface RunRow {
  id: string;
  slide_id: string;
  project_id: string;
  model_name: string;
  model_version: string;
  parameters: string;
  score_key: string | null;
  state: 'pending' | 'imported';
  format: string | null;
  import_op: string | null;
  objects: number;
  created_by: string;
  created_at: string;
  imported_by: string | null;
  imported_at: string | null;
}

function toRun(r: RunRow): ModelRun {
  return {
    id: r.id,
    slideId: r.slide_id,
    projectId: r.project_id,
    model: { name: r.model_name, version: r.model_version },
    parameters: JSON.parse(r.parameters) as Record<string, unknown>,
    scoreKey: r.score_key,
    state: r.state,
    format: r.format,
    importOp: r.import_op,
    objects: r.objects,
    createdBy: r.created_by,
    createdAt: r.created_at,
    importedBy: r.imported_by,
    importedAt: r.imported_at,
  };
}

export interface NewRun {
  slideId: string;
  projectId: string;
  name: string;
  version: string;
  parameters: Record<string, unknown>;
  scoreKey: string | null;
  author: string;
}

/** One prediction of a run with its corrected object's head, if any (what the report reads). */
export interface PredictionPair {
  id: string;
  score: number | null;
  /** The prediction's stored state (JSON). */
  data: string;
  corrected: { id: string; deleted: boolean; data: string; author: string; at: string; version: number } | null;
}

export class ModelRunStore {
  private readonly stmts;

  constructor(private readonly db: Db) {
    const RUN = `SELECT id, slide_id, project_id, model_name, model_version, parameters, score_key, state, format, import_op, objects, created_by, created_at, imported_by, imported_at FROM model_runs`;
    this.stmts = {
      insert: db.prepare(
        `INSERT INTO model_runs (id, slide_id, project_id, model_name, model_version, parameters, score_key, state, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
      ),
      get: db.prepare<[string], RunRow>(`${RUN} WHERE id = ?`),
      ofSlide: db.prepare<[string], RunRow>(`${RUN} WHERE slide_id = ? ORDER BY created_at, id`),
      getOp: db.prepare<[string], { slide_id: string; request_hash: string; status: number; response: string }>(`SELECT slide_id, request_hash, status, response FROM operations WHERE op_id = ?`),
      putOp: db.prepare(`INSERT INTO operations (op_id, slide_id, request_hash, status, response, at) VALUES (?, ?, ?, ?, ?, ?)`),
      imported: db.prepare(`UPDATE model_runs SET state = 'imported', format = ?, import_op = ?, objects = ?, imported_by = ?, imported_at = ? WHERE id = ? AND state = 'pending'`),
      insertArea: db.prepare(
        `INSERT INTO checked_areas (id, run_id, slide_id, geometry, min_x, min_y, max_x, max_y, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      areas: db.prepare<[string], { id: string; run_id: string; geometry: string; min_x: number; min_y: number; max_x: number; max_y: number; created_by: string; created_at: string }>(
        `SELECT id, run_id, geometry, min_x, min_y, max_x, max_y, created_by, created_at FROM checked_areas WHERE run_id = ? AND deleted_at IS NULL ORDER BY created_at, id`,
      ),
      removeArea: db.prepare(`UPDATE checked_areas SET deleted_by = ?, deleted_at = ? WHERE id = ? AND run_id = ? AND deleted_at IS NULL`),
      // predictions of a committed run, each with its corrected object's head (a LEFT JOIN on the unique parent index)
      pairs: db.prepare<
        [string, number, number],
        { rowid: number; id: string; score: number | null; data: string; c_id: string | null; c_deleted: number | null; c_data: string | null; c_author: string | null; c_at: string | null; c_version: number | null }
      >(
        `SELECT p.rowid AS rowid, p.id AS id, p.score AS score, ph.data AS data,
                c.id AS c_id, c.deleted AS c_deleted, ch.data AS c_data, ch.author AS c_author, ch.at AS c_at, c.version AS c_version
           FROM annotations p JOIN history ph ON ph.seq = p.head_seq
           LEFT JOIN annotations c ON c.parent = p.id
           LEFT JOIN history ch ON ch.seq = c.head_seq
          WHERE p.source = ? AND p.parent IS NULL AND p.rowid > ?
            AND p.import_job NOT IN (SELECT id FROM import_jobs WHERE state <> 'committed')
          ORDER BY p.rowid LIMIT ?`,
      ),
    };
  }

  get(id: string): ModelRun | null {
    const r = this.stmts.get.get(id);
    return r ? toRun(r) : null;
  }

  /** The run, when it belongs to this project slide; else 404 MODEL_RUN_NOT_FOUND (another slide's run is not shown). */
  ofSlide(slideId: string, id: string): ModelRun {
    const run = this.get(id);
    if (!run || run.slideId !== slideId) throw new WsiError('MODEL_RUN_NOT_FOUND', `no model run ${id} on this slide`);
    return run;
  }

  list(slideId: string): ModelRun[] {
    return this.stmts.ofSlide.all(slideId).map(toRun);
  }

  /**
   * Runs `fn` once per operation id: a retry with the same id and request
   * gets the first answer (replayed: true); the same id with another request
   * is refused. Recorded in the annotations' operations table.
   */
  idempotent(opId: string, slideId: string, request: unknown, fn: () => { status: number; body: Record<string, unknown> }): { status: number; body: Record<string, unknown> } {
    const hash = createHash('sha256').update(slideId).update('\0').update(JSON.stringify(request)).digest('hex');
    return writeTransaction(this.db, () => {
      const prior = this.stmts.getOp.get(opId);
      if (prior) {
        if (prior.request_hash !== hash || prior.slide_id !== slideId) throw new WsiError('IDEMPOTENCY_KEY_REUSED', `operation id ${opId} was already used for a different request`);
        return { status: prior.status, body: { ...(JSON.parse(prior.response) as Record<string, unknown>), replayed: true } };
      }
      const answer = fn();
      this.stmts.putOp.run(opId, slideId, hash, answer.status, JSON.stringify(answer.body), new Date().toISOString());
      return answer;
    });
  }

  /** Records a new run (pending until its predictions are imported). Call inside `idempotent`. */
  create(r: NewRun): ModelRun {
    const id = randomUUID();
    this.stmts.insert.run(id, r.slideId, r.projectId, r.name, r.version, JSON.stringify(r.parameters), r.scoreKey, r.author, new Date().toISOString());
    return this.get(id) as ModelRun;
  }

  /**
   * Marks a run imported, in the import's commit transaction; false when it
   * was not pending any more (another file was imported into it meanwhile).
   */
  markImported(runId: string, format: string, opId: string, objects: number, author: string): boolean {
    return this.stmts.imported.run(format, opId, objects, author, new Date().toISOString(), runId).changes === 1;
  }

  addArea(runId: string, slideId: string, geometry: Geometry, author: string): CheckedArea {
    const id = randomUUID();
    const [x0, y0, x1, y1] = geometryBounds(geometry);
    const at = new Date().toISOString();
    this.stmts.insertArea.run(id, runId, slideId, JSON.stringify(geometry), x0, y0, x1, y1, author, at);
    return { id, runId, geometry, bbox: [x0, y0, x1, y1], createdBy: author, createdAt: at };
  }

  areas(runId: string): CheckedArea[] {
    return this.stmts.areas.all(runId).map((a) => ({
      id: a.id,
      runId: a.run_id,
      geometry: JSON.parse(a.geometry) as Geometry,
      bbox: [a.min_x, a.min_y, a.max_x, a.max_y],
      createdBy: a.created_by,
      createdAt: a.created_at,
    }));
  }

  /** Withdraws a checked area (kept, with who withdrew it and when); false when there is no such live area. */
  removeArea(runId: string, areaId: string, author: string): boolean {
    return this.stmts.removeArea.run(author, new Date().toISOString(), areaId, runId).changes === 1;
  }

  /** Every prediction of a run with its corrected object, in pages of `page` (constant memory). */
  *pairs(runId: string, page = 5000): Generator<PredictionPair> {
    let after = 0;
    for (;;) {
      const rows = this.stmts.pairs.all(runId, after, page);
      for (const r of rows) {
        yield {
          id: r.id,
          score: r.score,
          data: r.data,
          corrected:
            r.c_id === null
              ? null
              : { id: r.c_id, deleted: r.c_deleted === 1, data: r.c_data as string, author: r.c_author as string, at: r.c_at as string, version: r.c_version as number },
        };
      }
      if (rows.length < page) return;
      after = (rows[rows.length - 1] as { rowid: number }).rowid;
    }
  }
}
