/**
 * Agreement between readers' objects inside a shared ROI: each reader's
 * live annotations (those they created) whose reference point lies inside
 * the ROI — a cell's outer-ring vertex mean, a point itself —, matched per
 * pair of readers one to one (src/core/agreement/objects.ts): cells at
 * IoU ≥ t, points within a distance in µm (÷ the slide's µm per pixel).
 * Cells are polygon annotations of object type detection or cell; points
 * are Point annotations (MultiPoints count each point). Classes are the
 * annotations' class names (null: no class).
 */
import type { Annotation } from '../../src/core/annotation.js';
import { matchCells, matchPoints, type Cell, type ObjectPairResult, type PointObject } from '../../src/core/agreement/objects.js';
import { WsiError } from '../../src/core/errors.js';
import { flatten, forEachRing, pointInRings } from '../../src/core/flat-geometry.js';
import type { AnnotationStore } from '../store/annotation-store.js';

/** Objects of one reader inside one ROI that one request matches at most. */
export const MAX_OBJECTS = 100_000;
export const CELL_TYPES = new Set(['detection', 'cell']);

export interface ObjectQuery {
  kind: 'cells' | 'points';
  /** cells: the IoU threshold (0, 1]. */
  iou: number;
  /** points: the distance in level-0 pixels. */
  distancePx: number;
}

export interface ObjectPairReport extends Omit<ObjectPairResult, 'classConfusion' | 'matches'> {
  readerA: number;
  readerB: number;
  classConfusion: Array<{ a: string | null; b: string | null; pairs: number }>;
}

interface Roi {
  coords: Float64Array;
  type: number;
  parts: Uint32Array | number[];
  box: [number, number, number, number];
}

export function roiShape(a: Annotation): Roi {
  const f = flatten(a.geometry);
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (let i = 0; i + 1 < f.coords.length; i += 2) {
    x0 = Math.min(x0, f.coords[i] as number);
    x1 = Math.max(x1, f.coords[i] as number);
    y0 = Math.min(y0, f.coords[i + 1] as number);
    y1 = Math.max(y1, f.coords[i + 1] as number);
  }
  return { coords: f.coords, type: f.type, parts: f.parts as Uint32Array, box: [x0, y0, x1, y1] };
}

export interface ReaderObjects {
  cells: Cell[];
  points: PointObject[];
  classes: Array<string | null>;
  /** The annotation id of each cell, or of each point (a MultiPoint's points share one), in the same order. */
  ids: string[];
}

/** A reader's objects of `kind` inside the ROI, with their class names (a page at a time, letting the event loop through between pages). */
export async function objectsOf(store: AnnotationStore, slideId: string, reader: string, roi: Roi, roiId: string, kind: ObjectQuery['kind']): Promise<ReaderObjects> {
  const cells: Cell[] = [];
  const points: PointObject[] = [];
  const classes: Array<string | null> = [];
  const ids: string[] = [];
  const classIndex = new Map<string | null, number>();
  const cls = (name: string | null): number => {
    let k = classIndex.get(name);
    if (k === undefined) {
      classIndex.set(name, (k = classes.length));
      classes.push(name);
    }
    return k;
  };
  const inside = (x: number, y: number): boolean => pointInRings(roi.coords, 0, roi.type, roi.parts, x, y);
  for (let after = 0; ; ) {
    const page = store.list(slideId, { bbox: roi.box, after, limit: 10_000 });
    for (const a of page.annotations) {
      if (a.createdBy !== reader || a.id === roiId) continue;
      if (kind === 'cells') {
        if (!CELL_TYPES.has(a.objectType) || (a.geometry.type !== 'Polygon' && a.geometry.type !== 'MultiPolygon')) continue;
        const f = flatten(a.geometry);
        const rings: Float64Array[] = [];
        forEachRing(f.type, f.parts, (start, count) => rings.push(f.coords.slice(start * 2, (start + count) * 2)));
        const outer = rings[0];
        if (!outer || outer.length < 2) continue;
        let sx = 0;
        let sy = 0;
        for (let i = 0; i < outer.length; i += 2) {
          sx += outer[i] as number;
          sy += outer[i + 1] as number;
        }
        if (!inside(sx / (outer.length / 2), sy / (outer.length / 2))) continue;
        cells.push({ rings, cls: cls(a.classification) });
        ids.push(a.id);
      } else {
        const g = a.geometry;
        const pts = g.type === 'Point' ? [g.coordinates] : g.type === 'MultiPoint' ? g.coordinates : [];
        for (const [x, y] of pts) {
          if (!inside(x, y)) continue;
          points.push({ x, y, cls: cls(a.classification) });
          ids.push(a.id);
        }
      }
      if (cells.length + points.length > MAX_OBJECTS) {
        throw new WsiError('REGION_TOO_LARGE', `reader ${reader} has more than ${MAX_OBJECTS.toLocaleString('en')} ${kind} inside the ROI; one request matches at most that many per reader — draw a smaller ROI`);
      }
    }
    if (page.next === null) break;
    after = page.next;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { cells, points, classes, ids };
}

/** Every pair of readers' objects matched (pure: runs in the matching worker, match-worker.ts). */
export function matchReaders(sets: readonly ReaderObjects[], q: ObjectQuery): { objects: number[]; pairs: ObjectPairReport[] } {
  const pairs: ObjectPairReport[] = [];
  for (let a = 0; a < sets.length; a++) {
    for (let b = a + 1; b < sets.length; b++) {
      const A = sets[a] as (typeof sets)[number];
      const B = sets[b] as (typeof sets)[number];
      const r = q.kind === 'cells' ? matchCells(A.cells, B.cells, q.iou) : matchPoints(A.points, B.points, q.distancePx);
      const { classConfusion, matches: _matches, ...counts } = r;
      pairs.push({ readerA: a, readerB: b, ...counts, classConfusion: classConfusion.map((c) => ({ a: A.classes[c.a] ?? null, b: B.classes[c.b] ?? null, pairs: c.pairs })) });
    }
  }
  return { objects: sets.map((s) => (q.kind === 'cells' ? s.cells.length : s.points.length)), pairs };
}
