/**
 * The one home of the parent rule (QuPath's, for detections): an object's
 * parent is the smallest ROI that contains its centroid. Used by the
 * client's live hierarchy (state/hierarchy.ts) and by tests; pure, on flat
 * geometry, so a million cells need no GeoJSON.
 *
 * The rule, exactly:
 * - a **ROI** (a possible parent) is an object of objectType "annotation"
 *   whose geometry is a Polygon or MultiPolygon of area > 0. Detections and
 *   cells never have children (as in QuPath); lines, points and empty
 *   (zero-area) polygons never contain anything;
 * - the **centroid** is the area centroid of a polygon (holes subtracted),
 *   the mean vertex of a zero-area polygon, line or MultiPoint, and the
 *   point itself for a Point;
 * - **contains** is the even-odd rule (as the viewer fills: holes are
 *   outside, a self-intersecting ring's crossed lobes alternate), and a
 *   centroid **exactly on an edge counts as inside** (a closed region), so a
 *   cell on the border of two ROIs goes to the smaller one;
 * - **smallest** is by area; equal areas are ordered by id, and a ROI's
 *   parent must come strictly later in that order than the ROI itself, so
 *   two identical ROIs nest one way and no cycle can form. Among
 *   overlapping sibling ROIs the smaller one wins the cells they share.
 */
import { GeomType, flatArea, forEachRing, pointInRings, segmentDistance2 } from './flat-geometry.js';

export interface FlatShape {
  type: number;
  coords: ArrayLike<number>;
  parts: ArrayLike<number>;
}

/** objectTypes that never have children (QuPath's detections). */
const LEAF_TYPES = new Set(['detection', 'cell', 'tile']);

/** The area of a shape that can be a parent, or 0 when it cannot be one. */
export function containerArea(objectType: string, g: FlatShape): number {
  if (LEAF_TYPES.has(objectType) || objectType !== 'annotation') return 0;
  if (g.type !== GeomType.Polygon && g.type !== GeomType.MultiPolygon) return 0;
  return flatArea(g.coords, 0, g.type, g.parts);
}

function meanVertex(coords: ArrayLike<number>): [number, number] {
  let sx = 0;
  let sy = 0;
  const n = coords.length / 2;
  for (let i = 0; i < coords.length; i += 2) {
    sx += coords[i] as number;
    sy += coords[i + 1] as number;
  }
  return n === 0 ? [NaN, NaN] : [sx / n, sy / n];
}

/** The centroid the rule places an object by (see the file comment). */
export function centroidOf(g: FlatShape): [number, number] {
  if (g.type === GeomType.Point) return [g.coords[0] as number, g.coords[1] as number];
  if (g.type !== GeomType.Polygon && g.type !== GeomType.MultiPolygon) return meanVertex(g.coords);
  let a = 0;
  let cx = 0;
  let cy = 0;
  forEachRing(g.type, g.parts, (start, count, outer) => {
    // signed shoelace per ring, oriented so outer rings add and holes subtract
    let ra = 0;
    let rx = 0;
    let ry = 0;
    for (let i = 0; i < count - 1; i++) {
      const x0 = g.coords[(start + i) * 2] as number;
      const y0 = g.coords[(start + i) * 2 + 1] as number;
      const x1 = g.coords[(start + i + 1) * 2] as number;
      const y1 = g.coords[(start + i + 1) * 2 + 1] as number;
      const c = x0 * y1 - x1 * y0;
      ra += c;
      rx += (x0 + x1) * c;
      ry += (y0 + y1) * c;
    }
    const sign = (outer ? 1 : -1) * (ra < 0 ? -1 : 1);
    a += (sign * ra) / 2;
    cx += (sign * rx) / 6;
    cy += (sign * ry) / 6;
  });
  if (Math.abs(a) < 1e-12) return meanVertex(g.coords);
  return [cx / a, cy / a];
}

/** Even-odd containment with the boundary counted as inside. */
export function containsPoint(g: FlatShape, x: number, y: number): boolean {
  if (pointInRings(g.coords, 0, g.type, g.parts, x, y)) return true;
  let onEdge = false;
  forEachRing(g.type, g.parts, (start, count) => {
    for (let i = 0; i < count - 1 && !onEdge; i++) {
      const k = (start + i) * 2;
      if (segmentDistance2(x, y, g.coords[k] as number, g.coords[k + 1] as number, g.coords[k + 2] as number, g.coords[k + 3] as number) === 0) onEdge = true;
    }
  });
  return onEdge;
}

/** True when ROI (areaA, idA) may be the parent of ROI (areaB, idB): strictly later in (area, id) order. */
export function ranksAbove(areaA: number, idA: string, areaB: number, idB: string): boolean {
  return areaA > areaB || (areaA === areaB && idA > idB);
}
