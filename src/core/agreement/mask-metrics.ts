/**
 * Agreement between readers' label masks, computed exactly from the joint
 * counts of their labels (tuples.ts): per pair of readers the confusion
 * matrix, pixel accuracy, Cohen's kappa and per-class Dice and IoU; over all
 * readers Fleiss' kappa (three or more readers) and per-class means.
 *
 * Rules, stated once here:
 * - Class 0 ("unlabelled") is a class of its own (AGR-03): a pixel of the
 *   shared region that a reader left unpainted is that reader saying
 *   "unlabelled" there, counted in every matrix and kappa, never dropped.
 * - A value whose formula divides by zero is null, never 0 or NaN (AGR-01):
 *   Dice and IoU of a class neither reader of a pair used; Cohen's kappa
 *   when chance agreement is 1 (both readers gave one and the same class
 *   everywhere); Fleiss' kappa likewise; any metric of an empty region.
 * - Cohen's kappa is scikit-learn's `cohen_kappa_score` (unweighted), and
 *   Fleiss' kappa statsmodels' `fleiss_kappa` (method 'fleiss') over the
 *   pixels as subjects; tests/conformance/agreement-reference.test.ts
 *   checks both within 1e-9 (AGR-02).
 */
import { labelsOf, type TupleCounts } from './tuples.js';

export const UNLABELLED_RULE = 'class 0 (unlabelled) is a class of its own: a pixel of the region a reader left unpainted counts as that reader saying "unlabelled" there';

export interface ClassPairMetrics {
  class: number;
  /** Pixels reader a / reader b gave this class, and both. */
  a: number;
  b: number;
  both: number;
  /** 2·both / (a + b); null when neither used the class. */
  dice: number | null;
  /** both / (a + b − both); null when neither used the class. */
  iou: number | null;
}

export interface PairMetrics {
  /** Reader indices. */
  a: number;
  b: number;
  pixels: number;
  agree: number;
  pixelAccuracy: number | null;
  cohenKappa: number | null;
  /** Rows: reader a's class; columns: reader b's class; in the order of `classes`. */
  confusion: number[][];
  perClass: ClassPairMetrics[];
}

export interface ClassSummary {
  class: number;
  /** Pixels each reader gave this class. */
  pixels: number[];
  /** Means over the pairs where the value is defined; null when it is defined for none. */
  meanDice: number | null;
  meanIou: number | null;
}

export interface MaskAgreement {
  readers: number;
  pixels: number;
  /** Every class id any reader gave, ascending (0 included when present). */
  classes: number[];
  pairs: PairMetrics[];
  /** Fleiss' kappa over all readers (null for fewer than 3 readers, or when undefined). */
  fleissKappa: number | null;
  perClass: ClassSummary[];
  unlabelledRule: string;
}

function ratio(num: number, den: number): number | null {
  return den === 0 ? null : num / den;
}

function mean(values: Array<number | null>): number | null {
  const v = values.filter((x): x is number => x !== null);
  return v.length === 0 ? null : v.reduce((s, x) => s + x, 0) / v.length;
}

/** Cohen's kappa from a confusion matrix of counts (null when chance agreement is 1 or there are no pixels). */
export function cohenKappa(confusion: readonly (readonly number[])[]): number | null {
  const k = confusion.length;
  let n = 0;
  let agree = 0;
  const rows = new Array<number>(k).fill(0);
  const cols = new Array<number>(k).fill(0);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      const c = (confusion[i] as number[])[j] as number;
      n += c;
      rows[i] = (rows[i] as number) + c;
      cols[j] = (cols[j] as number) + c;
    }
    agree += (confusion[i] as number[])[i] as number;
  }
  if (n === 0) return null;
  let chance = 0;
  for (let i = 0; i < k; i++) chance += ((rows[i] as number) / n) * ((cols[i] as number) / n);
  const po = agree / n;
  return chance >= 1 ? null : (po - chance) / (1 - chance);
}

/** Fleiss' kappa over the tuples (each pixel a subject rated by every reader); null when undefined. */
export function fleissKappa(counts: TupleCounts, readers: number): number | null {
  if (readers < 2) return null;
  let subjects = 0;
  let agreementSum = 0; // Σ_i P_i
  const perClass = new Map<number, number>();
  for (const [key, n] of counts) {
    const labels = labelsOf(key, readers);
    const votes = new Map<number, number>();
    for (const l of labels) votes.set(l, (votes.get(l) ?? 0) + 1);
    let sq = 0;
    for (const [c, v] of votes) {
      sq += v * v;
      perClass.set(c, (perClass.get(c) ?? 0) + v * n);
    }
    agreementSum += (n * (sq - readers)) / (readers * (readers - 1));
    subjects += n;
  }
  if (subjects === 0) return null;
  const pMean = agreementSum / subjects;
  let pExp = 0;
  for (const v of perClass.values()) {
    const p = v / (subjects * readers);
    pExp += p * p;
  }
  return pExp >= 1 ? null : (pMean - pExp) / (1 - pExp);
}

/**
 * All the mask metrics of `readers` readers from their joint counts.
 * `include`: class ids to report even when no reader used them (a
 * palette's): their Dice and IoU are null.
 */
export function maskAgreement(counts: TupleCounts, readers: number, include: readonly number[] = []): MaskAgreement {
  const classSet = new Set<number>(include);
  let pixels = 0;
  for (const [key, n] of counts) {
    if (n <= 0) continue;
    pixels += n;
    for (const l of labelsOf(key, readers)) classSet.add(l);
  }
  const classes = [...classSet].sort((x, y) => x - y);
  const index = new Map(classes.map((c, i) => [c, i]));
  const K = classes.length;
  const perReader = Array.from({ length: readers }, () => new Array<number>(K).fill(0));
  const pairs: PairMetrics[] = [];
  const pairIndex: Array<[number, number]> = [];
  for (let a = 0; a < readers; a++) for (let b = a + 1; b < readers; b++) pairIndex.push([a, b]);
  const matrices = pairIndex.map(() => Array.from({ length: K }, () => new Array<number>(K).fill(0)));
  for (const [key, n] of counts) {
    if (n <= 0) continue;
    const labels = labelsOf(key, readers).map((l) => index.get(l) as number);
    for (let r = 0; r < readers; r++) (perReader[r] as number[])[labels[r] as number] += n;
    pairIndex.forEach(([a, b], p) => {
      ((matrices[p] as number[][])[labels[a] as number] as number[])[labels[b] as number] += n;
    });
  }
  pairIndex.forEach(([a, b], p) => {
    const m = matrices[p] as number[][];
    let agree = 0;
    for (let i = 0; i < K; i++) agree += (m[i] as number[])[i] as number;
    const perClass = classes.map((c, i): ClassPairMetrics => {
      const ca = (m[i] as number[]).reduce((s, x) => s + x, 0);
      const cb = m.reduce((s, row) => s + (row[i] as number), 0);
      const both = (m[i] as number[])[i] as number;
      return { class: c, a: ca, b: cb, both, dice: ratio(2 * both, ca + cb), iou: ratio(both, ca + cb - both) };
    });
    pairs.push({ a, b, pixels, agree, pixelAccuracy: ratio(agree, pixels), cohenKappa: cohenKappa(m), confusion: m, perClass });
  });
  const perClass = classes.map((c, i): ClassSummary => ({
    class: c,
    pixels: perReader.map((row) => row[i] as number),
    meanDice: mean(pairs.map((p) => (p.perClass[i] as ClassPairMetrics).dice)),
    meanIou: mean(pairs.map((p) => (p.perClass[i] as ClassPairMetrics).iou)),
  }));
  return { readers, pixels, classes, pairs, fleissKappa: readers >= 3 ? fleissKappa(counts, readers) : null, perClass, unlabelledRule: UNLABELLED_RULE };
}
