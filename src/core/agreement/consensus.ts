/**
 * Consensus of several readers' label masks: majority vote, where a tie
 * stays undecided, and multi-class STAPLE (Warfield, Zou & Wells 2004,
 * "Simultaneous truth and performance level estimation", IEEE TMI 23(7)),
 * whose EM estimates each reader's confusion matrix — P(reader says s |
 * true class t), hence each reader's per-class sensitivity and specificity —
 * and each pixel's posterior class distribution. Both are a proposal; a
 * reviewer decides what becomes the reference.
 *
 * STAPLE works on the readers' joint counts (tuples.ts): pixels with the
 * same labels from every reader get the same posterior, so each EM step
 * costs one pass over the distinct tuples instead of over the pixels, and
 * the result is the same as the per-pixel EM (the test checks against a
 * plain per-pixel EM within 1e-6). The choices, stated:
 * - the class prior f(t) is fixed: the share of all the readers' labels
 *   that are t (as ITK's MultiLabelSTAPLE does);
 * - the EM starts from the votes: W_i(t) = (readers who said t at i) / R;
 * - M-step: θ_r[s][t] = Σ_i W_i(t)[D_ri = s] / Σ_i W_i(t) (a class no pixel
 *   gives weight to gets a uniform column);
 * - E-step: W_i(t) ∝ f(t) Π_r θ_r[D_ri][t] (a pixel whose every class has
 *   probability 0 gets the prior);
 * - it stops when no θ entry moved by more than `tolerance`, or after
 *   `maxIterations` M-steps.
 * Class 0 (unlabelled) is a class like the others (mask-metrics.ts's rule).
 */
import { countTuples, labelsOf, type TupleCounts } from './tuples.js';

/** The majority vote of a tie. */
export const UNDECIDED = -1;

/** The class most readers gave, or UNDECIDED when two or more classes share the most votes. */
export function majorityOf(labels: ArrayLike<number>): number {
  const votes = new Map<number, number>();
  for (let r = 0; r < labels.length; r++) votes.set(labels[r] as number, (votes.get(labels[r] as number) ?? 0) + 1);
  let best = UNDECIDED;
  let most = 0;
  let tie = false;
  for (const [c, v] of votes) {
    if (v > most) {
      most = v;
      best = c;
      tie = false;
    } else if (v === most) tie = true;
  }
  return tie ? UNDECIDED : best;
}

/** The majority vote per pixel (UNDECIDED at ties). */
export function majorityVote(labels: readonly Uint8Array[]): Int16Array {
  const n = labels[0]?.length ?? 0;
  const out = new Int16Array(n);
  const at = new Array<number>(labels.length);
  for (let i = 0; i < n; i++) {
    for (let r = 0; r < labels.length; r++) at[r] = (labels[r] as Uint8Array)[i] as number;
    out[i] = majorityOf(at);
  }
  return out;
}

/** Pixels per majority class, and how many stay undecided. */
export function majoritySummary(counts: TupleCounts, readers: number): { pixels: Record<string, number>; undecided: number } {
  const pixels: Record<string, number> = {};
  let undecided = 0;
  for (const [key, n] of counts) {
    const m = majorityOf(labelsOf(key, readers));
    if (m === UNDECIDED) undecided += n;
    else pixels[m] = (pixels[m] ?? 0) + n;
  }
  return { pixels, undecided };
}

export interface StapleOptions {
  maxIterations?: number;
  tolerance?: number;
}

export interface StapleResult {
  /** Class ids; every per-class array below follows this order. */
  classes: number[];
  /** The fixed prior f(t). */
  prior: number[];
  /** Per reader: confusion[s][t] = P(reader says classes[s] | the true class is classes[t]). */
  confusion: number[][][];
  /** Per reader and class: P(says t | t). */
  sensitivity: number[][];
  /** Per reader and class: P(does not say t | the true class is not t); null when no weight lies outside t. */
  specificity: Array<Array<number | null>>;
  iterations: number;
  converged: boolean;
  /** The posterior class distribution of a pixel labelled `labels` (class ids, one per reader), in `classes` order. */
  posterior(labels: ArrayLike<number>): Float64Array;
  /** Pixels per most probable class (ties to the smaller id). */
  consensus: Record<string, number>;
}

/** STAPLE over the readers' joint counts. */
export function stapleFromCounts(counts: TupleCounts, readers: number, options: StapleOptions = {}): StapleResult {
  const maxIterations = options.maxIterations ?? 5000;
  const tolerance = options.tolerance ?? 1e-10;
  const tuples: Array<{ key: number; n: number; labels: number[] }> = [];
  const classSet = new Set<number>();
  for (const [key, n] of counts) {
    if (n <= 0) continue;
    const labels = labelsOf(key, readers);
    for (const l of labels) classSet.add(l);
    tuples.push({ key, n, labels });
  }
  const classes = [...classSet].sort((a, b) => a - b);
  const K = classes.length;
  const index = new Map(classes.map((c, i) => [c, i]));
  const T = tuples.length;
  // labels as class indices, tuple-major
  const D = new Int32Array(T * readers);
  tuples.forEach((t, i) => t.labels.forEach((l, r) => (D[i * readers + r] = index.get(l) as number)));
  const prior = new Array<number>(K).fill(0);
  let total = 0;
  for (let i = 0; i < T; i++) {
    const n = (tuples[i] as { n: number }).n;
    for (let r = 0; r < readers; r++) prior[D[i * readers + r] as number] += n;
    total += n * readers;
  }
  for (let k = 0; k < K; k++) prior[k] = total === 0 ? 0 : (prior[k] as number) / total;
  // W: tuple-major posteriors, started from the votes
  const W = new Float64Array(T * K);
  for (let i = 0; i < T; i++) for (let r = 0; r < readers; r++) W[i * K + (D[i * readers + r] as number)] += 1 / readers;
  const theta = Array.from({ length: readers }, () => Array.from({ length: K }, () => new Array<number>(K).fill(0)));
  let expected = theta.map((m) => m.map((row) => row.slice()));
  let iterations = 0;
  let converged = false;
  while (iterations < maxIterations) {
    iterations++;
    // M-step
    const nExp = Array.from({ length: readers }, () => Array.from({ length: K }, () => new Array<number>(K).fill(0)));
    for (let i = 0; i < T; i++) {
      const n = (tuples[i] as { n: number }).n;
      for (let r = 0; r < readers; r++) {
        const row = (nExp[r] as number[][])[D[i * readers + r] as number] as number[];
        for (let t = 0; t < K; t++) row[t] = (row[t] as number) + n * (W[i * K + t] as number);
      }
    }
    let moved = 0;
    for (let r = 0; r < readers; r++) {
      const m = nExp[r] as number[][];
      for (let t = 0; t < K; t++) {
        let col = 0;
        for (let s = 0; s < K; s++) col += (m[s] as number[])[t] as number;
        for (let s = 0; s < K; s++) {
          const v = col === 0 ? 1 / K : ((m[s] as number[])[t] as number) / col;
          const row = (theta[r] as number[][])[s] as number[];
          moved = Math.max(moved, Math.abs(v - (row[t] as number)));
          row[t] = v;
        }
      }
    }
    expected = nExp;
    // E-step
    for (let i = 0; i < T; i++) {
      let sum = 0;
      for (let t = 0; t < K; t++) {
        let p = prior[t] as number;
        for (let r = 0; r < readers; r++) p *= ((theta[r] as number[][])[D[i * readers + r] as number] as number[])[t] as number;
        W[i * K + t] = p;
        sum += p;
      }
      for (let t = 0; t < K; t++) W[i * K + t] = sum === 0 ? (prior[t] as number) : (W[i * K + t] as number) / sum;
    }
    if (moved <= tolerance) {
      converged = true;
      break;
    }
  }
  const byKey = new Map<number, number>();
  tuples.forEach((t, i) => byKey.set(t.key, i));
  const sensitivity = theta.map((m) => classes.map((_, t) => (m[t] as number[])[t] as number));
  const specificity = expected.map((m) =>
    classes.map((_, t) => {
      let outside = 0;
      let notSaid = 0;
      for (let u = 0; u < K; u++) {
        if (u === t) continue;
        for (let s = 0; s < K; s++) {
          const v = (m[s] as number[])[u] as number;
          outside += v;
          if (s !== t) notSaid += v;
        }
      }
      return outside === 0 ? null : notSaid / outside;
    }),
  );
  const consensus: Record<string, number> = {};
  tuples.forEach((tp, i) => {
    let best = 0;
    for (let t = 1; t < K; t++) if ((W[i * K + t] as number) > (W[i * K + best] as number)) best = t;
    const c = classes[best] as number;
    consensus[c] = (consensus[c] ?? 0) + tp.n;
  });
  return {
    classes,
    prior,
    confusion: theta,
    sensitivity,
    specificity,
    iterations,
    converged,
    consensus,
    posterior(labels: ArrayLike<number>): Float64Array {
      let key = 0;
      for (let r = labels.length - 1; r >= 0; r--) key = key * 256 + (labels[r] as number);
      const i = byKey.get(key);
      if (i !== undefined) return W.slice(i * K, (i + 1) * K);
      // a combination the counts never saw: the same E-step
      const out = new Float64Array(K);
      let sum = 0;
      for (let t = 0; t < K; t++) {
        let p = prior[t] as number;
        for (let r = 0; r < readers; r++) {
          const s = index.get(labels[r] as number);
          p *= s === undefined ? 0 : (((theta[r] as number[][])[s] as number[])[t] as number);
        }
        out[t] = p;
        sum += p;
      }
      for (let t = 0; t < K; t++) out[t] = sum === 0 ? (prior[t] as number) : (out[t] as number) / sum;
      return out;
    },
  };
}

/** STAPLE over whole label arrays: the result and every pixel's posteriors (pixel-major, `classes` order). */
export function staple(labels: readonly Uint8Array[], options: StapleOptions = {}): { result: StapleResult; posteriors: Float32Array } {
  const result = stapleFromCounts(countTuples(labels), labels.length, options);
  const n = labels[0]?.length ?? 0;
  const K = result.classes.length;
  const posteriors = new Float32Array(n * K);
  const at = new Array<number>(labels.length);
  const memo = new Map<number, Float64Array>();
  for (let i = 0; i < n; i++) {
    let key = 0;
    for (let r = labels.length - 1; r >= 0; r--) {
      at[r] = (labels[r] as Uint8Array)[i] as number;
      key = key * 256 + (at[r] as number);
    }
    let p = memo.get(key);
    if (!p) memo.set(key, (p = result.posterior(at)));
    posteriors.set(p, i * K);
  }
  return { result, posteriors };
}
