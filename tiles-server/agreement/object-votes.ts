/**
 * Per-object vote counts (issue 14, soft labels for training: "export
 * per-object vote counts in GeoJSON"): the readers' objects inside an ROI
 * grouped into one object each, whose votes are the classes its members
 * were given. Grouping rule (docs/agreement.md): every pair of readers is
 * matched one to one (object-agreement.ts: cells at IoU ≥ t, points within
 * a distance), and a group is a connected component of those matches — two
 * objects are in one group when a chain of pairwise matches joins them. An
 * object no other reader's object matched is a group of one. With 3+
 * readers a component can hold two objects of one reader (A₁–B, B–C,
 * C–A₂); each object is one vote, and `n_readers` counts distinct readers.
 * Pure, so it also runs in vote-worker.ts.
 */
import { matchCells, matchPoints } from '../../src/core/agreement/objects.js';
import type { ObjectQuery, ReaderObjects } from './object-agreement.js';

export interface GroupMember {
  /** Index into the readers. */
  reader: number;
  /** Index into that reader's cells or points. */
  object: number;
}

/** The groups, each ordered by reader then object; groups in the order of their first member. */
export function groupObjects(sets: readonly ReaderObjects[], q: ObjectQuery): GroupMember[][] {
  const sizes = sets.map((s) => (q.kind === 'cells' ? s.cells.length : s.points.length));
  const offset: number[] = [];
  let n = 0;
  for (const size of sizes) {
    offset.push(n);
    n += size;
  }
  const parent = new Int32Array(n);
  for (let i = 0; i < n; i++) parent[i] = i;
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i] as number] as number;
      i = parent[i] as number;
    }
    return i;
  };
  for (let a = 0; a < sets.length; a++) {
    for (let b = a + 1; b < sets.length; b++) {
      const A = sets[a] as ReaderObjects;
      const B = sets[b] as ReaderObjects;
      const r = q.kind === 'cells' ? matchCells(A.cells, B.cells, q.iou) : matchPoints(A.points, B.points, q.distancePx);
      for (const m of r.matches) {
        const x = find((offset[a] as number) + m.a);
        const y = find((offset[b] as number) + m.b);
        // the smaller index is the root, so a group's root is its first member
        if (x !== y) parent[Math.max(x, y)] = Math.min(x, y);
      }
    }
  }
  const groups = new Map<number, GroupMember[]>();
  for (let r = 0; r < sets.length; r++) {
    for (let o = 0; o < (sizes[r] as number); o++) {
      const root = find((offset[r] as number) + o);
      let g = groups.get(root);
      if (!g) groups.set(root, (g = []));
      g.push({ reader: r, object: o });
    }
  }
  return [...groups.values()];
}
