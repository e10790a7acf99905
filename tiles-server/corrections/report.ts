/**
 * The corrections report of one model run, counted from the objects
 * themselves (every prediction and its corrected object, read in pages):
 * per class of the model, how many predictions were left untouched,
 * accepted, edited (outline only), relabelled (class only), both, or
 * rejected; the relabel matrix (model class → final class); the IoU of the
 * final outline against the model's for every object whose outline changed;
 * the model's misses (objects added by hand inside the run's checked areas);
 * and the same counts per annotator (who made the decision that stands).
 */
import type { Annotation, AnnotationInput } from '../../src/core/annotation.js';
import { geometryBounds } from '../../src/core/annotation.js';
import type { AnnotationStore } from '../store/annotation-store.js';
import type { ModelRun, ModelRunStore } from '../store/model-runs.js';
import type { CorrectionCounts, CorrectionReport as CorrectionReportOf, IouSummary } from '../../src/core/corrections-report.js';
import { correctionState, iou, pointInside } from './correction-state.js';

type Counts = CorrectionCounts;

export type { IouSummary };
/** The report as the server builds it: the whole run record (src/core/corrections-report.ts has the shape). */
export type CorrectionReport = CorrectionReportOf<ModelRun>;

const NONE = '(none)';

function zero(): Counts {
  return { untouched: 0, accepted: 0, edited: 0, relabelled: 0, both: 0, rejected: 0, missed: 0 };
}

function histogram(values: number[]): number[] {
  const bins = new Array<number>(10).fill(0);
  for (const v of values) {
    // a hair above, so an IoU computed as 0.59999… lands with 0.6
    const b = Math.min(9, Math.floor(v * 10 + 1e-9));
    bins[b] = (bins[b] as number) + 1;
  }
  return bins;
}

function summarise(values: number[], unmeasured: number): IouSummary {
  if (values.length === 0) return { objects: 0, unmeasured, mean: null, median: null, min: null, max: null, histogram: histogram([]) };
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { objects: values.length, unmeasured, mean: values.reduce((s, v) => s + v, 0) / values.length, median, min: sorted[0] as number, max: sorted[sorted.length - 1] as number, histogram: histogram(sorted) };
}

/**
 * Objects made by hand (not derived from any prediction) whose centre lies
 * in one of the run's checked areas and that were made once the run's
 * predictions were there: what the model missed.
 */
function misses(run: ModelRun, runs: ModelRunStore, store: AnnotationStore): Annotation[] {
  if (run.importedAt === null) return [];
  const found = new Map<string, Annotation>();
  for (const area of runs.areas(run.id)) {
    let after = 0;
    for (;;) {
      const page = store.list(run.slideId, { bbox: area.bbox, after, limit: 5000 });
      for (const a of page.annotations) {
        if (a.source !== 'manual' || a.createdAt < run.importedAt || found.has(a.id)) continue;
        const [x0, y0, x1, y1] = geometryBounds(a.geometry);
        if (pointInside((x0 + x1) / 2, (y0 + y1) / 2, area.geometry)) found.set(a.id, a);
      }
      if (page.next === null) break;
      after = page.next;
    }
  }
  return [...found.values()];
}

export function correctionReport(run: ModelRun, runs: ModelRunStore, store: AnnotationStore): CorrectionReport {
  const counts = zero();
  const perClass: CorrectionReport['perClass'] = {};
  const classIou = new Map<string, { values: number[]; unmeasured: number }>();
  const allIou: number[] = [];
  let unmeasured = 0;
  const relabelMatrix: CorrectionReport['relabelMatrix'] = {};
  const perAnnotator: CorrectionReport['perAnnotator'] = {};
  const annotator = (id: string): Omit<Counts, 'untouched'> => (perAnnotator[id] ??= { accepted: 0, edited: 0, relabelled: 0, both: 0, rejected: 0, missed: 0 });
  const classOf = (name: string): Counts & { predictions: number; iou: IouSummary } =>
    (perClass[name] ??= { ...zero(), predictions: 0, iou: summarise([], 0) });
  let predictions = 0;
  if (run.state === 'imported') {
    for (const pair of runs.pairs(run.id)) {
      predictions++;
      const pred = JSON.parse(pair.data) as AnnotationInput;
      const corrected = pair.corrected ? { ...(JSON.parse(pair.corrected.data) as AnnotationInput), deleted: pair.corrected.deleted } : null;
      const state = correctionState(pred, corrected);
      const cls = pred.classification ?? NONE;
      const c = classOf(cls);
      c.predictions++;
      c[state]++;
      counts[state]++;
      if (state !== 'untouched' && pair.corrected) annotator(pair.corrected.author)[state]++;
      if ((state === 'relabelled' || state === 'both') && corrected) {
        const to = corrected.classification ?? NONE;
        const row = (relabelMatrix[cls] ??= {});
        row[to] = (row[to] ?? 0) + 1;
      }
      if ((state === 'edited' || state === 'both') && corrected) {
        const v = iou(pred.geometry, corrected.geometry);
        const acc = classIou.get(cls) ?? { values: [], unmeasured: 0 };
        classIou.set(cls, acc);
        if (v === null) {
          unmeasured++;
          acc.unmeasured++;
        } else {
          allIou.push(v);
          acc.values.push(v);
        }
      }
    }
  }
  for (const a of misses(run, runs, store)) {
    counts.missed++;
    classOf(a.classification ?? NONE).missed++;
    annotator(a.createdBy).missed++;
  }
  for (const [cls, acc] of classIou) classOf(cls).iou = summarise(acc.values, acc.unmeasured);
  return {
    run,
    predictions,
    counts,
    corrected: counts.edited + counts.relabelled + counts.both + counts.rejected,
    perClass,
    relabelMatrix,
    iou: summarise(allIou, unmeasured),
    perAnnotator,
    checkedAreas: runs.areas(run.id).length,
    generatedAt: new Date().toISOString(),
  };
}
