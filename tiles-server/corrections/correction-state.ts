/**
 * The correction state of a model's prediction, decided in one place from
 * the prediction and its corrected object (never stored, so it cannot drift
 * from the objects): no corrected object → untouched; deleted → rejected;
 * otherwise the class and the outline are compared with the prediction's —
 * neither changed → accepted, only the class → relabelled (a change of
 * label alone is a correction), only the outline → edited, both → both.
 * Also the geometry measures the report needs: area and IoU of polygons.
 */
import { intersection, type Geom } from 'polyclip-ts';
import type { Geometry, LinearRing } from '../../src/core/annotation.js';

import type { CorrectionState } from '../../src/core/corrections-report.js';

export type { CorrectionState };

export const CORRECTION_STATES: readonly CorrectionState[] = ['untouched', 'accepted', 'edited', 'relabelled', 'both', 'rejected'];

export interface Shape {
  classification: string | null;
  geometry: Geometry;
}

export function sameGeometry(a: Geometry, b: Geometry): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function correctionState(prediction: Shape, corrected: (Shape & { deleted: boolean }) | null): CorrectionState {
  if (corrected === null) return 'untouched';
  if (corrected.deleted) return 'rejected';
  const relabelled = (corrected.classification ?? null) !== (prediction.classification ?? null);
  const edited = !sameGeometry(corrected.geometry, prediction.geometry);
  if (relabelled && edited) return 'both';
  if (relabelled) return 'relabelled';
  if (edited) return 'edited';
  return 'accepted';
}

function ringArea(r: ReadonlyArray<readonly [number, number]>): number {
  let s = 0;
  for (let i = 0; i + 1 < r.length; i++) {
    const p = r[i] as readonly [number, number];
    const q = r[i + 1] as readonly [number, number];
    s += p[0] * q[1] - q[0] * p[1];
  }
  return Math.abs(s) / 2;
}

/** Area of polygons given as lists of rings (the first outer, the rest holes). */
function polysArea(polys: ReadonlyArray<ReadonlyArray<ReadonlyArray<readonly [number, number]>>>): number {
  let a = 0;
  for (const poly of polys) poly.forEach((ring, i) => (a += i === 0 ? ringArea(ring) : -ringArea(ring)));
  return a;
}

function asPolys(g: Geometry): LinearRing[][] | null {
  if (g.type === 'Polygon') return [g.coordinates];
  if (g.type === 'MultiPolygon') return g.coordinates;
  return null;
}

/**
 * Intersection over union of two areal shapes; null when either is not a
 * polygon (points and lines have no area), has no area, or cannot be
 * clipped (an outline that crosses itself).
 */
export function iou(a: Geometry, b: Geometry): number | null {
  const pa = asPolys(a);
  const pb = asPolys(b);
  if (!pa || !pb) return null;
  const areaA = polysArea(pa);
  const areaB = polysArea(pb);
  if (!(areaA > 0) || !(areaB > 0)) return null;
  let inter: number;
  try {
    inter = polysArea(intersection(pa as Geom, pb as Geom));
  } catch {
    return null;
  }
  const union = areaA + areaB - inter;
  return union > 0 ? Math.min(1, Math.max(0, inter / union)) : null;
}

/** Whether a point lies inside an areal geometry (even-odd over every ring). */
export function pointInside(x: number, y: number, g: Geometry): boolean {
  const polys = asPolys(g);
  if (!polys) return false;
  let inside = false;
  for (const poly of polys) {
    for (const ring of poly) {
      for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        const [xi, yi] = ring[i] as [number, number];
        const [xj, yj] = ring[j] as [number, number];
        if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
      }
    }
  }
  return inside;
}
