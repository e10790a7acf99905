/**
 * The corrections report of a model run (issue 13, docs/ai-corrections.md)
 * as the server sends it and the report page reads it: one home for its
 * shape, so the server (tiles-server/corrections/) and the page
 * (src/ui/corrections-report.ts) cannot drift apart. The object part
 * counts what happened to each prediction; the mask part (AI masks) is the
 * per-pixel confusion of the model's mask against each annotator's
 * corrected mask.
 */

/** What happened to a prediction (decided in tiles-server/corrections/correction-state.ts). */
export type CorrectionState = 'untouched' | 'accepted' | 'edited' | 'relabelled' | 'both' | 'rejected';

export type CorrectionCounts = Record<CorrectionState | 'missed', number>;

export interface IouSummary {
  /** Objects whose outline changed and whose IoU could be measured (polygons with area). */
  objects: number;
  /** Outlines changed but not measurable (points, lines, crossing outlines). */
  unmeasured: number;
  mean: number | null;
  median: number | null;
  min: number | null;
  max: number | null;
  /** Measured objects per tenth of IoU: [0, 0.1), [0.1, 0.2) … [0.9, 1] (the report page plots it). */
  histogram: number[];
}

/** The part of a model run the report names (the server sends the whole run record). */
export interface CorrectionRunSummary {
  id: string;
  model: { name: string; version: string };
  importedAt: string | null;
  importedBy?: string | null;
  objects: number;
  format: string | null;
}

/**
 * A pixel confusion: `matrix[modelClassId][finalClassId]` = level-0 pixels
 * (class id 0: unlabelled), and what follows from it.
 */
export interface MaskConfusion {
  /** Every pixel counted (the slide's, or the ROI's): the matrix's total. */
  pixels: number;
  /** Pixels whose final class differs from the model's. */
  changed: number;
  matrix: Record<string, Record<string, number>>;
  /**
   * Per class id (model or final): `model` pixels the model gave it, `final`
   * pixels it has after correction, `kept` both, `changedFrom` model pixels
   * of it given another class (or unlabelled), `changedTo` pixels given it
   * that the model gave another class (or left unlabelled), and `errorRate`
   * = changedFrom / model (null when the model gave it no pixel).
   */
  perClass: Record<string, { model: number; final: number; kept: number; changedFrom: number; changedTo: number; errorRate: number | null }>;
}

/** One annotator's corrected mask against the model's: the whole slide, and each live checked area of the run. */
export interface MaskCorrection {
  annotator: string;
  derivedAt: string;
  slide: MaskConfusion;
  checkedAreas: Array<{ id: string; confusion: MaskConfusion }>;
}

/** The mask part of the report: absent (null) for a run whose output is objects. */
export interface MaskCorrectionReport {
  /** The model's read-only layer (mask annotator). */
  layer: string;
  form: 'label-image' | 'probability-maps';
  downsample: number;
  minProbability: number | null;
  /** Class id → name and colour (the project's palette; removed classes marked). */
  classes: Array<{ id: number; name: string; color: string; removed?: true }>;
  /** Pixels per class id of the model's layer. */
  modelPixels: Record<string, number>;
  corrections: MaskCorrection[];
}

export interface CorrectionReport<Run extends CorrectionRunSummary = CorrectionRunSummary> {
  run: Run;
  predictions: number;
  counts: CorrectionCounts;
  /** Predictions a person changed or removed: edited + relabelled + both + rejected. */
  corrected: number;
  perClass: Record<string, CorrectionCounts & { predictions: number; iou: IouSummary }>;
  /** Model class → final class → objects (relabelled and both). */
  relabelMatrix: Record<string, Record<string, number>>;
  iou: IouSummary;
  perAnnotator: Record<string, Omit<CorrectionCounts, 'untouched'>>;
  checkedAreas: number;
  /** The AI mask's corrections, when the run's output is a mask (older servers leave it out). */
  mask?: MaskCorrectionReport | null;
  generatedAt: string;
}

/** The confusion's derived figures from its matrix (one rule for the server and any reader of the JSON). */
export function confusionFromMatrix(matrix: Record<string, Record<string, number>>): MaskConfusion {
  let pixels = 0;
  let changed = 0;
  const perClass: MaskConfusion['perClass'] = {};
  const at = (id: string): MaskConfusion['perClass'][string] => (perClass[id] ??= { model: 0, final: 0, kept: 0, changedFrom: 0, changedTo: 0, errorRate: null });
  for (const [from, row] of Object.entries(matrix)) {
    for (const [to, n] of Object.entries(row)) {
      if (n === 0) continue;
      pixels += n;
      at(from).model += n;
      at(to).final += n;
      if (from === to) at(from).kept += n;
      else {
        changed += n;
        at(from).changedFrom += n;
        at(to).changedTo += n;
      }
    }
  }
  for (const c of Object.values(perClass)) c.errorRate = c.model > 0 ? c.changedFrom / c.model : null;
  return { pixels, changed, matrix, perClass };
}
