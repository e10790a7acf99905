/**
 * One-to-one matching of two readers' objects: the largest number of
 * pairs, and among those the largest total score, where only the candidate
 * pairs given may match (for cells: IoU ≥ t; for points: within a
 * distance). The candidate graph is split into its connected components and
 * each is solved by the Hungarian algorithm (Kuhn–Munkres with potentials,
 * O(n³) in the component's size), so 10⁵ cells whose overlaps form small
 * clusters stay fast. AGR-04's test checks it against brute force.
 */

export interface Candidate {
  /** Object index of reader A and of reader B. */
  a: number;
  b: number;
  /** Score ≥ 0 (larger is better): IoU for cells, closeness for points. */
  score: number;
}

/**
 * Minimum-cost assignment of every row to a distinct column of a dense
 * rows × cols cost matrix (rows ≤ cols, row-major). Returns the column of
 * each row.
 */
export function hungarian(cost: Float64Array, rows: number, cols: number): Int32Array {
  if (rows > cols) throw new RangeError('hungarian: rows must not outnumber columns');
  const INF = Number.POSITIVE_INFINITY;
  const u = new Float64Array(rows + 1);
  const v = new Float64Array(cols + 1);
  const p = new Int32Array(cols + 1); // p[j]: row (1-based) assigned to column j
  const way = new Int32Array(cols + 1);
  const minv = new Float64Array(cols + 1);
  const used = new Uint8Array(cols + 1);
  for (let i = 1; i <= rows; i++) {
    p[0] = i;
    let j0 = 0;
    minv.fill(INF);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = p[j0] as number;
      let delta = INF;
      let j1 = 0;
      for (let j = 1; j <= cols; j++) {
        if (used[j]) continue;
        const cur = (cost[(i0 - 1) * cols + (j - 1)] as number) - (u[i0] as number) - (v[j] as number);
        if (cur < (minv[j] as number)) {
          minv[j] = cur;
          way[j] = j0;
        }
        if ((minv[j] as number) < delta) {
          delta = minv[j] as number;
          j1 = j;
        }
      }
      for (let j = 0; j <= cols; j++) {
        if (used[j]) {
          u[p[j] as number] = (u[p[j] as number] as number) + delta;
          v[j] = (v[j] as number) - delta;
        } else minv[j] = (minv[j] as number) - delta;
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0] as number;
      p[j0] = p[j1] as number;
      j0 = j1;
    } while (j0 !== 0);
  }
  const out = new Int32Array(rows).fill(-1);
  for (let j = 1; j <= cols; j++) if ((p[j] as number) > 0) out[(p[j] as number) - 1] = j - 1;
  return out;
}

function find(parent: Int32Array, x: number): number {
  while (parent[x] !== x) {
    parent[x] = parent[parent[x] as number] as number;
    x = parent[x] as number;
  }
  return x;
}

/**
 * The best one-to-one matching among the candidates: most pairs, then the
 * largest total score. Pairs come out sorted by a.
 */
export function matchCandidates(nA: number, nB: number, candidates: readonly Candidate[]): Candidate[] {
  const parent = new Int32Array(nA + nB);
  for (let i = 0; i < parent.length; i++) parent[i] = i;
  for (const c of candidates) {
    const x = find(parent, c.a);
    const y = find(parent, nA + c.b);
    if (x !== y) parent[x] = y;
  }
  const groups = new Map<number, Candidate[]>();
  for (const c of candidates) {
    const root = find(parent, c.a);
    let g = groups.get(root);
    if (!g) groups.set(root, (g = []));
    g.push(c);
  }
  const out: Candidate[] = [];
  for (const g of groups.values()) {
    if (g.length === 1) {
      out.push(g[0] as Candidate);
      continue;
    }
    const as = [...new Set(g.map((c) => c.a))];
    const bs = [...new Set(g.map((c) => c.b))];
    const aIdx = new Map(as.map((a, i) => [a, i]));
    const bIdx = new Map(bs.map((b, i) => [b, i]));
    // rows: the smaller side
    const flip = as.length > bs.length;
    const rows = flip ? bs.length : as.length;
    const cols = flip ? as.length : bs.length;
    let maxScore = 0;
    for (const c of g) maxScore = Math.max(maxScore, c.score);
    // one more pair always beats any gain in total score
    const big = rows * maxScore + 1;
    const cost = new Float64Array(rows * cols);
    const best = new Map<number, Candidate>();
    for (const c of g) {
      const i = flip ? (bIdx.get(c.b) as number) : (aIdx.get(c.a) as number);
      const j = flip ? (aIdx.get(c.a) as number) : (bIdx.get(c.b) as number);
      const k = i * cols + j;
      const prev = best.get(k);
      if (prev && prev.score >= c.score) continue;
      best.set(k, c);
      cost[k] = -(big + c.score);
    }
    const assigned = hungarian(cost, rows, cols);
    for (let i = 0; i < rows; i++) {
      const j = assigned[i] as number;
      const c = best.get(i * cols + j);
      if (c) out.push(c);
    }
  }
  return out.sort((x, y) => x.a - y.a);
}

export interface PairCounts {
  /** Objects of reader A, of reader B, and matched pairs. */
  a: number;
  b: number;
  matched: number;
  /** matched / b (B's objects that A confirms); null when B has none. */
  precision: number | null;
  /** matched / a (A's objects that B found); null when A has none. */
  recall: number | null;
  /** 2·matched / (a + b); null when neither has any. */
  f1: number | null;
}

export function pairCounts(a: number, b: number, matched: number): PairCounts {
  return {
    a,
    b,
    matched,
    precision: b === 0 ? null : matched / b,
    recall: a === 0 ? null : matched / a,
    f1: a + b === 0 ? null : (2 * matched) / (a + b),
  };
}

/** The class confusion of matched pairs: A's class × B's class → pairs. */
export function matchedClassConfusion(pairs: readonly Candidate[], classA: (i: number) => number, classB: (j: number) => number): Array<{ a: number; b: number; pairs: number }> {
  const m = new Map<string, { a: number; b: number; pairs: number }>();
  for (const p of pairs) {
    const ca = classA(p.a);
    const cb = classB(p.b);
    const k = `${ca},${cb}`;
    const e = m.get(k);
    if (e) e.pairs++;
    else m.set(k, { a: ca, b: cb, pairs: 1 });
  }
  return [...m.values()].sort((x, y) => x.a - y.a || x.b - y.b);
}
