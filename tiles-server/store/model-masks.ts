/**
 * The AI masks of model runs (issue 13): which run's output is a mask (its
 * form, placement and the probability threshold it was cut at, the pixels
 * per class, who imported it and when, under which operation), and the
 * corrected layers derived from it — one per annotator, their own mask,
 * seeded with a copy of the model's (model-mask-service.ts). The pixels
 * themselves are ordinary mask tiles (mask-store.ts) under the annotator
 * `@model:<run>`. The SQL is portable; nothing SQLite-only.
 */
import type { Db } from './database.js';

/** Migration 15. */
export const MODEL_MASK_SCHEMA = `
  CREATE TABLE model_masks (
    run_id TEXT PRIMARY KEY REFERENCES model_runs(id),
    slide_id TEXT NOT NULL,
    form TEXT NOT NULL CHECK (form IN ('label-image', 'probability-maps')),
    downsample INTEGER NOT NULL,
    -- probability maps: the least winning probability that labels a pixel (below it: unlabelled)
    min_probability REAL,
    image_width INTEGER NOT NULL,
    image_height INTEGER NOT NULL,
    pixels TEXT NOT NULL,
    op_id TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE TABLE model_mask_corrections (
    run_id TEXT NOT NULL REFERENCES model_runs(id),
    annotator TEXT NOT NULL,
    slide_id TEXT NOT NULL,
    op_id TEXT NOT NULL,
    tiles INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (run_id, annotator)
  );
  CREATE INDEX model_mask_corrections_by_annotator ON model_mask_corrections (slide_id, annotator);
`;

export interface ModelMask {
  runId: string;
  slideId: string;
  form: 'label-image' | 'probability-maps';
  downsample: number;
  minProbability: number | null;
  image: { width: number; height: number };
  pixels: Record<string, number>;
  opId: string;
  createdBy: string;
  createdAt: string;
}

export interface CorrectedLayer {
  runId: string;
  annotator: string;
  opId: string;
  tiles: number;
  createdAt: string;
}

interface MaskRow {
  run_id: string;
  slide_id: string;
  form: ModelMask['form'];
  downsample: number;
  min_probability: number | null;
  image_width: number;
  image_height: number;
  pixels: string;
  op_id: string;
  created_by: string;
  created_at: string;
}

export class ModelMaskStore {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      insert: db.prepare(
        `INSERT INTO model_masks (run_id, slide_id, form, downsample, min_probability, image_width, image_height, pixels, op_id, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      get: db.prepare<[string], MaskRow>(`SELECT * FROM model_masks WHERE run_id = ?`),
      insertCorrected: db.prepare(`INSERT INTO model_mask_corrections (run_id, annotator, slide_id, op_id, tiles, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
      corrected: db.prepare<[string], { run_id: string; annotator: string; op_id: string; tiles: number; created_at: string }>(
        `SELECT run_id, annotator, op_id, tiles, created_at FROM model_mask_corrections WHERE run_id = ? ORDER BY created_at, annotator`,
      ),
      correctedBy: db.prepare<[string, string], { run_id: string }>(`SELECT run_id FROM model_mask_corrections WHERE slide_id = ? AND annotator = ?`),
    };
  }

  /** Records a run's mask (inside the import's transaction). */
  add(m: ModelMask): void {
    this.stmts.insert.run(m.runId, m.slideId, m.form, m.downsample, m.minProbability, m.image.width, m.image.height, JSON.stringify(m.pixels), m.opId, m.createdBy, m.createdAt);
  }

  get(runId: string): ModelMask | null {
    const r = this.stmts.get.get(runId);
    if (!r) return null;
    return {
      runId: r.run_id,
      slideId: r.slide_id,
      form: r.form,
      downsample: r.downsample,
      minProbability: r.min_probability,
      image: { width: r.image_width, height: r.image_height },
      pixels: JSON.parse(r.pixels) as Record<string, number>,
      opId: r.op_id,
      createdBy: r.created_by,
      createdAt: r.created_at,
    };
  }

  /** Records an annotator's corrected layer of a run (inside the copy's transaction). */
  addCorrected(runId: string, slideId: string, annotator: string, opId: string, tiles: number, at: string): void {
    this.stmts.insertCorrected.run(runId, annotator, slideId, opId, tiles, at);
  }

  corrected(runId: string): CorrectedLayer[] {
    return this.stmts.corrected.all(runId).map((r) => ({ runId: r.run_id, annotator: r.annotator, opId: r.op_id, tiles: r.tiles, createdAt: r.created_at }));
  }

  /** The run whose corrected layer this annotator's mask of the slide is, or null. */
  correctedRunOf(slideId: string, annotator: string): string | null {
    return this.stmts.correctedBy.get(slideId, annotator)?.run_id ?? null;
  }
}
