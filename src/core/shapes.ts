/** Polygons for drawn and imported shapes (level-0 pixels). */
import type { LinearRing, Position } from './annotation.js';

/** Closed ring of an axis-aligned rectangle from two opposite corners. */
export function rectangleRing(x0: number, y0: number, x1: number, y1: number): LinearRing {
  const [ax, bx] = x0 <= x1 ? [x0, x1] : [x1, x0];
  const [ay, by] = y0 <= y1 ? [y0, y1] : [y1, y0];
  return [
    [ax, ay],
    [bx, ay],
    [bx, by],
    [ax, by],
    [ax, ay],
  ];
}

/** Closed ring of a rotated rectangle given its centre, size and rotation (radians). */
export function rotatedRectangleRing(cx: number, cy: number, w: number, h: number, rotation: number): LinearRing {
  const c = Math.cos(rotation);
  const s = Math.sin(rotation);
  const corners: Position[] = [
    [-w / 2, -h / 2],
    [w / 2, -h / 2],
    [w / 2, h / 2],
    [-w / 2, h / 2],
  ].map(([dx, dy]) => [cx + (dx as number) * c - (dy as number) * s, cy + (dx as number) * s + (dy as number) * c]);
  return [...corners, corners[0] as Position];
}

/**
 * Closed ring approximating an ellipse. The vertex count grows with size so
 * the outline stays within ~0.25 px of the true ellipse (16…720 vertices).
 */
export function ellipseRing(cx: number, cy: number, rx: number, ry: number, rotation = 0): LinearRing {
  const r = Math.max(Math.abs(rx), Math.abs(ry), 1e-9);
  // chord error r(1 - cos(π/n)) ≤ 0.25  →  n ≥ π / acos(1 - 0.25/r)
  const n = Math.max(16, Math.min(720, Math.ceil(Math.PI / Math.acos(Math.max(-1, 1 - 0.25 / r)))));
  const c = Math.cos(rotation);
  const s = Math.sin(rotation);
  const ring: Position[] = [];
  for (let i = 0; i < n; i++) {
    const t = (i / n) * Math.PI * 2;
    const dx = rx * Math.cos(t);
    const dy = ry * Math.sin(t);
    ring.push([cx + dx * c - dy * s, cy + dx * s + dy * c]);
  }
  ring.push(ring[0] as Position);
  return ring;
}

/** Signed area of a closed ring (positive = counter-clockwise in y-up terms). */
export function ringArea(ring: LinearRing): number {
  let a = 0;
  for (let i = 0; i < ring.length - 1; i++) {
    const p = ring[i] as Position;
    const q = ring[i + 1] as Position;
    a += p[0] * q[1] - q[0] * p[1];
  }
  return a / 2;
}

/** Length of a polyline in pixels. */
export function polylineLength(points: Position[]): number {
  let len = 0;
  for (let i = 1; i < points.length; i++) {
    const p = points[i - 1] as Position;
    const q = points[i] as Position;
    len += Math.hypot(q[0] - p[0], q[1] - p[1]);
  }
  return len;
}
