/**
 * Confidence intervals for the report's inter-observer agreement (issue
 * 15). Pixels inside one ROI are not independent samples, so an interval
 * over pixels would overstate the certainty; the units that can be taken
 * as independent are the ROIs. A cluster (percentile) bootstrap resamples
 * whole ROIs with replacement and recomputes the statistic over the
 * resample. The generator is seeded with a constant, so the same records
 * give the same interval and the report keeps its hash.
 *
 * Algorithm, stated so anyone can redo it: mulberry32(seed); each resample
 * draws n indices as floor(u · n) for successive u; resamples whose
 * statistic is undefined (null) are left out and counted; the interval is
 * the sorted statistics' values at ranks floor(α/2 · m) and
 * ceil((1 − α/2) · m) − 1 (0-based), m the resamples kept.
 */

/** The seeded generator (mulberry32): uniform numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface BootstrapSpec {
  seed: number;
  resamples: number;
  /** e.g. 0.95 */
  level: number;
}

/** The report's settings: stated beside every interval. */
export const REPORT_BOOTSTRAP: BootstrapSpec = { seed: 15, resamples: 2000, level: 0.95 };

export type BootstrapResult =
  | { status: 'ok'; estimate: number; lower: number; upper: number; level: number; units: number; resamples: number; resamplesUndefined: number; seed: number; method: string }
  | { status: 'not computed'; reason: string; units: number; estimate: number | null };

/** A percentile cluster bootstrap of `statistic` over `units`; fewer than 2 units (or an undefined estimate) gives no interval, and says why. */
export function clusterBootstrap<U>(units: readonly U[], statistic: (sample: readonly U[]) => number | null, spec: BootstrapSpec = REPORT_BOOTSTRAP): BootstrapResult {
  const n = units.length;
  const estimate = n === 0 ? null : statistic(units);
  if (n < 2) return { status: 'not computed', reason: `fewer than 2 independent units (ROIs): ${n}`, units: n, estimate };
  if (estimate === null) return { status: 'not computed', reason: 'the statistic is undefined over these units', units: n, estimate };
  const rand = mulberry32(spec.seed);
  const stats: number[] = [];
  const sample: U[] = new Array<U>(n);
  for (let b = 0; b < spec.resamples; b++) {
    for (let i = 0; i < n; i++) sample[i] = units[Math.floor(rand() * n)] as U;
    const s = statistic(sample);
    if (s !== null && Number.isFinite(s)) stats.push(s);
  }
  const m = stats.length;
  if (m === 0) return { status: 'not computed', reason: 'the statistic is undefined in every resample', units: n, estimate };
  stats.sort((x, y) => x - y);
  const alpha = 1 - spec.level;
  const lo = Math.min(m - 1, Math.max(0, Math.floor((alpha / 2) * m)));
  const hi = Math.min(m - 1, Math.max(0, Math.ceil((1 - alpha / 2) * m) - 1));
  return {
    status: 'ok',
    estimate,
    lower: stats[lo] as number,
    upper: stats[hi] as number,
    level: spec.level,
    units: n,
    resamples: spec.resamples,
    resamplesUndefined: spec.resamples - m,
    seed: spec.seed,
    method: 'percentile cluster bootstrap over ROIs (tiles-server/report/cluster-bootstrap.ts: mulberry32, ranks floor(α/2·m) and ceil((1−α/2)·m)−1)',
  };
}

/** One ROI's counts, as the agreement computation gives them. */
export interface AgreementUnit {
  /** Pixels and agreeing pixels, summed over the reader pairs. */
  pixels: number;
  agree: number;
  fleissKappa: number | null;
}

/** Pixel agreement pooled over units: agreeing pixel pairs over counted pixel pairs. */
export function pooledAgreement(units: readonly AgreementUnit[]): number | null {
  let pixels = 0;
  let agree = 0;
  for (const u of units) {
    pixels += u.pixels;
    agree += u.agree;
  }
  return pixels === 0 ? null : agree / pixels;
}

/** The mean of the units' Fleiss' kappa, those where it is defined. */
export function meanKappa(units: readonly AgreementUnit[]): number | null {
  let sum = 0;
  let k = 0;
  for (const u of units) {
    if (u.fleissKappa === null || !Number.isFinite(u.fleissKappa)) continue;
    sum += u.fleissKappa;
    k++;
  }
  return k === 0 ? null : sum / k;
}
