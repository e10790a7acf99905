/**
 * Finds the annotation under a point: polygons containing it (the smallest
 * wins, so a cell inside a region is picked before the region), else the
 * nearest outline, line or point within the tolerance.
 */
import { GeomType, flatArea, forEachRing, pointInRings, segmentDistance2 } from '../core/flat-geometry.js';
import type { AnnotationStore, Handle } from './annotation-store.js';
import type { SpatialIndex } from './spatial-index.js';

export interface Hit {
  handle: Handle;
  /** Vertex index (in the flat coordinate list) when the point is on a vertex. */
  vertex: number | null;
}

const scratch: Handle[] = [];

/** `shown`: objects it answers false for are passed over (a hidden class's objects cannot be picked). */
export function hitTest(store: AnnotationStore, index: SpatialIndex, x: number, y: number, tolerance: number, shown?: (h: Handle) => boolean): Hit | null {
  scratch.length = 0;
  index.query(x - tolerance, y - tolerance, x + tolerance, y + tolerance, scratch);
  const t2 = tolerance * tolerance;
  let bestInside: Handle | null = null;
  let bestArea = Infinity;
  let bestNear: Handle | null = null;
  let bestDist = t2;
  let bestEdge: Handle | null = null;
  let bestEdgeDist = t2;
  for (const h of scratch) {
    if (shown && !shown(h)) continue;
    const g = store.geometry(h);
    const c = g.coords;
    if (g.type === GeomType.Polygon || g.type === GeomType.MultiPolygon) {
      if (pointInRings(c, 0, g.type, g.parts, x, y)) {
        const area = flatArea(c, 0, g.type, g.parts);
        if (area < bestArea) {
          bestArea = area;
          bestInside = h;
        }
        continue;
      }
      forEachRing(g.type, g.parts, (start, count) => {
        for (let i = 0; i < count - 1; i++) {
          const k = (start + i) * 2;
          const d = segmentDistance2(x, y, c[k] as number, c[k + 1] as number, c[k + 2] as number, c[k + 3] as number);
          if (d <= bestEdgeDist) {
            bestEdgeDist = d;
            bestEdge = h;
          }
        }
      });
    } else if (g.type === GeomType.LineString) {
      for (let k = 0; k + 3 < c.length; k += 2) {
        const d = segmentDistance2(x, y, c[k] as number, c[k + 1] as number, c[k + 2] as number, c[k + 3] as number);
        if (d <= bestDist) {
          bestDist = d;
          bestNear = h;
        }
      }
    } else {
      for (let k = 0; k + 1 < c.length; k += 2) {
        const d = ((c[k] as number) - x) ** 2 + ((c[k + 1] as number) - y) ** 2;
        if (d <= bestDist) {
          bestDist = d;
          bestNear = h;
        }
      }
    }
  }
  // points and lines first (they have no inside), then the smallest polygon
  // containing the point, then a polygon whose outline passes close by
  const handle = bestNear ?? bestInside ?? bestEdge;
  if (handle === null) return null;
  return { handle, vertex: nearestVertex(store, handle, x, y, tolerance) };
}

/** Index (in doubles) of the vertex within `tolerance` of the point, or null. */
export function nearestVertex(store: AnnotationStore, h: Handle, x: number, y: number, tolerance: number): number | null {
  const c = store.geometry(h).coords;
  let best: number | null = null;
  let bestD = tolerance * tolerance;
  for (let k = 0; k + 1 < c.length; k += 2) {
    const d = ((c[k] as number) - x) ** 2 + ((c[k + 1] as number) - y) ** 2;
    // strictly closer: a ring's closing copy of its first vertex never wins
    if (d < bestD || (best === null && d === bestD)) {
      bestD = d;
      best = k;
    }
  }
  return best;
}
