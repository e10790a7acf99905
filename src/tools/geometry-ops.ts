/**
 * Geometry edits used by the tools: translate, move/insert/delete a vertex,
 * simplify a freehand path, make an outline valid, and union/subtract with a
 * proper polygon-clipping library (polyclip-ts).
 */
import { difference, union } from 'polyclip-ts';
import type { Geometry, LinearRing, Position } from '../core/annotation.js';
import { selfIntersections } from '../core/annotation.js';

type Poly = LinearRing[];

export function translate(g: Geometry, dx: number, dy: number): Geometry {
  return mapVertices(g, (p) => [p[0] + dx, p[1] + dy]);
}

/** Visits every vertex with its flat index (same numbering as FlatGeometry.coords / 2). */
function mapVertices(g: Geometry, fn: (p: Position, i: number) => Position): Geometry {
  let i = 0;
  const m = (p: Position): Position => fn(p, i++);
  switch (g.type) {
    case 'Point':
      return { type: 'Point', coordinates: m(g.coordinates) };
    case 'MultiPoint':
      return { type: 'MultiPoint', coordinates: g.coordinates.map(m) };
    case 'LineString':
      return { type: 'LineString', coordinates: g.coordinates.map(m) };
    case 'Polygon':
      return { type: 'Polygon', coordinates: g.coordinates.map((r) => r.map(m)) };
    case 'MultiPolygon':
      return { type: 'MultiPolygon', coordinates: g.coordinates.map((p) => p.map((r) => r.map(m))) };
  }
}

function rings(g: Geometry): LinearRing[] {
  return g.type === 'Polygon' ? g.coordinates : g.type === 'MultiPolygon' ? g.coordinates.flat() : [];
}

/**
 * Moves vertex `vertex` (flat index) to `to`. For a ring's first vertex its
 * closing copy moves too, so rings stay closed.
 */
export function moveVertex(g: Geometry, vertex: number, to: Position): Geometry {
  const partners = new Set<number>([vertex]);
  let base = 0;
  for (const r of rings(g)) {
    const last = base + r.length - 1;
    if (vertex === base || vertex === last) {
      partners.add(base);
      partners.add(last);
    }
    base += r.length;
  }
  return mapVertices(g, (p, i) => (partners.has(i) ? [to[0], to[1]] : p));
}

/** Where on a polygon's outline a point is closest: ring and segment. */
function nearestEdge(g: Geometry, p: Position): { poly: number; ring: number; seg: number; d2: number } | null {
  let best: { poly: number; ring: number; seg: number; d2: number } | null = null;
  const polys: Poly[] = g.type === 'Polygon' ? [g.coordinates] : g.type === 'MultiPolygon' ? g.coordinates : [];
  polys.forEach((poly, pi) =>
    poly.forEach((ring, ri) => {
      for (let i = 0; i < ring.length - 1; i++) {
        const a = ring[i] as Position;
        const b = ring[i + 1] as Position;
        const dx = b[0] - a[0];
        const dy = b[1] - a[1];
        const l2 = dx * dx + dy * dy;
        const t = l2 === 0 ? 0 : Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / l2));
        const d2 = (a[0] + t * dx - p[0]) ** 2 + (a[1] + t * dy - p[1]) ** 2;
        if (!best || d2 < best.d2) best = { poly: pi, ring: ri, seg: i, d2 };
      }
    }),
  );
  return best;
}

/** Inserts a vertex at `p` into the nearest edge (within `tolerance`), or returns null. */
export function insertVertex(g: Geometry, p: Position, tolerance: number): Geometry | null {
  const e = nearestEdge(g, p);
  if (!e || e.d2 > tolerance * tolerance) return null;
  const edit = (poly: Poly, pi: number): Poly =>
    poly.map((ring, ri) => (pi === e.poly && ri === e.ring ? [...ring.slice(0, e.seg + 1), [p[0], p[1]] as Position, ...ring.slice(e.seg + 1)] : ring));
  if (g.type === 'Polygon') return { type: 'Polygon', coordinates: edit(g.coordinates, 0) };
  if (g.type === 'MultiPolygon') return { type: 'MultiPolygon', coordinates: g.coordinates.map(edit) };
  return null;
}

/** Removes a vertex; null when the ring would have fewer than 3 corners. */
export function deleteVertex(g: Geometry, vertex: number): Geometry | null {
  if (g.type !== 'Polygon' && g.type !== 'MultiPolygon') return null;
  const polys: Poly[] = g.type === 'Polygon' ? [g.coordinates] : g.coordinates;
  let base = 0;
  let ok = true;
  const out = polys.map((poly) =>
    poly.map((ring) => {
      const start = base;
      base += ring.length;
      if (vertex < start || vertex >= start + ring.length) return ring;
      const open = ring.slice(0, -1);
      const k = vertex - start === ring.length - 1 ? 0 : vertex - start;
      open.splice(k, 1);
      if (open.length < 3) ok = false;
      return [...open, open[0] as Position];
    }),
  );
  if (!ok) return null;
  return g.type === 'Polygon' ? { type: 'Polygon', coordinates: out[0] as Poly } : { type: 'MultiPolygon', coordinates: out };
}

/** Douglas–Peucker simplification of an open path. */
export function simplify(points: Position[], tolerance: number): Position[] {
  if (points.length < 3) return points.slice();
  const keep = new Uint8Array(points.length);
  keep[0] = 1;
  keep[points.length - 1] = 1;
  const stack: Array<[number, number]> = [[0, points.length - 1]];
  const t2 = tolerance * tolerance;
  while (stack.length) {
    const [a, b] = stack.pop() as [number, number];
    const pa = points[a] as Position;
    const pb = points[b] as Position;
    let best = -1;
    let bestD = t2;
    for (let i = a + 1; i < b; i++) {
      const p = points[i] as Position;
      const dx = pb[0] - pa[0];
      const dy = pb[1] - pa[1];
      const l2 = dx * dx + dy * dy;
      const t = l2 === 0 ? 0 : Math.max(0, Math.min(1, ((p[0] - pa[0]) * dx + (p[1] - pa[1]) * dy) / l2));
      const d = (pa[0] + t * dx - p[0]) ** 2 + (pa[1] + t * dy - p[1]) ** 2;
      if (d > bestD) {
        bestD = d;
        best = i;
      }
    }
    if (best >= 0) {
      keep[best] = 1;
      stack.push([a, best], [best, b]);
    }
  }
  return points.filter((_, i) => keep[i]);
}

function toGeometry(result: Poly[]): Geometry | null {
  if (result.length === 0) return null;
  return result.length === 1 ? { type: 'Polygon', coordinates: result[0] as Poly } : { type: 'MultiPolygon', coordinates: result };
}

function polysOf(g: Geometry): Poly[] {
  return g.type === 'Polygon' ? [g.coordinates] : g.type === 'MultiPolygon' ? g.coordinates : [];
}

/** A valid polygon for an outline that may cross itself (as a freehand lasso does). */
export function makeValid(g: Geometry): Geometry | null {
  if (selfIntersections(g).length === 0) return g;
  const [first, ...rest] = polysOf(g);
  if (!first) return null;
  return toGeometry(union(first as never, ...(rest as never[])) as unknown as Poly[]);
}

export function unionAll(geoms: Geometry[]): Geometry | null {
  const polys = geoms.flatMap(polysOf);
  const [first, ...rest] = polys;
  if (!first) return null;
  return toGeometry(union(first as never, ...(rest as never[])) as unknown as Poly[]);
}

export function subtract(from: Geometry, cut: Geometry[]): Geometry | null {
  const subject = polysOf(from);
  const clips = cut.flatMap(polysOf);
  if (subject.length === 0) return null;
  return toGeometry(difference(subject as never, ...(clips as never[])) as unknown as Poly[]);
}
