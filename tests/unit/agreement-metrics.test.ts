/**
 * The agreement metrics of src/core/agreement against independent counts
 * made here: Dice and IoU on random masks equal a direct count; identical
 * and disjoint masks (AGR-01, no NaN for a class neither reader used);
 * unpainted area counted as "unlabelled" (AGR-03); one-to-one matching
 * equal to a brute-force optimum on small random cases with ties and
 * many-to-one overlaps (AGR-04); STAPLE against a plain per-pixel EM after
 * Warfield et al. 2004 within 1e-6, and with one reader always wrong
 * (AGR-05); majority vote ties; points matched within a distance in µm.
 * Cohen's and Fleiss' kappa against scikit-learn and statsmodels are in
 * tests/conformance/agreement-reference.test.ts (AGR-02).
 */
import { describe, expect, it } from 'vitest';
import { rng } from '../../scripts/bench/workloads.js';
import { majorityOf, majoritySummary, majorityVote, staple, stapleFromCounts, UNDECIDED } from '../../src/core/agreement/consensus.js';
import { maskAgreement } from '../../src/core/agreement/mask-metrics.js';
import { hungarian, matchCandidates, type Candidate } from '../../src/core/agreement/matching.js';
import { cellIou, matchCells, matchPoints, pairwise, type Cell } from '../../src/core/agreement/objects.js';
import { countRange, countTuples, labelsOf, TupleCounter, tupleKey, type TupleCounts } from '../../src/core/agreement/tuples.js';
import { referenceStaple } from '../helpers/staple-reference.js';

function randomMask(r: () => number, n: number, classes: number[]): Uint8Array {
  const m = new Uint8Array(n);
  // runs of random length, so run-length counting is exercised, plus noise
  let i = 0;
  while (i < n) {
    const len = 1 + Math.floor(r() * 40);
    const c = classes[Math.floor(r() * classes.length)] as number;
    m.fill(c, i, Math.min(n, i + len));
    i += len;
  }
  for (let k = 0; k < n / 20; k++) m[Math.floor(r() * n)] = classes[Math.floor(r() * classes.length)] as number;
  return m;
}

function noNaN(x: unknown): void {
  expect(JSON.stringify(x, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? `BAD ${v}` : v))).not.toContain('BAD');
}

describe('joint counts', () => {
  it('count every pixel exactly once, with each reader\'s label, for 2 to 6 readers', () => {
    const r = rng(11);
    for (let readers = 2; readers <= 6; readers++) {
      const masks = Array.from({ length: readers }, () => randomMask(r, 5000, [0, 1, 2, 7, 255]));
      const counts = countTuples(masks);
      const direct = new Map<number, number>();
      for (let i = 0; i < 5000; i++) {
        const k = tupleKey(masks.map((m) => m[i] as number));
        direct.set(k, (direct.get(k) ?? 0) + 1);
      }
      expect(counts).toEqual(direct);
      for (const k of counts.keys()) expect(tupleKey(labelsOf(k, readers))).toBe(k);
    }
  });
});

describe('the dense counter', () => {
  it('gives the same counts as run-by-run map counting: few classes, more classes than its capacity, ids met mid-range, 2 to 6 readers', () => {
    const r = rng(12);
    for (const [readers, capacity, classes] of [
      [2, 32, [0, 1, 2, 3]],
      [3, 32, [0, 1, 2, 3, 4, 5]],
      [3, 4, [0, 1, 2, 3, 7, 9, 200]], // overflows its capacity part-way
      [4, 8, [0, 1, 2]],
      [5, 32, [0, 1, 2]], // too many cells for a dense array: a map from the start
      [6, 32, [0, 255]],
    ] as Array<[number, number, number[]]>) {
      const masks = Array.from({ length: readers }, () => randomMask(r, 6000, classes));
      const counter = new TupleCounter(readers, capacity);
      const want: TupleCounts = new Map();
      // in pieces, with some pixels added by key (the path for tiles of one class)
      for (let i = 0; i < 6000; i += 1000) {
        counter.addRange(masks, i, i + 700);
        countRange(want, masks, i, i + 700);
        for (let j = i + 700; j < i + 1000; j++) {
          const key = tupleKey(masks.map((m) => m[j] as number));
          counter.addKey(key, 1);
          want.set(key, (want.get(key) ?? 0) + 1);
        }
      }
      expect(counter.result(), `${readers} readers, capacity ${capacity}`).toEqual(want);
    }
  });
});

describe('mask metrics', () => {
  it('Dice, IoU and pixel accuracy on random masks equal a direct count', () => {
    const r = rng(5);
    const n = 20_000;
    const masks = [randomMask(r, n, [0, 1, 2, 3]), randomMask(r, n, [0, 1, 2, 3, 4]), randomMask(r, n, [1, 2, 3])];
    const m = maskAgreement(countTuples(masks), 3);
    expect(m.pixels).toBe(n);
    expect(m.classes).toEqual([0, 1, 2, 3, 4]);
    for (const p of m.pairs) {
      const A = masks[p.a] as Uint8Array;
      const B = masks[p.b] as Uint8Array;
      let agree = 0;
      for (let i = 0; i < n; i++) if (A[i] === B[i]) agree++;
      expect(p.pixelAccuracy).toBe(agree / n);
      for (const c of p.perClass) {
        let a = 0;
        let b = 0;
        let both = 0;
        let union = 0;
        for (let i = 0; i < n; i++) {
          const x = A[i] === c.class;
          const y = B[i] === c.class;
          if (x) a++;
          if (y) b++;
          if (x && y) both++;
          if (x || y) union++;
        }
        expect([c.a, c.b, c.both]).toEqual([a, b, both]);
        if (a + b === 0) {
          expect(c.dice).toBeNull();
          expect(c.iou).toBeNull();
        } else {
          expect(c.dice).toBeCloseTo((2 * both) / (a + b), 12);
          expect(c.iou).toBeCloseTo(both / union, 12);
        }
      }
    }
    // class 4 only reader 1 used: the pair (0, 2) has no Dice for it, and the mean is over the pairs that do
    const four = m.perClass.find((c) => c.class === 4);
    expect(m.pairs.find((p) => p.a === 0 && p.b === 2)?.perClass.find((c) => c.class === 4)?.dice).toBeNull();
    expect(four?.meanDice).toBe(0);
    noNaN(m);
  });

  it('AGR-01: identical masks give Dice 1 and kappa 1; disjoint masks Dice 0 and kappa ≤ 0; a class neither used is null, never NaN or 0', () => {
    const r = rng(9);
    const a = randomMask(r, 4096, [0, 1, 2]);
    const same = maskAgreement(countTuples([a, a.slice()]), 2, [5]);
    const p = same.pairs[0];
    expect(p?.cohenKappa).toBe(1);
    expect(p?.pixelAccuracy).toBe(1);
    for (const c of p?.perClass ?? []) {
      if (c.class === 5) {
        expect(c.dice).toBeNull();
        expect(c.iou).toBeNull();
      } else {
        expect(c.dice).toBe(1);
        expect(c.iou).toBe(1);
      }
    }
    expect(same.perClass.find((c) => c.class === 5)?.meanDice).toBeNull();
    // disjoint: where one says 1 the other says 2 and the other way round
    const x = new Uint8Array(4096);
    const y = new Uint8Array(4096);
    for (let i = 0; i < 4096; i++) {
      x[i] = i < 2048 ? 1 : 2;
      y[i] = i < 2048 ? 2 : 1;
    }
    const dis = maskAgreement(countTuples([x, y]), 2, [3]);
    const q = dis.pairs[0];
    expect(q?.cohenKappa).not.toBeNull();
    expect(q?.cohenKappa as number).toBeLessThanOrEqual(0);
    expect(q?.perClass.find((c) => c.class === 1)?.dice).toBe(0);
    expect(q?.perClass.find((c) => c.class === 2)?.iou).toBe(0);
    expect(q?.perClass.find((c) => c.class === 3)?.dice).toBeNull();
    // one class everywhere for both: kappa has no value (0/0), reported as null
    const flat = maskAgreement(countTuples([new Uint8Array(100).fill(1), new Uint8Array(100).fill(1)]), 2);
    expect(flat.pairs[0]?.cohenKappa).toBeNull();
    expect(flat.pairs[0]?.pixelAccuracy).toBe(1);
    // an empty region
    const empty = maskAgreement(new Map(), 3);
    expect(empty.fleissKappa).toBeNull();
    expect(empty.pairs.every((pp) => pp.pixelAccuracy === null && pp.cohenKappa === null)).toBe(true);
    noNaN([same, dis, flat, empty]);
  });

  it('AGR-03: a part of the region one reader left unpainted counts as "unlabelled" (class 0), not dropped', () => {
    const n = 1000;
    const a = new Uint8Array(n).fill(3);
    const b = new Uint8Array(n).fill(3);
    b.fill(0, 600); // reader b painted only the first 600 pixels
    const m = maskAgreement(countTuples([a, b]), 2);
    expect(m.pixels).toBe(n);
    expect(m.classes).toEqual([0, 3]);
    const p = m.pairs[0];
    expect(p?.pixelAccuracy).toBe(0.6);
    expect(p?.confusion).toEqual([
      [0, 0],
      [400, 600],
    ]);
    expect(p?.perClass.find((c) => c.class === 3)?.dice).toBeCloseTo((2 * 600) / 1600, 12);
    expect(p?.perClass.find((c) => c.class === 0)).toMatchObject({ a: 0, b: 400, both: 0, dice: 0 });
    expect(m.unlabelledRule).toMatch(/unlabelled/);
  });
});

describe('consensus', () => {
  it('majority vote: the most votes win, a tie stays undecided', () => {
    expect(majorityOf([1, 1, 2])).toBe(1);
    expect(majorityOf([1, 2])).toBe(UNDECIDED);
    expect(majorityOf([1, 2, 3])).toBe(UNDECIDED);
    expect(majorityOf([1, 1, 2, 2, 3])).toBe(UNDECIDED);
    expect(majorityOf([0, 0, 4])).toBe(0);
    const masks = [Uint8Array.of(1, 1, 2, 0), Uint8Array.of(1, 2, 2, 0), Uint8Array.of(3, 3, 3, 5)];
    expect([...majorityVote(masks)]).toEqual([1, UNDECIDED, 2, 0]);
    expect(majoritySummary(countTuples(masks), 3)).toEqual({ pixels: { '0': 1, '1': 1, '2': 1 }, undecided: 1 });
  });

  it('STAPLE equals a plain per-pixel EM (Warfield et al. 2004) within 1e-6: confusion matrices and every posterior', () => {
    const r = rng(21);
    const n = 3000;
    const truth = randomMask(r, n, [0, 1, 2]);
    // three readers with different error rates
    const masks = [0.05, 0.2, 0.4].map((err) => truth.map((v) => (r() < err ? (v + 1 + Math.floor(r() * 2)) % 3 : v)));
    const ref = referenceStaple(masks, 300, 0);
    const { result, posteriors } = staple(masks, { maxIterations: 300, tolerance: 0 });
    expect(result.classes).toEqual(ref.classes);
    // the same number of EM steps on both sides (EM converges linearly: thousands of steps to 1e-10)
    expect(result.iterations).toBe(300);
    const K = ref.classes.length;
    for (let rr = 0; rr < 3; rr++) for (let s = 0; s < K; s++) for (let t = 0; t < K; t++) expect(Math.abs(result.confusion[rr]![s]![t]! - ref.theta[rr]![s]![t]!)).toBeLessThan(1e-6);
    let worst = 0;
    for (let i = 0; i < n; i++) for (let t = 0; t < K; t++) worst = Math.max(worst, Math.abs((posteriors[i * K + t] as number) - ref.W[i]![t]!));
    expect(worst).toBeLessThan(1e-6);
    // run to convergence, the module stops by itself
    const full = stapleFromCounts(countTuples(masks), 3);
    expect(full.converged).toBe(true);
    // and the better reader gets the higher sensitivity
    expect(result.sensitivity[0]![1]!).toBeGreaterThan(result.sensitivity[2]![1]!);
    noNaN({ ...result, posterior: undefined });
  });

  it('AGR-05: a reader who is always wrong gets sensitivity near 0, and the consensus follows the others', () => {
    const r = rng(33);
    const n = 5000;
    const truth = randomMask(r, n, [1, 2, 3]);
    const good1 = truth.map((v) => (r() < 0.03 ? ((v % 3) + 1) : v));
    const good2 = truth.map((v) => (r() < 0.03 ? ((v % 3) + 1) : v));
    const wrong = truth.map((v) => (v % 3) + 1); // never the true class
    const res = stapleFromCounts(countTuples([good1, good2, wrong]), 3);
    for (let t = 0; t < res.classes.length; t++) {
      expect(res.sensitivity[2]![t]!).toBeLessThan(0.05);
      expect(res.sensitivity[0]![t]!).toBeGreaterThan(0.9);
      expect(res.sensitivity[1]![t]!).toBeGreaterThan(0.9);
    }
    // the consensus is the truth almost everywhere (both good readers wrong at once is ~0.1 %)
    let agree = 0;
    for (let i = 0; i < n; i++) {
      const p = res.posterior([good1[i] as number, good2[i] as number, wrong[i] as number]);
      let best = 0;
      for (let t = 1; t < p.length; t++) if ((p[t] as number) > (p[best] as number)) best = t;
      if (res.classes[best] === truth[i]) agree++;
    }
    expect(agree / n).toBeGreaterThan(0.99);
    for (const spec of res.specificity[0]!) expect(spec).toBeGreaterThan(0.9);
  });
});

/** Brute force: the most pairs, then the largest total score, over every one-to-one matching among the candidates. */
function bruteForce(nA: number, nB: number, cands: Candidate[]): { count: number; total: number } {
  const best = { count: 0, total: 0 };
  const byA = Array.from({ length: nA }, (_, i) => cands.filter((c) => c.a === i));
  const used = new Array<boolean>(nB).fill(false);
  const walk = (i: number, count: number, total: number): void => {
    if (i === nA) {
      if (count > best.count || (count === best.count && total > best.total + 1e-12)) {
        best.count = count;
        best.total = total;
      }
      return;
    }
    walk(i + 1, count, total);
    for (const c of byA[i] as Candidate[]) {
      if (used[c.b]) continue;
      used[c.b] = true;
      walk(i + 1, count + 1, total + c.score);
      used[c.b] = false;
    }
  };
  walk(0, 0, 0);
  return best;
}

function square(x: number, y: number, w: number, h: number, cls = 1): Cell {
  return { rings: [Float64Array.of(x, y, x + w, y, x + w, y + h, x, y + h)], cls };
}

describe('one-to-one matching', () => {
  it('the Hungarian algorithm finds the minimum-cost assignment of small dense matrices', () => {
    const r = rng(3);
    for (let trial = 0; trial < 200; trial++) {
      const rows = 1 + Math.floor(r() * 5);
      const cols = rows + Math.floor(r() * 3);
      const cost = Float64Array.from({ length: rows * cols }, () => Math.floor(r() * 5)); // small integers: many ties
      const got = hungarian(cost, rows, cols);
      expect(new Set(got).size).toBe(rows);
      const sum = [...got].reduce((s, j, i) => s + (cost[i * cols + j] as number), 0);
      let best = Infinity;
      const used = new Array<boolean>(cols).fill(false);
      const walk = (i: number, acc: number): void => {
        if (i === rows) return void (best = Math.min(best, acc));
        for (let j = 0; j < cols; j++) {
          if (used[j]) continue;
          used[j] = true;
          walk(i + 1, acc + (cost[i * cols + j] as number));
          used[j] = false;
        }
      };
      walk(0, 0);
      expect(sum).toBe(best);
    }
  });

  it('AGR-04: random candidate graphs with ties and many-to-one overlaps: the matching equals the brute-force optimum', () => {
    const r = rng(44);
    for (let trial = 0; trial < 300; trial++) {
      const nA = 1 + Math.floor(r() * 6);
      const nB = 1 + Math.floor(r() * 6);
      const cands: Candidate[] = [];
      for (let a = 0; a < nA; a++) {
        for (let b = 0; b < nB; b++) {
          if (r() < 0.45) cands.push({ a, b, score: 0.5 + Math.floor(r() * 3) / 4 }); // 0.5, 0.75 or 1: ties
        }
      }
      const got = matchCandidates(nA, nB, cands);
      // one to one, and only candidate pairs
      expect(new Set(got.map((c) => c.a)).size).toBe(got.length);
      expect(new Set(got.map((c) => c.b)).size).toBe(got.length);
      for (const g of got) expect(cands).toContainEqual(g);
      const want = bruteForce(nA, nB, cands);
      expect(got.length).toBe(want.count);
      expect(got.reduce((s, c) => s + c.score, 0)).toBeCloseTo(want.total, 9);
    }
  });

  it('AGR-04: cells at IoU ≥ 0.5 with a tie and a many-to-one overlap are matched one to one, as brute force over random cells', () => {
    // many-to-one: A's cell overlaps two of B's at IoU ≥ 0.5; tie: both at the same IoU
    const a = [square(0, 0, 20, 20, 1), square(100, 0, 20, 20, 2)];
    const b = [square(2, 0, 20, 20, 1), square(-2, 0, 20, 20, 3), square(101, 0, 20, 20, 2)];
    expect(cellIou(a[0] as Cell, b[0] as Cell)).toBeCloseTo(cellIou(a[0] as Cell, b[1] as Cell), 12);
    expect(cellIou(a[0] as Cell, b[0] as Cell)).toBeCloseTo(360 / 440, 12);
    const m = matchCells(a, b, 0.5);
    expect(m.matched).toBe(2);
    expect(m.precision).toBeCloseTo(2 / 3, 12);
    expect(m.recall).toBe(1);
    expect(m.f1).toBeCloseTo(4 / 5, 12);
    expect(new Set(m.matches.map((x) => x.b)).size).toBe(2);
    // random clustered cells, compared with brute force over every pair's IoU
    const r = rng(77);
    for (let trial = 0; trial < 80; trial++) {
      const mk = (): Cell[] => Array.from({ length: 1 + Math.floor(r() * 6) }, () => square(Math.floor(r() * 12), Math.floor(r() * 12), 8 + Math.floor(r() * 4), 8 + Math.floor(r() * 4), 1 + Math.floor(r() * 2)));
      const A = mk();
      const B = mk();
      const got = matchCells(A, B, 0.5);
      const cands: Candidate[] = [];
      A.forEach((x, i) => B.forEach((y, j) => {
        const iou = cellIou(x, y);
        if (iou >= 0.5) cands.push({ a: i, b: j, score: iou });
      }));
      const want = bruteForce(A.length, B.length, cands);
      expect(got.matched).toBe(want.count);
      expect(got.matches.reduce((s, x) => s + x.value, 0)).toBeCloseTo(want.total, 9);
      // the class confusion of matched pairs adds up to the matches
      expect(got.classConfusion.reduce((s, c) => s + c.pairs, 0)).toBe(got.matched);
    }
    expect(() => matchCells(a, b, 0)).toThrow(RangeError);
  });

  it('the IoU threshold is configurable: at 0.9 the tie above matches nothing', () => {
    const m = matchCells([square(0, 0, 20, 20)], [square(2, 0, 20, 20), square(-2, 0, 20, 20)], 0.9);
    expect(m.matched).toBe(0);
    expect(m.f1).toBe(0);
  });

  it('points (mitoses) match one to one within a distance in µm', () => {
    const mpp = 0.25;
    const radius = 4 / mpp; // 4 µm = 16 px
    const a = [{ x: 100, y: 100, cls: 1 }, { x: 130, y: 100, cls: 1 }];
    const b = [{ x: 110, y: 100, cls: 1 }, { x: 500, y: 500, cls: 2 }];
    // both of A's points are within 16 px of B's first: only one may have it, the closer by total distance
    const m = matchPoints(a, b, radius);
    expect(m.matched).toBe(1);
    expect(m.matches[0]).toEqual({ a: 0, b: 0, value: 10 });
    expect(m.recall).toBe(0.5);
    expect(m.precision).toBe(0.5);
    const three = pairwise([a, b, a], (x, y) => matchPoints(x, y, radius));
    expect(three.map((p) => [p.readerA, p.readerB, p.matched])).toEqual([[0, 1, 1], [0, 2, 2], [1, 2, 1]]);
    expect(matchPoints([], [], radius).f1).toBeNull();
    expect(() => matchPoints(a, b, 0)).toThrow(RangeError);
  });
});
