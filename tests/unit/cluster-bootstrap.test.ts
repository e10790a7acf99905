/**
 * The report's inter-observer intervals (issue 15;
 * tiles-server/report/cluster-bootstrap.ts): the cluster bootstrap equals a
 * plain bootstrap written here from the stated algorithm (same seed, same
 * interval), brackets its point estimate, is reproducible, resamples whole
 * ROIs (a unit's pixels never split), and gives no interval, saying why,
 * with fewer than 2 units or an undefined statistic (AGR-01's rule: an
 * undefined figure is reported as such, never as 0).
 */
import { describe, expect, it } from 'vitest';
import { clusterBootstrap, meanKappa, pooledAgreement, REPORT_BOOTSTRAP, type AgreementUnit } from '../../tiles-server/report/cluster-bootstrap.js';

/** mulberry32, written out again from its definition. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The plain bootstrap: resample indices, pool, sort, take the percentile ranks. */
function plain(units: AgreementUnit[], seed: number, B: number, level: number): [number, number] {
  const r = rng(seed);
  const out: number[] = [];
  for (let b = 0; b < B; b++) {
    let px = 0;
    let ag = 0;
    for (let i = 0; i < units.length; i++) {
      const u = units[Math.floor(r() * units.length)] as AgreementUnit;
      px += u.pixels;
      ag += u.agree;
    }
    out.push(ag / px);
  }
  out.sort((x, y) => x - y);
  const a = 1 - level;
  return [out[Math.floor((a / 2) * B)] as number, out[Math.ceil((1 - a / 2) * B) - 1] as number];
}

/** Units of uneven size and agreement, from a fixed recipe. */
function units(n: number): AgreementUnit[] {
  return Array.from({ length: n }, (_, i) => {
    const pixels = 1000 + ((i * 7919) % 5000);
    const rate = 0.55 + ((i * 37) % 40) / 100;
    return { pixels, agree: Math.round(pixels * rate), fleissKappa: rate * 2 - 1 };
  });
}

describe('the cluster bootstrap of the report', () => {
  it('equals a plain bootstrap written from the stated algorithm (same seed, same interval) and brackets the estimate', () => {
    for (const n of [2, 3, 12, 40]) {
      for (const seed of [REPORT_BOOTSTRAP.seed, 1, 987654321]) {
        const u = units(n);
        const r = clusterBootstrap(u, pooledAgreement, { seed, resamples: 999, level: 0.95 });
        expect(r.status, `n=${n}`).toBe('ok');
        if (r.status !== 'ok') continue;
        const [lo, hi] = plain(u, seed, 999, 0.95);
        expect([r.lower, r.upper]).toEqual([lo, hi]);
        const total = u.reduce((s, x) => s + x.pixels, 0);
        expect(r.estimate).toBeCloseTo(u.reduce((s, x) => s + x.agree, 0) / total, 12);
        expect(r.lower).toBeLessThanOrEqual(r.estimate);
        expect(r.upper).toBeGreaterThanOrEqual(r.estimate);
        expect(r).toMatchObject({ units: n, resamples: 999, resamplesUndefined: 0, seed, level: 0.95 });
      }
    }
  });

  it('is reproducible, narrows with more units, and another seed gives another (close) interval', () => {
    const a = clusterBootstrap(units(40), pooledAgreement);
    const b = clusterBootstrap(units(40), pooledAgreement);
    expect(a).toEqual(b);
    const c = clusterBootstrap(units(40), pooledAgreement, { ...REPORT_BOOTSTRAP, seed: 99 });
    if (a.status !== 'ok' || c.status !== 'ok') throw new Error('expected intervals');
    expect([c.lower, c.upper]).not.toEqual([a.lower, a.upper]);
    expect(Math.abs(c.lower - a.lower)).toBeLessThan(0.02);
    const few = clusterBootstrap(units(40).slice(0, 5), pooledAgreement);
    if (few.status !== 'ok') throw new Error('expected an interval');
    expect(few.upper - few.lower).toBeGreaterThan(a.upper - a.lower);
  });

  it('resamples whole ROIs: identical units give a zero-width interval whatever their pixel counts', () => {
    const same = Array.from({ length: 6 }, (_, i) => ({ pixels: 100 * (i + 1), agree: 50 * (i + 1), fleissKappa: 0.25 }));
    const r = clusterBootstrap(same, pooledAgreement);
    expect(r).toMatchObject({ status: 'ok', estimate: 0.5, lower: 0.5, upper: 0.5 });
    expect(clusterBootstrap(same, meanKappa)).toMatchObject({ status: 'ok', lower: 0.25, upper: 0.25 });
  });

  it('gives no interval with fewer than 2 units, or an undefined statistic, and says why', () => {
    expect(clusterBootstrap([], pooledAgreement)).toEqual({ status: 'not computed', reason: 'fewer than 2 independent units (ROIs): 0', units: 0, estimate: null });
    const one = clusterBootstrap(units(1), pooledAgreement);
    expect(one).toMatchObject({ status: 'not computed', units: 1 });
    expect(one.estimate).toBeCloseTo((units(1)[0] as AgreementUnit).agree / (units(1)[0] as AgreementUnit).pixels, 12);
    const undefinedKappa = [{ pixels: 10, agree: 5, fleissKappa: null }, { pixels: 10, agree: 6, fleissKappa: null }];
    expect(clusterBootstrap(undefinedKappa, meanKappa)).toMatchObject({ status: 'not computed', reason: 'the statistic is undefined over these units', estimate: null });
    // a kappa defined in one unit only: resamples without it are left out and counted
    const mixed = [{ pixels: 10, agree: 5, fleissKappa: 0.4 }, { pixels: 10, agree: 6, fleissKappa: null }];
    const m = clusterBootstrap(mixed, meanKappa, { seed: 3, resamples: 400, level: 0.95 });
    expect(m.status).toBe('ok');
    if (m.status === 'ok') {
      expect(m.resamplesUndefined).toBeGreaterThan(0);
      expect([m.lower, m.upper]).toEqual([0.4, 0.4]);
    }
  });
});
