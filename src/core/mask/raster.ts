/**
 * The deterministic mask rasterizer: polygons (even-odd, any number of rings)
 * and brush strokes (capsules along a polyline) to horizontal pixel spans.
 * Pure and DOM-free; the browser workers and the server use the same code,
 * so the same input always gives the same bytes.
 *
 * Sampling rule. Pixel (x, y) is the square [x, x+1) × [y, y+1) in level-0
 * image coordinates; it is covered iff its centre (x + 0.5, y + 0.5) is.
 * Nothing else about the square matters (no area coverage, no
 * anti-aliasing, no "outline" pixels).
 *
 * Fill rule (polygonSpans). All rings are taken together under the even-odd
 * rule, so holes, overlapping rings and self-intersecting rings need no
 * orientation. A ring is flat [x0, y0, x1, y1, …]; the closing edge from the
 * last point back to the first is implied (a repeated first point is
 * harmless: it adds a zero-length edge). For the centre (px, py) the edges
 * of every ring are visited as in W. R. Franklin's PNPOLY — for vertex k of
 * a ring, i = k and j = k − 1 (j = last point for k = 0) — and edge j→i
 * counts iff
 *
 *     ((yi > py) !== (yj > py)) && (px < (xj - xi) * (py - yi) / (yj - yi) + xi)
 *
 * evaluated in IEEE-754 double precision exactly as written. The centre is
 * inside iff the count is odd. Consequences: horizontal edges never count,
 * an edge covers the rows whose centre satisfies min(yi, yj) <= py <
 * max(yi, yj), and a centre exactly on a left-side crossing is inside while
 * one exactly on a right-side crossing is outside. The scanline below
 * computes each crossing with that same expression and compares pixel
 * centres with it exactly, so it agrees with the per-pixel test bit for bit.
 *
 * Stroke rule (strokeSpans). A stroke of radius r along the polyline
 * p0, p1, …, pm covers the centres c with distance(c, polyline) <= r, i.e.
 * the union of the capsules of its segments (a single point is a disc, a
 * repeated point a zero-length segment). Per segment a→b the test is
 *
 *     t = clamp(((cx - ax)·dx + (cy - ay)·dy) / (dx² + dy²), 0, 1)   (t = 0 if dx = dy = 0)
 *     (cx - ax - t·dx)² + (cy - ay - t·dy)² <= r·r
 *
 * with d = b − a. A self-crossing stroke is a union: it never makes a hole.
 * Where the distance is within ~1e-9 px of r another implementation's
 * rounding may disagree; elsewhere every implementation of this rule agrees.
 *
 * Output. Spans are maximal runs of covered pixels: rows in increasing y,
 * spans of a row in increasing x, non-empty, non-overlapping and not
 * touching (adjacent runs are merged), all inside the clip box. Coordinates
 * must be finite (NaN or ±Infinity throws a RangeError). Empty input (no
 * rings, empty rings, an empty clip box, a negative radius) emits nothing and
 * never throws. Degenerate rings (one or two distinct points, collinear
 * points) follow the same rule and so cover nothing, with one rare exception
 * that the rule itself makes: a centre lying exactly on such a ring, where
 * the two opposite edges give crossings one rounding apart (e.g. the ring
 * [19.6, 25.9, 8.6, 1.9] and pixel (18, 23)). We keep the rule exact rather
 * than special-case it, so any reproduction of the rule gets the same pixel.
 */

/** Integer pixel bounds, half-open: [x0, x1) × [y0, y1). */
export interface PixelBox {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** Receives pixels x0 … x1−1 of row y (x0 < x1). */
export type SpanSink = (y: number, x0: number, x1: number) => void;

/** Smallest integer x whose centre x + 0.5 is >= v (exact for |v| < 2^51; callers keep it in int32 range). */
function centreCeil(v: number): number {
  let x = Math.ceil(v - 0.5);
  if (x + 0.5 < v) x += 1;
  else if (x - 0.5 >= v) x -= 1;
  return x | 0; // never −0
}

/** centreCeil(v) clamped to [lo, hi]; exact even for huge v. */
function centreCeilIn(v: number, lo: number, hi: number): number {
  if (v <= lo + 0.5) return lo;
  if (v > hi - 0.5) return hi;
  return centreCeil(v);
}

const INT32_MAX = 2147483647;

function isBound(v: number): boolean {
  return Number.isInteger(v) && v >= -INT32_MAX && v <= INT32_MAX;
}

/** Validates the clip box; false when it is empty. */
function checkClip(clip: PixelBox): boolean {
  const { x0, y0, x1, y1 } = clip;
  if (!isBound(x0) || !isBound(y0) || !isBound(x1) || !isBound(y1)) {
    throw new RangeError(`raster: clip box bounds must be integers within ±(2^31 − 1), got ${JSON.stringify(clip)}`);
  }
  return x1 > x0 && y1 > y0;
}

function describeInput(ring: number): string {
  return ring < 0 ? 'stroke path' : `ring ${ring}`;
}

/** Throws unless `coords` is flat x,y pairs of finite numbers; `ring` < 0 names the stroke path. */
function checkCoordinates(coords: ArrayLike<number>, ring: number): void {
  const n = coords.length;
  if ((n & 1) !== 0) throw new RangeError(`raster: ${describeInput(ring)} has an odd number of coordinates (${n}); expected flat x,y pairs`);
  for (let k = 0; k < n; k++) {
    const v = coords[k] as number;
    if (v - v !== 0) throw new RangeError(`raster: ${describeInput(ring)} has a non-finite coordinate ${v} at index ${k}`);
  }
}

/** Growable typed scratch buffers, reused across calls (no per-row allocation). */
class Scratch {
  busy = false;
  /** Per edge/segment, stride 4: polygon xi, yi, xj − xi, yj − yi; stroke ax, ay, bx − ax, by − ay. */
  edge = new Float64Array(4 * 256);
  /** Per edge/segment: first row after its last row. */
  rowEnd = new Int32Array(256);
  /** Per edge/segment: next in its start-row bucket (−1 ends). */
  next = new Int32Array(256);
  /** Per row of the sweep: first edge starting there (−1: none). */
  head = new Int32Array(1024);
  /** Active edges of the current row, and their crossings (kept sorted by crossing). */
  active = new Int32Array(256);
  cross = new Float64Array(256);
  /** Stroke: integer intervals [start, end) of the current row. */
  ivStart = new Float64Array(256);
  ivEnd = new Float64Array(256);

  reserveEdges(n: number): void {
    if (n <= this.rowEnd.length) return;
    const size = Math.max(n, this.rowEnd.length * 2);
    this.edge = new Float64Array(4 * size);
    this.rowEnd = new Int32Array(size);
    this.next = new Int32Array(size);
    this.active = new Int32Array(size);
    this.cross = new Float64Array(size);
    this.ivStart = new Float64Array(size);
    this.ivEnd = new Float64Array(size);
  }

  reserveRows(n: number): void {
    if (n > this.head.length) this.head = new Int32Array(Math.max(n, this.head.length * 2));
  }
}

const shared = new Scratch();

/** The shared scratch, or a private one when a sink re-enters the rasterizer. */
function acquire(): Scratch {
  if (!shared.busy) {
    shared.busy = true;
    return shared;
  }
  const s = new Scratch();
  s.busy = true;
  return s;
}

/**
 * Rasterizes polygon rings under the even-odd rule, deciding each pixel at
 * its centre exactly as the PNPOLY crossing test documented at the top of
 * this module does, and emits the covered spans inside `clip`.
 *
 * @param rings each ring flat [x0, y0, x1, y1, …] in level-0 pixels, closed or not
 * @param clip integer pixel box; nothing outside it is emitted
 * @param emit receives the spans, rows in increasing y, spans in increasing x
 * @throws RangeError on a non-finite coordinate, an odd-length ring or a non-integer clip box
 */
export function polygonSpans(rings: ArrayLike<number>[], clip: PixelBox, emit: SpanSink): void {
  let total = 0;
  for (let r = 0; r < rings.length; r++) {
    const ring = rings[r] as ArrayLike<number>;
    checkCoordinates(ring, r);
    total += ring.length >> 1;
  }
  if (!checkClip(clip) || total === 0) return;
  const s = acquire();
  try {
    fillRings(s, rings, total, clip, emit);
  } finally {
    s.busy = false;
  }
}

function fillRings(s: Scratch, rings: ArrayLike<number>[], total: number, clip: PixelBox, emit: SpanSink): void {
  const cx0 = clip.x0;
  const cx1 = clip.x1;
  const cy0 = clip.y0;
  const cy1 = clip.y1;
  s.reserveEdges(total);
  const edge = s.edge;
  const rowEnd = s.rowEnd;
  const next = s.next;

  // Edges that cover at least one row centre inside the clip, with their row range.
  // rowStart is kept in `next` until the buckets are built.
  let count = 0;
  let rowMin = cy1;
  let rowMax = cy0;
  for (let r = 0; r < rings.length; r++) {
    const ring = rings[r] as ArrayLike<number>;
    const n = ring.length >> 1;
    if (n === 0) continue;
    // a vertex's row bound is shared by its two edges: rows y with
    // min(yi, yj) <= y + 0.5 < max(yi, yj) are [min(ci, cj), max(ci, cj)), ci = centreCeil(yi)
    let xj = ring[2 * n - 2] as number;
    let yj = ring[2 * n - 1] as number;
    let cj = centreCeilIn(yj, cy0, cy1);
    for (let k = 0; k < n; k++) {
      const xi = ring[2 * k] as number;
      const yi = ring[2 * k + 1] as number;
      const ci = centreCeilIn(yi, cy0, cy1);
      if (ci !== cj) {
        const start = ci < cj ? ci : cj;
        const end = ci < cj ? cj : ci;
        const o = 4 * count;
        edge[o] = xi;
        edge[o + 1] = yi;
        edge[o + 2] = xj - xi;
        edge[o + 3] = yj - yi;
        rowEnd[count] = end;
        next[count] = start;
        if (start < rowMin) rowMin = start;
        if (end > rowMax) rowMax = end;
        count++;
      }
      xj = xi;
      yj = yi;
      cj = ci;
    }
  }
  if (count === 0) return;

  const head = bucketByStartRow(s, count, rowMin, rowMax);

  const active = s.active;
  const cross = s.cross;
  let nActive = 0;
  for (let y = rowMin; y < rowMax; y++) {
    const py = y + 0.5;
    // keep the edges still active (in last row's crossing order), recompute their crossings
    let w = 0;
    for (let k = 0; k < nActive; k++) {
      const e = active[k] as number;
      if ((rowEnd[e] as number) > y) {
        const o = 4 * e;
        const xi = edge[o] as number;
        const yi = edge[o + 1] as number;
        active[w] = e;
        cross[w] = ((edge[o + 2] as number) * (py - yi)) / (edge[o + 3] as number) + xi;
        w++;
      }
    }
    for (let e = head[y - rowMin] as number; e >= 0; e = next[e] as number) {
      const o = 4 * e;
      const xi = edge[o] as number;
      const yi = edge[o + 1] as number;
      active[w] = e;
      cross[w] = ((edge[o + 2] as number) * (py - yi)) / (edge[o + 3] as number) + xi;
      w++;
    }
    nActive = w;
    if (w === 0) continue;

    // insertion sort by crossing: nearly sorted already, so close to linear
    for (let i = 1; i < w; i++) {
      const v = cross[i] as number;
      if (v >= (cross[i - 1] as number)) continue;
      const e = active[i] as number;
      let j = i - 1;
      while (j >= 0 && (cross[j] as number) > v) {
        cross[j + 1] = cross[j] as number;
        active[j + 1] = active[j] as number;
        j--;
      }
      cross[j + 1] = v;
      active[j + 1] = e;
    }

    // inside iff cross[2k] <= px < cross[2k+1]; merge runs that touch
    let runStart = 0;
    let runEnd = 0;
    let open = false;
    for (let k = 0; k + 1 < w; k += 2) {
      const x0 = centreCeilIn(cross[k] as number, cx0, cx1);
      const x1 = centreCeilIn(cross[k + 1] as number, cx0, cx1);
      if (x0 >= x1) continue;
      if (open && x0 === runEnd) {
        runEnd = x1;
      } else {
        if (open) emit(y, runStart, runEnd);
        runStart = x0;
        runEnd = x1;
        open = true;
      }
    }
    if (open) emit(y, runStart, runEnd);
  }
}

/**
 * Rasterizes a brush stroke: every pixel whose centre lies within `radius`
 * of the polyline `path` (one point: a disc), as documented at the top of
 * this module, emitted as merged spans inside `clip`.
 *
 * @param path flat [x0, y0, x1, y1, …] in level-0 pixels
 * @param radius brush radius in level-0 pixels (negative: nothing)
 * @param clip integer pixel box; nothing outside it is emitted
 * @param emit receives the spans, rows in increasing y, spans in increasing x
 * @throws RangeError on a non-finite coordinate or radius, an odd-length path or a non-integer clip box
 */
export function strokeSpans(path: ArrayLike<number>, radius: number, clip: PixelBox, emit: SpanSink): void {
  checkCoordinates(path, -1);
  if (radius - radius !== 0) throw new RangeError(`raster: stroke radius must be finite, got ${radius}`);
  const points = path.length >> 1;
  if (!checkClip(clip) || points === 0 || radius < 0) return;
  const s = acquire();
  try {
    sweepStroke(s, path, points, radius, clip, emit);
  } finally {
    s.busy = false;
  }
}

/** Squared distance from (px, py) to the segment at offset o of `seg` (ax, ay, dx, dy). */
function segmentDistance2(seg: Float64Array, o: number, px: number, py: number): number {
  const dx = seg[o + 2] as number;
  const dy = seg[o + 3] as number;
  const wx = px - (seg[o] as number);
  const wy = py - (seg[o + 1] as number);
  const len2 = dx * dx + dy * dy;
  let t = len2 > 0 ? (wx * dx + wy * dy) / len2 : 0;
  if (t < 0) t = 0;
  else if (t > 1) t = 1;
  const ex = wx - t * dx;
  const ey = wy - t * dy;
  return ex * ex + ey * ey;
}

/** Interval of the capsule's row chord, computed in closed form (refined exactly afterwards). */
const chord = new Float64Array(2);

/**
 * The x-range where the line y = py meets the capsule of radius r around
 * the segment (ax, ay) + t·(dx, dy), into `chord`; false if it misses.
 * The capsule is convex, so the union of the two end discs and the band is
 * one interval.
 */
function capsuleChord(ax: number, ay: number, dx: number, dy: number, r: number, py: number): boolean {
  let lo = Infinity;
  let hi = -Infinity;
  const r2 = r * r;
  const va = py - ay;
  if (va * va <= r2) {
    const h = Math.sqrt(r2 - va * va);
    lo = ax - h;
    hi = ax + h;
  }
  const bx = ax + dx;
  const vb = py - (ay + dy);
  if (vb * vb <= r2) {
    const h = Math.sqrt(r2 - vb * vb);
    if (bx - h < lo) lo = bx - h;
    if (bx + h > hi) hi = bx + h;
  }
  const len2 = dx * dx + dy * dy;
  if (len2 > 0) {
    // band: 0 <= projection <= 1 and perpendicular distance <= r, as offsets u = x − ax
    let ulo = -Infinity;
    let uhi = Infinity;
    if (dy === 0) {
      if (va * va > r2) ulo = Infinity;
    } else {
      const rl = r * Math.sqrt(len2);
      const p = (dx * va - rl) / dy;
      const q = (dx * va + rl) / dy;
      ulo = p < q ? p : q;
      uhi = p < q ? q : p;
    }
    if (dx === 0) {
      const d = va * dy;
      if (d < 0 || d > len2) ulo = Infinity;
    } else {
      const p = -(va * dy) / dx;
      const q = (len2 - va * dy) / dx;
      const plo = p < q ? p : q;
      const phi = p < q ? q : p;
      if (plo > ulo) ulo = plo;
      if (phi < uhi) uhi = phi;
    }
    if (ulo <= uhi) {
      if (ax + ulo < lo) lo = ax + ulo;
      if (ax + uhi > hi) hi = ax + uhi;
    }
  }
  if (!(lo <= hi)) return false;
  chord[0] = lo;
  chord[1] = hi;
  return true;
}

/**
 * Buckets edges 0..count-1 by their start row (held in `s.next` until now), a
 * counting sort in O(edges + rows): afterwards head[row - rowMin] is the first
 * edge starting on that row and s.next links the rest.
 */
function bucketByStartRow(s: Scratch, count: number, rowMin: number, rowMax: number): Int32Array {
  const rows = rowMax - rowMin;
  s.reserveRows(rows);
  const head = s.head;
  const next = s.next;
  if (rows < 64) for (let b = 0; b < rows; b++) head[b] = -1; // a loop: cheaper than fill() for the few rows of a cell
  else head.fill(-1, 0, rows);
  for (let e = count - 1; e >= 0; e--) {
    const b = (next[e] as number) - rowMin;
    next[e] = head[b] as number;
    head[b] = e;
  }
  return head;
}

function sweepStroke(s: Scratch, path: ArrayLike<number>, points: number, radius: number, clip: PixelBox, emit: SpanSink): void {
  const cx0 = clip.x0;
  const cx1 = clip.x1;
  const cy0 = clip.y0;
  const cy1 = clip.y1;
  const segments = points === 1 ? 1 : points - 1;
  s.reserveEdges(segments);
  const seg = s.edge;
  const rowEnd = s.rowEnd;
  const next = s.next;
  const r2 = radius * radius;

  let count = 0;
  let rowMin = cy1;
  let rowMax = cy0;
  for (let k = 0; k < segments; k++) {
    const ax = path[2 * k] as number;
    const ay = path[2 * k + 1] as number;
    const bx = points === 1 ? ax : (path[2 * k + 2] as number);
    const by = points === 1 ? ay : (path[2 * k + 3] as number);
    // candidate rows, one row of slack each side (empty rows emit nothing)
    const lo = (ay < by ? ay : by) - radius;
    const hi = (ay < by ? by : ay) + radius;
    const start = Math.max(cy0, Math.min(cy1, Math.floor(lo - 0.5)));
    const end = Math.max(cy0, Math.min(cy1, Math.floor(hi - 0.5) + 2));
    if (start >= end) continue;
    const o = 4 * count;
    seg[o] = ax;
    seg[o + 1] = ay;
    seg[o + 2] = bx - ax;
    seg[o + 3] = by - ay;
    rowEnd[count] = end;
    next[count] = start;
    if (start < rowMin) rowMin = start;
    if (end > rowMax) rowMax = end;
    count++;
  }
  if (count === 0) return;

  const head = bucketByStartRow(s, count, rowMin, rowMax);

  const active = s.active;
  const ivStart = s.ivStart;
  const ivEnd = s.ivEnd;
  let nActive = 0;
  for (let y = rowMin; y < rowMax; y++) {
    const py = y + 0.5;
    let w = 0;
    for (let k = 0; k < nActive; k++) {
      const e = active[k] as number;
      if ((rowEnd[e] as number) > y) active[w++] = e;
    }
    for (let e = head[y - rowMin] as number; e >= 0; e = next[e] as number) active[w++] = e;
    nActive = w;

    // one interval of covered pixels per segment
    let n = 0;
    for (let k = 0; k < w; k++) {
      const o = 4 * (active[k] as number);
      if (!capsuleChord(seg[o] as number, seg[o + 1] as number, seg[o + 2] as number, seg[o + 3] as number, radius, py)) continue;
      // candidate pixels, clipped, then refined with the exact rule at both ends
      let a = Math.max(cx0, Math.ceil((chord[0] as number) - 0.5)) | 0;
      let b = Math.min(cx1 - 1, Math.floor((chord[1] as number) - 0.5)) | 0;
      if (a > b) continue;
      while (a > cx0 && segmentDistance2(seg, o, a - 0.5, py) <= r2) a--;
      while (a <= b && !(segmentDistance2(seg, o, a + 0.5, py) <= r2)) a++;
      if (a > b) continue;
      while (b < cx1 - 1 && segmentDistance2(seg, o, b + 1.5, py) <= r2) b++;
      while (b > a && !(segmentDistance2(seg, o, b + 0.5, py) <= r2)) b--;
      ivStart[n] = a;
      ivEnd[n] = b + 1;
      n++;
    }
    if (n === 0) continue;
    sortIntervals(ivStart, ivEnd, n);
    let runStart = ivStart[0] as number;
    let runEnd = ivEnd[0] as number;
    for (let k = 1; k < n; k++) {
      const a = ivStart[k] as number;
      const b = ivEnd[k] as number;
      if (a <= runEnd) {
        if (b > runEnd) runEnd = b;
      } else {
        emit(y, runStart, runEnd);
        runStart = a;
        runEnd = b;
      }
    }
    emit(y, runStart, runEnd);
  }
}

/** Sorts the first n intervals by start (insertion sort when small, index sort otherwise). */
function sortIntervals(start: Float64Array, end: Float64Array, n: number): void {
  if (n <= 48) {
    for (let i = 1; i < n; i++) {
      const a = start[i] as number;
      if (a >= (start[i - 1] as number)) continue;
      const b = end[i] as number;
      let j = i - 1;
      while (j >= 0 && (start[j] as number) > a) {
        start[j + 1] = start[j] as number;
        end[j + 1] = end[j] as number;
        j--;
      }
      start[j + 1] = a;
      end[j + 1] = b;
    }
    return;
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => (start[i] as number) - (start[j] as number));
  const s2 = order.map((i) => start[i] as number);
  const e2 = order.map((i) => end[i] as number);
  for (let i = 0; i < n; i++) {
    start[i] = s2[i] as number;
    end[i] = e2[i] as number;
  }
}
