/**
 * Agreement between two readers' objects: cells (polygons) matched one to
 * one at IoU ≥ t, and points (mitoses) matched one to one within a
 * distance. Candidate pairs come from a Flatbush index of B's objects;
 * matching.ts picks the pairs (most pairs, then the largest total IoU /
 * the smallest total distance).
 *
 * IoU rule: a cell is the set of pixels its outline covers under the
 * rasterizer's pixel-centre, even-odd rule (core/mask/raster.ts), the same
 * rule that paints masks; IoU is |A ∩ B| / |A ∪ B| of those pixel sets,
 * counted exactly span by span. A cell covering no pixel centre matches
 * nothing (it still counts as an object of its reader).
 */
import Flatbush from 'flatbush';
import { polygonSpans } from '../mask/raster.js';
import { ringsBounds } from '../flat-geometry.js';
import { matchCandidates, matchedClassConfusion, pairCounts, type Candidate, type PairCounts } from './matching.js';

export interface Cell {
  /** Flat rings [x0, y0, x1, y1, …] in level-0 pixels (even-odd). */
  rings: ArrayLike<number>[];
  /** Class id (any number the caller uses). */
  cls: number;
}

export interface PointObject {
  x: number;
  y: number;
  cls: number;
}

export interface ObjectPairResult extends PairCounts {
  /** A's class × B's class over the matched pairs. */
  classConfusion: Array<{ a: number; b: number; pairs: number }>;
  /** The matched pairs (indices into A's and B's lists) with their IoU or distance. */
  matches: Array<{ a: number; b: number; value: number }>;
}

/** A cell's pixels as spans: row, x0, x1 (half-open), rows increasing. */
interface Spans {
  y: Int32Array;
  x0: Int32Array;
  x1: Int32Array;
  area: number;
  box: [number, number, number, number];
}

function spansOf(cell: Cell): Spans | null {
  const [bx0, by0, bx1, by1] = ringsBounds(cell.rings, [0, 0, 0, 0]);
  if (!(bx1 >= bx0 && by1 >= by0)) return null;
  const clip = { x0: Math.floor(bx0), y0: Math.floor(by0), x1: Math.ceil(bx1) + 1, y1: Math.ceil(by1) + 1 };
  const ys: number[] = [];
  const x0s: number[] = [];
  const x1s: number[] = [];
  let area = 0;
  polygonSpans(cell.rings, clip, (y, x0, x1) => {
    ys.push(y);
    x0s.push(x0);
    x1s.push(x1);
    area += x1 - x0;
  });
  if (area === 0) return null;
  return { y: Int32Array.from(ys), x0: Int32Array.from(x0s), x1: Int32Array.from(x1s), area, box: [clip.x0, clip.y0, clip.x1, clip.y1] };
}

/** Pixels in both span sets (both sorted by row, then x). */
function overlap(p: Spans, q: Spans): number {
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < p.y.length && j < q.y.length) {
    const yi = p.y[i] as number;
    const yj = q.y[j] as number;
    if (yi < yj) i++;
    else if (yj < yi) j++;
    else {
      const lo = Math.max(p.x0[i] as number, q.x0[j] as number);
      const hi = Math.min(p.x1[i] as number, q.x1[j] as number);
      if (hi > lo) n += hi - lo;
      // advance the span that ends first (same row)
      if ((p.x1[i] as number) <= (q.x1[j] as number)) i++;
      else j++;
    }
  }
  return n;
}

/** IoU of two cells under the pixel-centre rule (0 when either covers no pixel). */
export function cellIou(a: Cell, b: Cell): number {
  const p = spansOf(a);
  const q = spansOf(b);
  if (!p || !q) return 0;
  const both = overlap(p, q);
  return both / (p.area + q.area - both);
}

/** Cells of A and B matched one to one at IoU ≥ threshold (0 < threshold ≤ 1). */
export function matchCells(a: readonly Cell[], b: readonly Cell[], threshold = 0.5): ObjectPairResult {
  if (!(threshold > 0 && threshold <= 1)) throw new RangeError('the IoU threshold is a number in (0, 1]');
  const sa = a.map(spansOf);
  const sb = b.map(spansOf);
  const candidates: Candidate[] = [];
  const present = sb.map((s, j) => (s ? j : -1)).filter((j) => j >= 0);
  if (present.length > 0) {
    const index = new Flatbush(present.length);
    for (const j of present) {
      const bx = (sb[j] as Spans).box;
      index.add(bx[0], bx[1], bx[2], bx[3]);
    }
    index.finish();
    sa.forEach((p, i) => {
      if (!p) return;
      for (const k of index.search(p.box[0], p.box[1], p.box[2], p.box[3])) {
        const j = present[k] as number;
        const q = sb[j] as Spans;
        // IoU ≤ min/max area: skip pairs that cannot reach the threshold
        if (Math.min(p.area, q.area) < threshold * Math.max(p.area, q.area)) continue;
        const both = overlap(p, q);
        if (both === 0) continue;
        const iou = both / (p.area + q.area - both);
        if (iou >= threshold) candidates.push({ a: i, b: j, score: iou });
      }
    });
  }
  const pairs = matchCandidates(a.length, b.length, candidates);
  return {
    ...pairCounts(a.length, b.length, pairs.length),
    classConfusion: matchedClassConfusion(pairs, (i) => (a[i] as Cell).cls, (j) => (b[j] as Cell).cls),
    matches: pairs.map((p) => ({ a: p.a, b: p.b, value: p.score })),
  };
}

/**
 * Points of A and B matched one to one within `maxDistance` (level-0
 * pixels: a distance in µm divided by the slide's µm per pixel). Among the
 * matchings with the most pairs, the one with the smallest total distance
 * (as closeness 1 − d / maxDistance). `value` of a match is its distance.
 */
export function matchPoints(a: readonly PointObject[], b: readonly PointObject[], maxDistance: number): ObjectPairResult {
  if (!(maxDistance > 0 && Number.isFinite(maxDistance))) throw new RangeError('the matching distance is a positive number');
  const candidates: Candidate[] = [];
  const dist = new Map<string, number>();
  if (b.length > 0) {
    const index = new Flatbush(b.length);
    for (const p of b) index.add(p.x, p.y, p.x, p.y);
    index.finish();
    a.forEach((p, i) => {
      for (const j of index.search(p.x - maxDistance, p.y - maxDistance, p.x + maxDistance, p.y + maxDistance)) {
        const q = b[j] as PointObject;
        const d = Math.hypot(p.x - q.x, p.y - q.y);
        if (d > maxDistance) continue;
        candidates.push({ a: i, b: j, score: 1 - d / maxDistance });
        dist.set(`${i},${j}`, d);
      }
    });
  }
  const pairs = matchCandidates(a.length, b.length, candidates);
  return {
    ...pairCounts(a.length, b.length, pairs.length),
    classConfusion: matchedClassConfusion(pairs, (i) => (a[i] as PointObject).cls, (j) => (b[j] as PointObject).cls),
    matches: pairs.map((p) => ({ a: p.a, b: p.b, value: dist.get(`${p.a},${p.b}`) as number })),
  };
}

/** Every pair of readers (r < s) through `match`. */
export function pairwise<T>(readers: readonly (readonly T[])[], match: (a: readonly T[], b: readonly T[]) => ObjectPairResult): Array<{ readerA: number; readerB: number } & ObjectPairResult> {
  const out: Array<{ readerA: number; readerB: number } & ObjectPairResult> = [];
  for (let r = 0; r < readers.length; r++) for (let s = r + 1; s < readers.length; s++) out.push({ readerA: r, readerB: s, ...match(readers[r] as T[], readers[s] as T[]) });
  return out;
}
