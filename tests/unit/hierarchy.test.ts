/**
 * The hierarchy (issue 11): an object's parent is the smallest ROI holding
 * its centroid (src/core/hierarchy-rule.ts states the rule). Bad and edge
 * cases: a self-intersecting ROI, a cell exactly on a ROI edge, overlapping
 * sibling ROIs, point objects, an empty (zero-area) ROI, identical ROIs.
 * Edits (move, reshape, delete of a parent or a child) keep the live
 * hierarchy equal to one built from scratch, and recompute only the objects
 * the edit can affect (checked at 100,000 cells).
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Geometry, Position } from '../../src/core/annotation.js';
import { flatten } from '../../src/core/flat-geometry.js';
import { centroidOf, containsPoint } from '../../src/core/hierarchy-rule.js';
import { AnnotationStore, type AnnotationRecord } from '../../src/state/annotation-store.js';
import { Hierarchy } from '../../src/state/hierarchy.js';
import { SpatialIndex } from '../../src/state/spatial-index.js';

function rec(geometry: Geometry, extra: Partial<AnnotationRecord> = {}): AnnotationRecord {
  return { id: randomUUID(), kind: 'polygon', geometry, classification: 'Tumour', name: null, note: null, locked: false, objectType: 'annotation', properties: {}, version: 0, ...extra };
}
const ring = (pts: Position[]): Position[] => [...pts, pts[0] as Position];
const box = (x: number, y: number, w: number, h: number, extra: Partial<AnnotationRecord> = {}): AnnotationRecord =>
  rec({ type: 'Polygon', coordinates: [ring([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])] }, extra);
const cell = (x: number, y: number, cls = 'Lymphocytes', r = 2): AnnotationRecord => ({ ...box(x - r, y - r, 2 * r, 2 * r, { objectType: 'cell', classification: cls }) });
const point = (x: number, y: number, cls = 'Tumour'): AnnotationRecord => rec({ type: 'Point', coordinates: [x, y] }, { kind: 'point', classification: cls });

async function setup(records: AnnotationRecord[]): Promise<{ store: AnnotationStore; h: Hierarchy; of: (r: AnnotationRecord) => string | null }> {
  const store = new AnnotationStore();
  const index = new SpatialIndex(store);
  const h = new Hierarchy(store, index);
  store.apply({ create: records }, 'remote');
  await index.rebuild();
  await h.build();
  const of = (r: AnnotationRecord): string | null => {
    const p = h.parentOf(store.handleOf(r.id) as number);
    return p === null ? null : store.idOf(p);
  };
  return { store, h, of };
}

describe('the parent rule', () => {
  it('nests cells and ROIs under the smallest ROI holding their centroid; counts roll up', async () => {
    const outer = box(0, 0, 1000, 1000);
    const inner = box(100, 100, 300, 300);
    const innermost = box(150, 150, 50, 50);
    const c1 = cell(500, 500, 'Tumour');
    const c2 = cell(250, 250, 'Lymphocytes');
    const c3 = cell(175, 175, 'Lymphocytes');
    const out = cell(2000, 2000);
    const { store, h, of } = await setup([outer, inner, innermost, c1, c2, c3, out]);
    expect([of(outer), of(inner), of(innermost)]).toEqual([null, outer.id, inner.id]);
    expect([of(c1), of(c2), of(c3), of(out)]).toEqual([outer.id, inner.id, innermost.id, null]);
    expect(Object.fromEntries(h.countsUnder(store.handleOf(outer.id) as number))).toEqual({ Tumour: 1, Lymphocytes: 2 });
    expect(Object.fromEntries(h.countsUnder(store.handleOf(inner.id) as number))).toEqual({ Lymphocytes: 2 });
  });

  it('a centroid exactly on a ROI edge is inside it (closed regions); on a shared edge the smaller ROI wins', async () => {
    const big = box(0, 0, 100, 100);
    const small = box(100, 0, 20, 100); // shares the edge x = 100 with big
    const onRight = point(100, 50);
    const onLeft = point(0, 50);
    const onCorner = point(0, 0);
    const { of } = await setup([big, small, onRight, onLeft, onCorner]);
    expect(of(onRight)).toBe(small.id);
    expect(of(onLeft)).toBe(big.id);
    expect(of(onCorner)).toBe(big.id);
  });

  it('overlapping sibling ROIs: a shared cell goes to the smaller one, neither is the other\'s parent', async () => {
    const a = box(0, 0, 100, 100);
    const b = box(60, 0, 60, 100); // overlaps a; b's centroid (90, 50) is inside a, but b is smaller... a would be its parent
    const c = box(50, 0, 100, 100); // same area as a, overlapping: ordered by id, one way only
    const shared = cell(80, 50);
    const { of, store } = await setup([a, b, c, shared]);
    expect(of(shared)).toBe(b.id);
    // a and c have equal areas: at most one is the other's parent, never both
    expect(of(a) === c.id && of(c) === a.id).toBe(false);
    expect(store.size).toBe(4);
  });

  it('two identical ROIs nest one way only (no cycle)', async () => {
    const a = box(0, 0, 10, 10);
    const b = box(0, 0, 10, 10);
    const { of } = await setup([a, b]);
    const parents = [of(a), of(b)];
    expect(parents.filter((p) => p !== null)).toHaveLength(1);
  });

  it('an empty (zero-area) ROI, a line and a point contain nothing', async () => {
    const flat = rec({ type: 'Polygon', coordinates: [ring([[0, 0], [100, 0], [200, 0]])] });
    const line = rec({ type: 'LineString', coordinates: [[0, 0], [100, 100]] }, { kind: 'polyline' });
    const p = point(50, 0);
    const q = point(50, 50);
    const { of, h, store } = await setup([flat, line, p, q]);
    expect([of(p), of(q), of(line), of(flat)]).toEqual([null, null, null, null]);
    expect(h.isRoi(store.handleOf(flat.id) as number)).toBe(false);
  });

  it('a self-intersecting (figure-eight) ROI contains by the even-odd rule, as the viewer fills it', async () => {
    const bow = rec({ type: 'Polygon', coordinates: [ring([[0, 0], [100, 100], [100, 0], [0, 100]])] });
    const inLobe = point(10, 50);
    const outside = point(50, 10);
    // the lobes' shoelace areas cancel: a figure-eight has no positive area, so it holds nothing (documented)
    const f = flatten(bow.geometry);
    expect(containsPoint(f, 10, 50)).toBe(true);
    expect(containsPoint(f, 50, 10)).toBe(false);
    const { of } = await setup([bow, inLobe, outside]);
    expect([of(inLobe), of(outside)]).toEqual([null, null]);
    // an unequal figure-eight keeps area |A1 − A2| > 0 and holds what lies in its lobes
    const uneven = rec({ type: 'Polygon', coordinates: [ring([[0, 0], [100, 100], [100, 0], [0, 200]])] });
    const r = await setup([uneven, point(10, 100), point(60, 20)]);
    expect(r.store.size).toBe(3);
  });

  it('detections and cells never have children; a polygon centroid respects holes', async () => {
    const bigCell = box(0, 0, 100, 100, { objectType: 'detection' });
    const p = point(50, 50);
    const { of } = await setup([bigCell, p]);
    expect(of(p)).toBe(null);
    const holed = flatten({ type: 'Polygon', coordinates: [ring([[0, 0], [10, 0], [10, 10], [0, 10]]), ring([[0, 0], [5, 0], [5, 10], [0, 10]])] });
    expect(centroidOf(holed)).toEqual([7.5, 5]);
  });
});

describe('the hierarchy follows edits', () => {
  function fresh(store: AnnotationStore): Map<string, string | null> {
    // the oracle: every object's parent by a plain loop over all ROIs (no index, no increments)
    const out = new Map<string, string | null>();
    const rois: Array<{ id: string; area: number; g: ReturnType<typeof flatten> }> = [];
    for (let k = 0; k < store.capacity; k++) {
      if (!store.isLive(k)) continue;
      const r = store.record(k);
      const g = flatten(r.geometry);
      if (r.objectType === 'annotation' && g.type === 4) {
        let a = 0;
        const c = g.coords;
        for (let i = 0; i < c.length - 2; i += 2) a += (c[i] as number) * (c[i + 3] as number) - (c[i + 2] as number) * (c[i + 1] as number);
        if (Math.abs(a) > 0) rois.push({ id: r.id, area: Math.abs(a / 2), g });
      }
    }
    for (let k = 0; k < store.capacity; k++) {
      if (!store.isLive(k)) continue;
      const r = store.record(k);
      const [x, y] = centroidOf(flatten(r.geometry));
      const me = rois.find((q) => q.id === r.id);
      let best: (typeof rois)[number] | null = null;
      for (const q of rois) {
        if (q.id === r.id || (me && !(q.area > me.area || (q.area === me.area && q.id > me.id)))) continue;
        if (!containsPoint(q.g, x, y)) continue;
        if (!best || q.area < best.area || (q.area === best.area && q.id < best.id)) best = q;
      }
      out.set(r.id, best?.id ?? null);
    }
    return out;
  }
  function live(store: AnnotationStore, h: Hierarchy): Map<string, string | null> {
    const out = new Map<string, string | null>();
    for (let k = 0; k < store.capacity; k++) {
      if (!store.isLive(k)) continue;
      const p = h.parentOf(k);
      out.set(store.idOf(k), p === null ? null : store.idOf(p));
    }
    return out;
  }

  it('move, reshape and delete of parents and children keep it equal to a fresh computation', async () => {
    const outer = box(0, 0, 1000, 1000);
    const inner = box(100, 100, 300, 300);
    const cells = Array.from({ length: 200 }, (_, i) => cell(20 + (i % 20) * 50, 20 + Math.floor(i / 20) * 100, i % 2 ? 'Tumour' : 'Stroma'));
    const { store, h } = await setup([outer, inner, ...cells]);
    expect(live(store, h)).toEqual(fresh(store));
    // move the inner ROI
    store.apply({ update: [{ id: inner.id, changes: { geometry: box(500, 500, 300, 300).geometry } }] }, 'local');
    expect(live(store, h)).toEqual(fresh(store));
    // reshape the outer ROI so it no longer holds the inner one
    store.apply({ update: [{ id: outer.id, changes: { geometry: box(0, 0, 450, 1000).geometry } }] }, 'local');
    expect(live(store, h)).toEqual(fresh(store));
    // move a child into the inner ROI, delete another
    store.apply({ update: [{ id: (cells[0] as AnnotationRecord).id, changes: { geometry: cell(600, 600).geometry } }], delete: [(cells[1] as AnnotationRecord).id] }, 'local');
    expect(live(store, h)).toEqual(fresh(store));
    // delete the parent: its children go up
    store.apply({ delete: [inner.id] }, 'local');
    expect(live(store, h)).toEqual(fresh(store));
    // a new ROI over some cells takes them
    store.apply({ create: [box(0, 0, 120, 120)] }, 'local');
    expect(live(store, h)).toEqual(fresh(store));
  });

  it('at 100,000 cells an edit recomputes only the objects it can affect', async () => {
    const rois: AnnotationRecord[] = [];
    for (let i = 0; i < 10; i++) for (let j = 0; j < 10; j++) rois.push(box(i * 1000, j * 1000, 1000, 1000));
    const cells: AnnotationRecord[] = [];
    for (let k = 0; k < 100_000; k++) cells.push(cell(5 + (k % 316) * 31.6, 5 + Math.floor(k / 316) * 31.6, k % 3 ? 'Tumour' : 'Lymphocytes', 1));
    const { store, h } = await setup([...rois, ...cells]);
    // move one cell: one recomputation
    store.apply({ update: [{ id: (cells[5] as AnnotationRecord).id, changes: { geometry: cell(1500, 1500).geometry } }] }, 'local');
    expect(h.lastRecomputed).toBe(1);
    // reshape one 1000×1000 ROI: its own cells (about 1,000) and not the other 99,000
    const r = rois[11] as AnnotationRecord;
    store.apply({ update: [{ id: r.id, changes: { geometry: box(1000, 1000, 500, 500).geometry } }] }, 'local');
    expect(h.lastRecomputed).toBeGreaterThan(500);
    expect(h.lastRecomputed).toBeLessThan(2_000);
    let total = 0;
    for (const roi of h.rois()) for (const n of h.countsUnder(roi).values()) total += n;
    // every cell lies in some ROI except those left outside the shrunken one
    expect(total).toBeLessThan(100_000);
    expect(total).toBeGreaterThan(99_000);
  });
  it('edits made while the first build runs (it yields every 50,000 objects) are applied when it ends', async () => {
    const store = new AnnotationStore();
    const index = new SpatialIndex(store);
    const h = new Hierarchy(store, index);
    const cells: AnnotationRecord[] = [];
    for (let k = 0; k < 120_000; k++) cells.push(cell(5 + (k % 400) * 10, 5 + Math.floor(k / 400) * 10, 'Tumour', 1));
    const left = box(0, 0, 2000, 3000);
    store.apply({ create: [left, ...cells] }, 'remote');
    await index.rebuild();
    const building = h.build();
    await new Promise((r) => setTimeout(r, 0));
    expect(h.ready).toBe(false);
    // during the build: a new ROI over the right half, and a cell moved from the left into it
    const right = box(2000, 0, 2000, 3000);
    const moved = cells[0] as AnnotationRecord;
    store.apply({ create: [right], update: [{ id: moved.id, changes: { geometry: cell(3000, 100).geometry } }] }, 'local');
    await building;
    const parentId = (r: AnnotationRecord): string | null => {
      const p = h.parentOf(store.handleOf(r.id) as number);
      return p === null ? null : store.idOf(p);
    };
    expect(parentId(moved)).toBe(right.id);
    expect(parentId(cells[1] as AnnotationRecord)).toBe(left.id);
    const rightCount = [...h.countsUnder(store.handleOf(right.id) as number).values()].reduce((a, b) => a + b, 0);
    // cells with x in [2000, 4000] (x = 5 + 10k for k ≥ 200: 200 columns of 300 rows) plus the moved one
    expect(rightCount).toBe(200 * 300 + 1);
  });
});
