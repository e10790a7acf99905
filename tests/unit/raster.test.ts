/**
 * The mask rasterizer against per-pixel reference implementations of its
 * documented rules: the PNPOLY crossing test at every pixel centre (zero
 * differing pixels allowed) and the distance to the polyline (differences
 * allowed only where the distance is within 1e-9 px of the radius).
 */
import { describe, expect, it } from 'vitest';
import { polygonSpans, strokeSpans, type PixelBox } from '../../src/core/mask/raster.js';

type Rings = number[][];

/** mulberry32: a small seeded generator so every run checks the same cases. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------- references

/** PNPOLY at one point, literally the documented rule (i = k, j = k − 1). */
function insideRef(rings: Rings, px: number, py: number): boolean {
  let c = false;
  for (const ring of rings) {
    const n = ring.length >> 1;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const xi = ring[2 * i] as number;
      const yi = ring[2 * i + 1] as number;
      const xj = ring[2 * j] as number;
      const yj = ring[2 * j + 1] as number;
      if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) c = !c;
    }
  }
  return c;
}

/** The reference bitmap of `frame`, one insideRef call per pixel centre. */
function referencePerPixel(rings: Rings, frame: PixelBox): Uint8Array {
  const w = frame.x1 - frame.x0;
  const out = new Uint8Array(w * (frame.y1 - frame.y0));
  for (let y = frame.y0; y < frame.y1; y++) {
    for (let x = frame.x0; x < frame.x1; x++) if (insideRef(rings, x + 0.5, y + 0.5)) out[(y - frame.y0) * w + (x - frame.x0)] = 1;
  }
  return out;
}

/**
 * The same rule organised by row, for big polygons: the y-condition of an
 * edge does not depend on px and its crossing expression does not either,
 * so both are evaluated once per row (same expressions, same values); each
 * pixel then counts the edges with px < crossing.
 */
function referenceByRow(rings: Rings, frame: PixelBox): Uint8Array {
  const w = frame.x1 - frame.x0;
  const out = new Uint8Array(w * (frame.y1 - frame.y0));
  const xs: number[] = [];
  for (let y = frame.y0; y < frame.y1; y++) {
    const py = y + 0.5;
    xs.length = 0;
    for (const ring of rings) {
      const n = ring.length >> 1;
      for (let i = 0, j = n - 1; i < n; j = i++) {
        const xi = ring[2 * i] as number;
        const yi = ring[2 * i + 1] as number;
        const xj = ring[2 * j] as number;
        const yj = ring[2 * j + 1] as number;
        if (yi > py !== yj > py) xs.push(((xj - xi) * (py - yi)) / (yj - yi) + xi);
      }
    }
    if (xs.length === 0) continue;
    for (let x = frame.x0; x < frame.x1; x++) {
      const px = x + 0.5;
      let c = 0;
      for (const xc of xs) if (px < xc) c++;
      if (c & 1) out[(y - frame.y0) * w + (x - frame.x0)] = 1;
    }
  }
  return out;
}

/** Distance from (px, py) to the polyline (a single point: to that point). */
function distanceToPolyline(path: number[], px: number, py: number): number {
  const n = path.length >> 1;
  if (n === 1) return Math.hypot(px - (path[0] as number), py - (path[1] as number));
  let best = Infinity;
  for (let k = 0; k + 1 < n; k++) {
    const ax = path[2 * k] as number;
    const ay = path[2 * k + 1] as number;
    const bx = path[2 * k + 2] as number;
    const by = path[2 * k + 3] as number;
    const vx = bx - ax;
    const vy = by - ay;
    const l2 = vx * vx + vy * vy;
    const t = l2 === 0 ? 0 : Math.min(1, Math.max(0, ((px - ax) * vx + (py - ay) * vy) / l2));
    best = Math.min(best, Math.hypot(px - (ax + t * vx), py - (ay + t * vy)));
  }
  return best;
}

/**
 * The stroke rule exactly as documented in raster.ts (squared distance to
 * each segment, t clamped, compared with r·r), so it can be compared bit for bit.
 */
function coveredByDocumentedRule(path: number[], radius: number, px: number, py: number): boolean {
  const n = path.length >> 1;
  const r2 = radius * radius;
  for (let k = 0; k < Math.max(1, n - 1); k++) {
    const ax = path[2 * k] as number;
    const ay = path[2 * k + 1] as number;
    const dx = n === 1 ? 0 : (path[2 * k + 2] as number) - ax;
    const dy = n === 1 ? 0 : (path[2 * k + 3] as number) - ay;
    const len2 = dx * dx + dy * dy;
    const t = len2 > 0 ? Math.min(1, Math.max(0, ((px - ax) * dx + (py - ay) * dy) / len2)) : 0;
    const ex = px - ax - t * dx;
    const ey = py - ay - t * dy;
    if (ex * ex + ey * ey <= r2) return true;
  }
  return false;
}

// ---------------------------------------------------------------- ours

interface Rasterized {
  bitmap: Uint8Array;
  spans: number;
  violations: string[];
}

/** Collects spans into a bitmap of `frame`, checking order, clipping and that runs are maximal. */
function collect(frame: PixelBox, clip: PixelBox, run: (emit: (y: number, x0: number, x1: number) => void) => void): Rasterized {
  const w = frame.x1 - frame.x0;
  const bitmap = new Uint8Array(w * (frame.y1 - frame.y0));
  const violations: string[] = [];
  let lastY = -Infinity;
  let lastX1 = -Infinity;
  let spans = 0;
  run((y, x0, x1) => {
    spans++;
    const bad = (why: string): void => {
      if (violations.length < 10) violations.push(`${why}: y=${y} [${x0}, ${x1})`);
    };
    if (!Number.isInteger(y) || !Number.isInteger(x0) || !Number.isInteger(x1)) bad('non-integer span');
    if (x0 >= x1) bad('empty span');
    if (y < clip.y0 || y >= clip.y1 || x0 < clip.x0 || x1 > clip.x1) bad('outside clip');
    if (y < lastY) bad('rows out of order');
    if (y === lastY && x0 <= lastX1) bad('overlapping or touching spans');
    if (y !== lastY) lastX1 = -Infinity;
    lastY = y;
    lastX1 = x1;
    if (y < frame.y0 || y >= frame.y1 || x0 < frame.x0 || x1 > frame.x1) {
      bad('outside test frame');
      return;
    }
    bitmap.fill(1, (y - frame.y0) * w + (x0 - frame.x0), (y - frame.y0) * w + (x1 - frame.x0));
  });
  return { bitmap, spans, violations };
}

function bboxOf(rings: number[][], pad: number): PixelBox {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const ring of rings) {
    for (let k = 0; k < ring.length; k += 2) {
      x0 = Math.min(x0, ring[k] as number);
      x1 = Math.max(x1, ring[k] as number);
      y0 = Math.min(y0, ring[k + 1] as number);
      y1 = Math.max(y1, ring[k + 1] as number);
    }
  }
  return { x0: Math.floor(x0) - pad, y0: Math.floor(y0) - pad, x1: Math.ceil(x1) + pad, y1: Math.ceil(y1) + pad };
}

function clipBitmap(bitmap: Uint8Array, frame: PixelBox, clip: PixelBox): Uint8Array {
  const w = frame.x1 - frame.x0;
  const out = bitmap.slice();
  for (let y = frame.y0; y < frame.y1; y++) {
    for (let x = frame.x0; x < frame.x1; x++) {
      if (x < clip.x0 || x >= clip.x1 || y < clip.y0 || y >= clip.y1) out[(y - frame.y0) * w + (x - frame.x0)] = 0;
    }
  }
  return out;
}

function differing(a: Uint8Array, b: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

/** Rasterizes with ours and the reference over the padded bbox (optionally clipped); returns the differing pixel count. */
function comparePolygon(rings: Rings, opts: { clip?: PixelBox; byRow?: boolean } = {}): { diff: number; covered: number; violations: string[] } {
  const frame = bboxOf(rings, 2);
  const clip = opts.clip ?? frame;
  const ours = collect(frame, clip, (emit) => polygonSpans(rings, clip, emit));
  let ref = opts.byRow ? referenceByRow(rings, frame) : referencePerPixel(rings, frame);
  if (opts.clip) ref = clipBitmap(ref, frame, opts.clip);
  let covered = 0;
  for (const v of ref) covered += v;
  return { diff: differing(ours.bitmap, ref), covered, violations: ours.violations };
}

// ---------------------------------------------------------------- generators

/** A star-shaped (simple) polygon: sorted angles, random radii. */
function star(r: () => number, cx: number, cy: number, radius: number, n: number, jitter = 0.6): number[] {
  const angles = Array.from({ length: n }, () => r() * Math.PI * 2).sort((a, b) => a - b);
  const ring: number[] = [];
  for (const a of angles) {
    const rr = radius * (1 - jitter + r() * jitter);
    ring.push(cx + Math.cos(a) * rr, cy + Math.sin(a) * rr);
  }
  return ring;
}

/** Random points in a box: self-intersecting in general. */
function scribble(r: () => number, x: number, y: number, size: number, n: number): number[] {
  const ring: number[] = [];
  for (let k = 0; k < n; k++) ring.push(x + r() * size, y + r() * size);
  return ring;
}

/** Points on a half-pixel lattice (vertices on pixel centres and pixel edges), with duplicates and repeated rows/columns. */
function lattice(r: () => number, size: number, n: number): number[] {
  const ring: number[] = [];
  let x = Math.floor(r() * size * 2) / 2;
  let y = Math.floor(r() * size * 2) / 2;
  for (let k = 0; k < n; k++) {
    const move = r();
    if (move < 0.15) {
      // duplicate point
    } else if (move < 0.4) {
      x = Math.floor(r() * size * 2) / 2; // horizontal edge
    } else if (move < 0.55) {
      y = Math.floor(r() * size * 2) / 2; // vertical edge
    } else {
      x = Math.floor(r() * size * 2) / 2;
      y = Math.floor(r() * size * 2) / 2;
    }
    ring.push(x, y);
  }
  return ring;
}

/** An irregular blob: a star with smooth radial noise. */
function blob(r: () => number, cx: number, cy: number, radius: number, n: number): number[] {
  const harmonics = Array.from({ length: 6 }, (_, k) => ({ amp: (0.25 * r()) / (k + 1), phase: r() * Math.PI * 2, freq: k + 2 }));
  const ring: number[] = [];
  for (let k = 0; k < n; k++) {
    const a = (k / n) * Math.PI * 2;
    let rr = 1 + (r() - 0.5) * 0.02;
    for (const h of harmonics) rr += h.amp * Math.sin(h.freq * a + h.phase);
    ring.push(cx + Math.cos(a) * radius * rr, cy + Math.sin(a) * radius * rr);
  }
  return ring;
}

function expectExact(rings: Rings, opts: { clip?: PixelBox; byRow?: boolean } = {}, label = ''): number {
  const { diff, covered, violations } = comparePolygon(rings, opts);
  expect(violations, label).toEqual([]);
  expect(diff, `${label} differing pixels for ${JSON.stringify(rings).slice(0, 400)}`).toBe(0);
  return covered;
}

// ---------------------------------------------------------------- polygon tests

describe('polygonSpans agrees pixel for pixel with the PNPOLY rule', () => {
  it('random star-shaped simple polygons (3–50 vertices)', () => {
    const r = seeded(1);
    let covered = 0;
    for (let i = 0; i < 300; i++) {
      const n = 3 + Math.floor(r() * 48);
      covered += expectExact([star(r, 100 + r() * 50, 80 + r() * 50, 3 + r() * 40, n)], {}, `star ${i}`);
    }
    expect(covered).toBeGreaterThan(10_000);
  });

  it('random self-intersecting polygons', () => {
    const r = seeded(2);
    for (let i = 0; i < 300; i++) {
      expectExact([scribble(r, r() * 100 - 50, r() * 100 - 50, 5 + r() * 60, 4 + Math.floor(r() * 40))], {}, `scribble ${i}`);
    }
  });

  it('polygons with holes (outer + 1–3 inner rings, overlapping holes too)', () => {
    const r = seeded(3);
    for (let i = 0; i < 200; i++) {
      const cx = 200 + r() * 10;
      const cy = 300 + r() * 10;
      const R = 20 + r() * 40;
      const rings = [star(r, cx, cy, R, 8 + Math.floor(r() * 30), 0.2)];
      const holes = 1 + Math.floor(r() * 3);
      for (let h = 0; h < holes; h++) {
        const a = r() * Math.PI * 2;
        const d = r() * R * 0.4;
        rings.push(star(r, cx + Math.cos(a) * d, cy + Math.sin(a) * d, R * (0.1 + r() * 0.3), 3 + Math.floor(r() * 15)));
      }
      expectExact(rings, {}, `holes ${i}`);
    }
  });

  it('a hole is a hole: the square ring inside a square ring', () => {
    const rings = [
      [0, 0, 10, 0, 10, 10, 0, 10],
      [3, 3, 7, 3, 7, 7, 3, 7],
    ];
    const rows: Array<[number, number, number]> = [];
    polygonSpans(rings, { x0: -5, y0: -5, x1: 20, y1: 20 }, (y, x0, x1) => rows.push([y, x0, x1]));
    expect(rows.filter(([y]) => y === 5)).toEqual([
      [5, 0, 3],
      [5, 7, 10],
    ]);
    expect(rows.length).toBe(3 + 4 * 2 + 3);
  });

  it('self-touching rings (a vertex on another edge) at integer and half-pixel positions', () => {
    const r = seeded(4);
    for (let i = 0; i < 200; i++) {
      const s = 1 + Math.floor(r() * 20) / 2;
      const ox = Math.floor(r() * 40) / 2;
      const oy = Math.floor(r() * 40) / 2;
      const t = Math.floor(r() * 9 + 1) / 10;
      // the 4th vertex touches the bottom edge (0,0)-(10,0); the second ring touches the first one's corner
      const base = [0, 0, 10, 0, 10, 10, 10 * t, 0, 0, 10];
      const ring = base.map((v, k) => (k & 1 ? oy + v * s : ox + v * s));
      const corner = [10, 10, 14, 10, 14, 14].map((v, k) => (k & 1 ? oy + v * s : ox + v * s));
      expectExact([ring], {}, `touch ${i}`);
      expectExact([ring, corner], {}, `touch2 ${i}`);
    }
  });

  it('lattice rings: duplicate consecutive points, horizontal edges, vertices on pixel centres and edges', () => {
    const r = seeded(5);
    for (let i = 0; i < 400; i++) {
      const rings = [lattice(r, 6 + Math.floor(r() * 30), 3 + Math.floor(r() * 30))];
      if (r() < 0.3) rings.push(lattice(r, 20, 3 + Math.floor(r() * 10)));
      expectExact(rings, {}, `lattice ${i}`);
    }
  });

  it('one-decimal coordinates (as QuPath writes them): crossings a rounding error away from a centre', () => {
    // with 0.1-grid vertices the exact crossing is often a half-integer that the floating
    // expression misses by an ulp, on either side depending on the edge's orientation
    const r = seeded(11);
    const tenth = (v: number): number => Math.round(v * 10) / 10;
    for (let i = 0; i < 400; i++) {
      const ring = i % 2 ? scribble(r, 0, 0, 20, 4 + Math.floor(r() * 20)).map(tenth) : star(r, 12, 12, 10, 5 + Math.floor(r() * 30)).map(tenth);
      expectExact([ring], {}, `decimal ${i}`);
    }
  });

  it('closed rings (first point repeated) equal open ones; orientation does not change the area', () => {
    const r = seeded(6);
    for (let i = 0; i < 50; i++) {
      const ring = star(r, 50, 50, 20, 12);
      const closed = [...ring, ring[0] as number, ring[1] as number];
      const a = collect({ x0: 0, y0: 0, x1: 100, y1: 100 }, { x0: 0, y0: 0, x1: 100, y1: 100 }, (e) => polygonSpans([ring], { x0: 0, y0: 0, x1: 100, y1: 100 }, e));
      const b = collect({ x0: 0, y0: 0, x1: 100, y1: 100 }, { x0: 0, y0: 0, x1: 100, y1: 100 }, (e) => polygonSpans([closed], { x0: 0, y0: 0, x1: 100, y1: 100 }, e));
      expect(differing(a.bitmap, b.bitmap)).toBe(0);
      expectExact([closed]);
    }
  });

  it('cells of a few pixels (radius 1–4, 16–32 vertices), some typed arrays', () => {
    const r = seeded(7);
    for (let i = 0; i < 3000; i++) {
      const ring = star(r, 1000 + r() * 512, 2000 + r() * 512, 1 + r() * 3, 16 + Math.floor(r() * 17), 0.4);
      const rings = i % 2 ? [ring] : [Float64Array.from(ring) as unknown as number[]];
      expectExact(rings, {}, `cell ${i}`);
    }
  });

  it('the row-organised reference equals the literal per-pixel one', () => {
    const r = seeded(8);
    for (let i = 0; i < 100; i++) {
      const rings = [i % 2 ? scribble(r, 0, 0, 40, 20) : lattice(r, 30, 20)];
      const frame = bboxOf(rings, 2);
      expect(differing(referenceByRow(rings, frame), referencePerPixel(rings, frame))).toBe(0);
    }
  });

  it('large ROIs (200–2,000 vertices) over dozens of 512-px tiles, whole bbox compared', () => {
    const r = seeded(9);
    let covered = 0;
    for (let i = 0; i < 6; i++) {
      const n = 200 + Math.floor(r() * 1801);
      const radius = 800 + r() * 700;
      const ring = blob(r, 20_000 + r() * 512, 30_000 + r() * 512, radius, n);
      covered += expectExact([ring], { byRow: true }, `roi ${i}`);
    }
    // an ROI with a hole, a sliver and a spike
    const outer = blob(r, 5_000, 5_000, 1200, 2000);
    const hole = blob(r, 5_100, 4_900, 300, 400);
    covered += expectExact([outer, hole, [3000.5, 3000, 7000.25, 3001.75, 3000, 3003]], { byRow: true }, 'roi with hole');
    expect(covered).toBeGreaterThan(6 * Math.PI * 600 * 600);
  });

  it('clip boxes cutting polygons', () => {
    const r = seeded(10);
    for (let i = 0; i < 300; i++) {
      const rings = i % 3 === 0 ? [scribble(r, 0, 0, 60, 12)] : i % 3 === 1 ? [lattice(r, 40, 16)] : [star(r, 30, 30, 30, 20), star(r, 30, 30, 10, 8)];
      const bb = bboxOf(rings, 0);
      const x0 = bb.x0 + Math.floor(r() * (bb.x1 - bb.x0));
      const y0 = bb.y0 + Math.floor(r() * (bb.y1 - bb.y0));
      const clip = { x0, y0, x1: x0 + Math.floor(r() * 50), y1: y0 + Math.floor(r() * 50) };
      expectExact(rings, { clip }, `clip ${i}`);
    }
    // a big ROI clipped to one mask tile
    const roi = blob(r, 1500, 1500, 1000, 1500);
    expectExact([roi], { clip: { x0: 1024, y0: 512, x1: 1536, y1: 1024 }, byRow: true }, 'roi clipped to a tile');
  });

  it('empty and degenerate input emits nothing and does not throw', () => {
    const box = { x0: -100, y0: -100, x1: 100, y1: 100 };
    const cases: Rings[] = [[], [[]], [[1, 2]], [[0, 0, 10, 10]], [[0, 0, 5, 5, 10, 10]], [[3, 3, 3, 3, 3, 3]], [[0, 0, 10, 0, 20, 0]], [[0, 0, 10, 0, 10, 10, 0, 10, 0, 0, 10, 0, 10, 10, 0, 10]]];
    for (const rings of cases) {
      let n = 0;
      polygonSpans(rings, box, () => n++);
      expect(n, JSON.stringify(rings)).toBe(0);
      if (rings.some((ring) => ring.length > 0)) expectExact(rings);
    }
    // a zero-area ring follows the rule too: here its two edges put the crossing of the
    // centre (18.5, 23.5) one rounding apart (18.5 and 18.500000000000004), so the rule marks it
    const sliver = [[19.6, 25.9, 8.6, 1.9]];
    const marked: number[][] = [];
    polygonSpans(sliver, box, (y, a, b) => marked.push([y, a, b]));
    expect(marked).toEqual([[23, 18, 19]]);
    expect(insideRef(sliver, 18.5, 23.5)).toBe(true);
    expectExact(sliver);
    const square = [[0, 0, 10, 0, 10, 10, 0, 10]];
    for (const clip of [
      { x0: 5, y0: 5, x1: 5, y1: 8 },
      { x0: 5, y0: 8, x1: 9, y1: 2 },
      { x0: 20, y0: 20, x1: 30, y1: 30 },
      { x0: -30, y0: 0, x1: 0, y1: 10 },
    ]) {
      let n = 0;
      polygonSpans(square, clip, () => n++);
      expect(n, JSON.stringify(clip)).toBe(0);
    }
  });

  it('a unit square on pixel edges covers exactly its pixel; a centre on a left edge is in, on a right edge out', () => {
    const spans: number[][] = [];
    polygonSpans([[2, 3, 3, 3, 3, 4, 2, 4]], { x0: 0, y0: 0, x1: 10, y1: 10 }, (y, a, b) => spans.push([y, a, b]));
    expect(spans).toEqual([[3, 2, 3]]);
    const half: number[][] = [];
    polygonSpans([[2.5, 0, 4.5, 0, 4.5, 1, 2.5, 1]], { x0: 0, y0: 0, x1: 10, y1: 10 }, (y, a, b) => half.push([y, a, b]));
    expect(half).toEqual([[0, 2, 4]]);
  });

  it('non-finite coordinates, odd-length rings and bad clip boxes throw RangeError', () => {
    const box = { x0: 0, y0: 0, x1: 10, y1: 10 };
    expect(() => polygonSpans([[0, 0, Number.NaN, 1, 2, 2]], box, () => undefined)).toThrow(RangeError);
    expect(() => polygonSpans([[0, 0, 5, 5, 2, Infinity]], box, () => undefined)).toThrow(/non-finite/);
    expect(() => polygonSpans([[0, 0, 5, 5, 2]], box, () => undefined)).toThrow(RangeError);
    expect(() => polygonSpans([[0, 0, 5, 5, 2, 0]], { ...box, x1: 9.5 }, () => undefined)).toThrow(RangeError);
  });

  it('a sink that rasterizes again (re-entrant use) gets correct results', () => {
    const outer: number[][] = [];
    const inner: number[][] = [];
    polygonSpans([[0, 0, 4, 0, 4, 4, 0, 4]], { x0: 0, y0: 0, x1: 10, y1: 10 }, (y, a, b) => {
      outer.push([y, a, b]);
      if (y === 1) polygonSpans([[0, 0, 2, 0, 2, 2]], { x0: 0, y0: 0, x1: 10, y1: 10 }, (yy, aa, bb) => inner.push([yy, aa, bb]));
    });
    expect(outer).toEqual([0, 1, 2, 3].map((y) => [y, 0, 4]));
    // the diagonal passes through the centres (0.5, 0.5) and (1.5, 1.5): a crossing on the left of a centre counts
    expect(inner).toEqual([
      [0, 0, 2],
      [1, 1, 2],
    ]);
  });
});

// ---------------------------------------------------------------- stroke tests

interface StrokeCheck {
  violations: string[];
  /** Differing pixels whose distance is not within 1e-9 of the radius. */
  real: number;
  /** Differing pixels against the documented squared-distance formula (expected: none at all). */
  documented: number;
  ties: number;
  covered: number;
}

function compareStroke(path: number[], radius: number, clip?: PixelBox): StrokeCheck {
  const frame = bboxOf([path], Math.ceil(radius) + 2);
  const box = clip ?? frame;
  const ours = collect(frame, box, (emit) => strokeSpans(path, radius, box, emit));
  const w = frame.x1 - frame.x0;
  let real = 0;
  let ties = 0;
  let covered = 0;
  let documented = 0;
  for (let y = frame.y0; y < frame.y1; y++) {
    for (let x = frame.x0; x < frame.x1; x++) {
      const inClip = x >= box.x0 && x < box.x1 && y >= box.y0 && y < box.y1;
      const d = distanceToPolyline(path, x + 0.5, y + 0.5);
      const ref = inClip && d <= radius ? 1 : 0;
      const mine = ours.bitmap[(y - frame.y0) * w + (x - frame.x0)];
      covered += ref;
      if ((inClip && coveredByDocumentedRule(path, radius, x + 0.5, y + 0.5) ? 1 : 0) !== mine) documented++;
      if (ref !== mine) {
        if (Math.abs(d - radius) < 1e-9 && inClip) ties++;
        else real++;
      }
    }
  }
  return { violations: ours.violations, real, ties, covered, documented };
}

function expectStroke(path: number[], radius: number, clip?: PixelBox, label = ''): StrokeCheck {
  const c = compareStroke(path, radius, clip);
  expect(c.violations, label).toEqual([]);
  expect(c.real, `${label} ${JSON.stringify({ path: path.slice(0, 20), radius, clip })}`).toBe(0);
  expect(c.documented, `${label} against the documented formula`).toBe(0);
  return c;
}

/** A half-pixel-lattice coordinate, or a random one. */
function coord(r: () => number, base: number, span: number): number {
  return r() < 0.5 ? base + Math.floor(r() * span * 2) / 2 : base + r() * span;
}

describe('strokeSpans agrees with distance(centre, polyline) <= radius', () => {
  it('single points (discs), radius 0.5–40, on centres, edges and anywhere', () => {
    const r = seeded(21);
    for (let i = 0; i < 300; i++) {
      const radius = i % 4 === 0 ? Math.floor(1 + r() * 80) / 2 : 0.5 + r() * 39.5;
      expectStroke([coord(r, 100, 10), coord(r, 200, 10)], radius, undefined, `disc ${i}`);
    }
  });

  it('straight strokes, any direction', () => {
    const r = seeded(22);
    for (let i = 0; i < 300; i++) {
      const path = [coord(r, 0, 60), coord(r, 0, 60), coord(r, 0, 60), coord(r, 0, 60)];
      if (i % 5 === 0) path[3] = path[1] as number; // horizontal
      if (i % 5 === 1) path[2] = path[0] as number; // vertical
      expectStroke(path, 0.5 + r() * 20, undefined, `straight ${i}`);
    }
  });

  it('zig-zag and self-crossing strokes are unions (no holes), duplicate points allowed', () => {
    const r = seeded(23);
    for (let i = 0; i < 120; i++) {
      const n = 3 + Math.floor(r() * 18);
      const path: number[] = [];
      for (let k = 0; k < n; k++) {
        if (i % 2 === 0) path.push(10 * k + r() * 5, (k & 1) * (10 + r() * 30));
        else path.push(coord(r, 0, 80), coord(r, 0, 80));
        if (r() < 0.1) path.push(path[path.length - 2] as number, path[path.length - 1] as number);
      }
      expectStroke(path, 0.5 + r() * (i % 3 === 0 ? 40 : 6), undefined, `zigzag ${i}`);
    }
  });

  it('a dense zig-zag: a hundred segments on every row', () => {
    const r = seeded(25);
    const path: number[] = [];
    for (let k = 0; k < 120; k++) path.push(k * 3 + r(), k & 1 ? 60 + r() * 5 : r() * 5);
    expectStroke(path, 0.7);
    expectStroke(path, 4);
  });

  it('a figure-eight stroke covers its crossing', () => {
    const path = [0, 0, 40, 40, 40, 0, 0, 40, 0, 0];
    const c = expectStroke(path, 3);
    expect(c.covered).toBeGreaterThan(0);
    let hit = false;
    strokeSpans(path, 3, { x0: 20, y0: 20, x1: 21, y1: 21 }, () => (hit = true));
    expect(hit).toBe(true);
  });

  it('clipped strokes', () => {
    const r = seeded(24);
    for (let i = 0; i < 150; i++) {
      const path = [coord(r, 0, 60), coord(r, 0, 60), coord(r, 0, 60), coord(r, 0, 60), coord(r, 0, 60), coord(r, 0, 60)];
      const x0 = Math.floor(r() * 60) - 10;
      const y0 = Math.floor(r() * 60) - 10;
      expectStroke(path, 0.5 + r() * 15, { x0, y0, x1: x0 + Math.floor(r() * 40), y1: y0 + Math.floor(r() * 40) }, `clipped ${i}`);
    }
  });

  it('degenerate input emits nothing; non-finite input throws RangeError', () => {
    const box = { x0: -50, y0: -50, x1: 50, y1: 50 };
    for (const [path, radius] of [
      [[], 5],
      [[1, 1], -1],
      [[1, 1, 5, 5], -0.5],
      [[0.2, 0.2], 0.1],
    ] as Array<[number[], number]>) {
      let n = 0;
      strokeSpans(path, radius, box, () => n++);
      expect(n).toBe(0);
    }
    let n = 0;
    strokeSpans([0, 0, 10, 10], 5, { x0: 0, y0: 0, x1: 0, y1: 10 }, () => n++);
    expect(n).toBe(0);
    // radius 0 covers exactly the centres on the path
    const spans: number[][] = [];
    strokeSpans([0.5, 0.5, 3.5, 0.5], 0, box, (y, a, b) => spans.push([y, a, b]));
    expect(spans).toEqual([[0, 0, 4]]);
    expect(() => strokeSpans([0, Number.NaN], 1, box, () => undefined)).toThrow(RangeError);
    expect(() => strokeSpans([0, 0, 1, -Infinity], 1, box, () => undefined)).toThrow(RangeError);
    expect(() => strokeSpans([0, 0], Number.NaN, box, () => undefined)).toThrow(RangeError);
    expect(() => strokeSpans([0, 0], Infinity, box, () => undefined)).toThrow(RangeError);
    expect(() => strokeSpans([0, 0, 1], 1, box, () => undefined)).toThrow(RangeError);
  });
});
