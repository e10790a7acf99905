/**
 * Geometry as flat typed arrays: `coords` holds x,y pairs of every ring back
 * to back (rings closed, as in GeoJSON), `parts` describes how they group.
 * This is what the client keeps for a million cells; GeoJSON is produced only
 * when an object is sent or edited.
 *
 *   Point        parts = []             coords = [x, y]
 *   MultiPoint   parts = []             coords = points
 *   LineString   parts = []             coords = vertices
 *   Polygon      parts = [n0, n1, …]    vertex count of each ring (outer first)
 *   MultiPolygon parts = [r, n…, r, n…] per polygon: its ring count, then ring sizes
 */
import type { Geometry, LinearRing, Position } from './annotation.js';

export const GeomType = { Point: 1, MultiPoint: 2, LineString: 3, Polygon: 4, MultiPolygon: 5 } as const;
export type GeomTypeCode = (typeof GeomType)[keyof typeof GeomType];

export interface FlatGeometry {
  type: GeomTypeCode;
  coords: Float64Array;
  parts: Uint32Array;
}

export function flatten(g: Geometry): FlatGeometry {
  const xs: number[] = [];
  const parts: number[] = [];
  const push = (p: Position): void => {
    xs.push(p[0], p[1]);
  };
  switch (g.type) {
    case 'Point':
      push(g.coordinates);
      return { type: GeomType.Point, coords: Float64Array.from(xs), parts: new Uint32Array(0) };
    case 'MultiPoint':
    case 'LineString':
      g.coordinates.forEach(push);
      return { type: g.type === 'MultiPoint' ? GeomType.MultiPoint : GeomType.LineString, coords: Float64Array.from(xs), parts: new Uint32Array(0) };
    case 'Polygon':
      for (const r of g.coordinates) {
        parts.push(r.length);
        r.forEach(push);
      }
      return { type: GeomType.Polygon, coords: Float64Array.from(xs), parts: Uint32Array.from(parts) };
    case 'MultiPolygon':
      for (const poly of g.coordinates) {
        parts.push(poly.length);
        for (const r of poly) {
          parts.push(r.length);
          r.forEach(push);
        }
      }
      return { type: GeomType.MultiPolygon, coords: Float64Array.from(xs), parts: Uint32Array.from(parts) };
  }
}

function positions(c: Float64Array, from: number, n: number): Position[] {
  const out: Position[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = [c[(from + i) * 2] as number, c[(from + i) * 2 + 1] as number];
  return out;
}

export function unflatten(f: FlatGeometry): Geometry {
  const n = f.coords.length / 2;
  switch (f.type) {
    case GeomType.Point:
      return { type: 'Point', coordinates: [f.coords[0] as number, f.coords[1] as number] };
    case GeomType.MultiPoint:
      return { type: 'MultiPoint', coordinates: positions(f.coords, 0, n) };
    case GeomType.LineString:
      return { type: 'LineString', coordinates: positions(f.coords, 0, n) };
    case GeomType.Polygon: {
      const rings: LinearRing[] = [];
      let at = 0;
      for (const len of f.parts) {
        rings.push(positions(f.coords, at, len));
        at += len;
      }
      return { type: 'Polygon', coordinates: rings };
    }
    default: {
      const polys: LinearRing[][] = [];
      let at = 0;
      for (let p = 0; p < f.parts.length; ) {
        const ringCount = f.parts[p++] as number;
        const rings: LinearRing[] = [];
        for (let r = 0; r < ringCount; r++) {
          const len = f.parts[p++] as number;
          rings.push(positions(f.coords, at, len));
          at += len;
        }
        polys.push(rings);
      }
      return { type: 'MultiPolygon', coordinates: polys };
    }
  }
}

/** Calls fn(start, count) for every ring (polygons) in vertex units. */
export function forEachRing(type: number, parts: ArrayLike<number>, fn: (start: number, count: number, outer: boolean) => void): void {
  if (type === GeomType.Polygon) {
    let at = 0;
    for (let i = 0; i < parts.length; i++) {
      const len = parts[i] as number;
      fn(at, len, i === 0);
      at += len;
    }
  } else if (type === GeomType.MultiPolygon) {
    let at = 0;
    for (let p = 0; p < parts.length; ) {
      const rc = parts[p++] as number;
      for (let r = 0; r < rc; r++) {
        const len = parts[p++] as number;
        fn(at, len, r === 0);
        at += len;
      }
    }
  }
}

/** A bounding box (min x, min y, max x, max y) that the functions below grow in place. */
export type Box = [number, number, number, number] | Float64Array;

/** Grows `box` to take in the points of coords[start, end); allocates nothing (hot paths reuse one box). */
export function extendBounds(box: Box, coords: ArrayLike<number>, start = 0, end = coords.length): Box {
  let x0 = box[0] as number;
  let y0 = box[1] as number;
  let x1 = box[2] as number;
  let y1 = box[3] as number;
  for (let i = start; i + 1 < end; i += 2) {
    const x = coords[i] as number;
    const y = coords[i + 1] as number;
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  box[0] = x0;
  box[1] = y0;
  box[2] = x1;
  box[3] = y1;
  return box;
}

/** Sets `box` to the empty box, [Infinity, Infinity, -Infinity, -Infinity]. */
export function emptyBounds<B extends Box>(box: B): B {
  box[0] = Infinity;
  box[1] = Infinity;
  box[2] = -Infinity;
  box[3] = -Infinity;
  return box;
}

export function flatBounds(coords: ArrayLike<number>, start = 0, end = coords.length): [number, number, number, number] {
  return extendBounds(emptyBounds([0, 0, 0, 0]), coords, start, end) as [number, number, number, number];
}

/** Bounds of several flat coordinate arrays together (empty: [Infinity, Infinity, -Infinity, -Infinity]). */
export function ringsBounds<B extends Box>(rings: ArrayLike<number>[], into?: B): B {
  const b = emptyBounds(into ?? ([0, 0, 0, 0] as Box as B));
  for (let k = 0; k < rings.length; k++) extendBounds(b, rings[k] as ArrayLike<number>);
  return b;
}

/** Even-odd point-in-polygon over all rings (holes included). */
export function pointInRings(coords: ArrayLike<number>, base: number, type: number, parts: ArrayLike<number>, px: number, py: number): boolean {
  let inside = false;
  forEachRing(type, parts, (start, count) => {
    let j = count - 1;
    for (let i = 0; i < count; j = i++) {
      const xi = coords[base + (start + i) * 2] as number;
      const yi = coords[base + (start + i) * 2 + 1] as number;
      const xj = coords[base + (start + j) * 2] as number;
      const yj = coords[base + (start + j) * 2 + 1] as number;
      if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) inside = !inside;
    }
  });
  return inside;
}

/** Squared distance from a point to segment (ax,ay)-(bx,by). */
export function segmentDistance2(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  let t = len2 === 0 ? 0 : ((px - ax) * dx + (py - ay) * dy) / len2;
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  const qx = ax + t * dx - px;
  const qy = ay + t * dy - py;
  return qx * qx + qy * qy;
}

/** Area of all rings (outer positive, holes subtracted), absolute. */
export function flatArea(coords: ArrayLike<number>, base: number, type: number, parts: ArrayLike<number>): number {
  let total = 0;
  forEachRing(type, parts, (start, count, outer) => {
    let a = 0;
    for (let i = 0; i < count - 1; i++) {
      const x0 = coords[base + (start + i) * 2] as number;
      const y0 = coords[base + (start + i) * 2 + 1] as number;
      const x1 = coords[base + (start + i + 1) * 2] as number;
      const y1 = coords[base + (start + i + 1) * 2 + 1] as number;
      a += x0 * y1 - x1 * y0;
    }
    total += (outer ? 1 : -1) * Math.abs(a / 2);
  });
  return Math.abs(total);
}
