/**
 * Hierarchy benchmark (issue 11: parents recomputed on edit touch only the
 * affected objects). In Node, on the client's own store, spatial index and
 * hierarchy (src/state/hierarchy.ts): BENCH_HIER_CELLS cells (default
 * 1,000,000; 9-vertex outlines on a jittered grid) under a 10 × 10 grid of
 * ROIs with a nested ROI in each. Reports:
 *
 * - build: the whole hierarchy from scratch (the baseline an edit is compared with);
 * - move one cell, reshape one nested ROI, delete and re-create one top-level ROI:
 *   median and p95 over repetitions, the objects each recomputed, and the
 *   ratio of the median to the full build, all in the same run.
 */
import { randomUUID } from 'node:crypto';
import type { FlatGeometry } from '../../src/core/flat-geometry.js';
import { AnnotationStore, type AnnotationRecord } from '../../src/state/annotation-store.js';
import { Hierarchy } from '../../src/state/hierarchy.js';
import { SpatialIndex } from '../../src/state/spatial-index.js';
import type { Emit } from './tiles-suite.js';
import { rng } from './workloads.js';

const CELLS = Number(process.env['BENCH_HIER_CELLS'] ?? 1_000_000);
const SIDE = 100_000;

function octagon(cx: number, cy: number, r: number): FlatGeometry {
  const coords = new Float64Array(18);
  for (let k = 0; k <= 8; k++) {
    const a = ((k % 8) / 8) * Math.PI * 2;
    coords[k * 2] = cx + Math.cos(a) * r;
    coords[k * 2 + 1] = cy + Math.sin(a) * r;
  }
  return { type: 4, coords, parts: new Uint32Array([9]) };
}

const box = (x: number, y: number, w: number, h: number): AnnotationRecord['geometry'] => ({ type: 'Polygon', coordinates: [[[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]]] });

function roi(geometry: AnnotationRecord['geometry'], name: string): AnnotationRecord {
  return { id: randomUUID(), kind: 'rectangle', geometry, classification: 'Tumour', name, note: null, locked: false, objectType: 'annotation', properties: {}, version: 1 };
}

function summary(values: number[]): { median: number; p95: number } {
  const s = [...values].sort((a, b) => a - b);
  return { median: +(s[Math.floor(s.length / 2)] as number).toFixed(3), p95: +(s[Math.min(s.length - 1, Math.floor(s.length * 0.95))] as number).toFixed(3) };
}

export async function hierarchySuite(_root: string, emit: Emit): Promise<void> {
  const r = rng(7);
  const store = new AnnotationStore();
  const index = new SpatialIndex(store);
  const rois: AnnotationRecord[] = [];
  const cellSize = SIDE / 10;
  for (let i = 0; i < 10; i++) {
    for (let j = 0; j < 10; j++) {
      rois.push(roi(box(i * cellSize, j * cellSize, cellSize, cellSize), `r${i},${j}`));
      rois.push(roi(box(i * cellSize + cellSize / 4, j * cellSize + cellSize / 4, cellSize / 2, cellSize / 2), `n${i},${j}`));
    }
  }
  store.apply({ create: rois }, 'remote');
  const side = Math.ceil(Math.sqrt(CELLS));
  const pitch = SIDE / side;
  const items: Array<{ record: Omit<AnnotationRecord, 'geometry'>; geometry: FlatGeometry }> = [];
  for (let k = 0; k < CELLS; k++) {
    const cx = ((k % side) + 0.2 + r() * 0.6) * pitch;
    const cy = (Math.floor(k / side) + 0.2 + r() * 0.6) * pitch;
    items.push({ record: { id: randomUUID(), kind: 'polygon', classification: r() < 0.5 ? 'Tumour' : 'Lymphocytes', name: null, note: null, locked: false, objectType: 'cell', properties: {}, version: 1 }, geometry: octagon(cx, cy, 4) });
  }
  store.bulkLoad(items);
  await index.rebuild();

  const builds: number[] = [];
  let h = new Hierarchy(store, index);
  for (let rep = 0; rep < 3; rep++) {
    h.dispose();
    h = new Hierarchy(store, index);
    const t0 = performance.now();
    await h.build();
    builds.push(performance.now() - t0);
  }
  const build = summary(builds);
  emit({ suite: 'hierarchy', metric: 'build', cells: CELLS, rois: rois.length, ms: build, runs: builds.length });

  const time = (name: string, reps: number, edit: (i: number) => void): void => {
    const ms: number[] = [];
    const touched: number[] = [];
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      edit(i);
      ms.push(performance.now() - t0);
      touched.push(h.lastRecomputed);
    }
    const s = summary(ms);
    emit({ suite: 'hierarchy', metric: name, cells: CELLS, ms: s, recomputed: summary(touched).median, ratioToBuild: +(s.median / build.median).toExponential(2), runs: reps });
  };
  // a cell moved by a few pixels (the store edit, the index update and the hierarchy together)
  time('move-cell', 200, (i) => {
    const it = items[(i * 7919) % items.length] as (typeof items)[number];
    const c = it.geometry.coords;
    store.apply({ update: [{ id: it.record.id, changes: { geometry: { type: 'Polygon', coordinates: [[...Array(9)].map((_, k) => [(c[k * 2] as number) + 3, (c[k * 2 + 1] as number) + 3] as [number, number])] } } }] }, 'local');
  });
  // a nested ROI reshaped (grown and shrunk in turn): its own cells are worked out again
  time('reshape-nested-roi', 20, (i) => {
    const n = rois[(i % 50) * 2 + 1] as AnnotationRecord;
    const k = (i % 50) * 2;
    const x = Math.floor(k / 2 / 10) * cellSize;
    const y = ((k / 2) % 10) * cellSize;
    const grow = i % 2 === 0 ? cellSize / 5 : cellSize / 4;
    store.apply({ update: [{ id: n.id, changes: { geometry: box(x + grow, y + grow, cellSize - 2 * grow, cellSize - 2 * grow) } }] }, 'local');
  });
  // a top-level ROI deleted then created again
  time('delete-roi', 10, (i) => {
    store.apply({ delete: [(rois[i * 2] as AnnotationRecord).id] }, 'local');
  });
}
