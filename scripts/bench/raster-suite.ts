/**
 * Mask rasterizer benchmark: polygonSpans filling sparse 512-px Uint8 mask
 * tiles, against PIL's ImageDraw polygon fill on the same polygons in the
 * same run. Two seeded workloads on a 50,000 × 50,000 px slide:
 *
 * - cells: 100,000 cell outlines of 16–32 vertices, radius ~5–9 px, on a jittered grid;
 * - rois: 1,000 irregular blobs of 200–2,000 vertices, radius ~500–3,000 px.
 *
 * Ours: a Map of dense Uint8Array(512 × 512) tiles created on demand; a span
 * is written into the tile rows it crosses, split at tile borders (fill()
 * for long runs, a loop for short ones). The first run starts from an empty
 * mask and is the warm-up (reported as coldSeconds: creating and first
 * touching every tile, 2.5 GB for a slide-wide workload, dominates it); the
 * reported time is the median of the next 3 runs, painting the same mask.
 * PIL: scripts/bench/pil_raster.py (Debian's /usr/bin/python3 with
 * python3-pil), one bbox-sized image per polygon, a full warm-up pass, the
 * median of 3 timed passes. Output lines: `cells` and `rois` per impl
 * (polygons, pixels, seconds, polygonsPerSec, mpxPerSec), then `ratio`
 * (PIL seconds / ours; target >= 2x), or `peer_missing` without PIL.
 *
 * BENCH_RASTER_CELLS (default 100,000) and BENCH_RASTER_ROIS (default 1,000).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MASK_TILE, MASK_TILE_PIXELS } from '../../src/core/mask/mask-grid.js';
import { polygonSpans, type PixelBox, type SpanSink } from '../../src/core/mask/raster.js';
import type { Emit } from './tiles-suite.js';
import { rng } from './workloads.js';

const SLIDE = 50_000;
const CELLS = Number(process.env['BENCH_RASTER_CELLS'] ?? 100_000);
const ROIS = Number(process.env['BENCH_RASTER_ROIS'] ?? 1_000);
const RUNS = 3;
const PYTHON = '/usr/bin/python3';
const TARGET = 2;

/** Polygons of one ring each, packed: vertices[i] points of polygon i, its class id, flat xy. */
export interface PolygonSet {
  vertices: Uint32Array;
  values: Uint8Array;
  xy: Float64Array;
}

function pack(rings: number[][], values: number[]): PolygonSet {
  const vertices = Uint32Array.from(rings, (r) => r.length / 2);
  const xy = new Float64Array(rings.reduce((n, r) => n + r.length, 0));
  let o = 0;
  for (const r of rings) {
    xy.set(r, o);
    o += r.length;
  }
  return { vertices, values: Uint8Array.from(values), xy };
}

/** Cell outlines on a jittered grid over the slide (as scripts/bench/cells.ts places them). */
export function cellPolygons(count: number, seed = 1): PolygonSet {
  const r = rng(seed);
  const side = Math.ceil(Math.sqrt(count));
  const pitch = SLIDE / side;
  const rings: number[][] = [];
  const values: number[] = [];
  for (let i = 0; i < count; i++) {
    const cx = ((i % side) + 0.2 + r() * 0.6) * pitch;
    const cy = (Math.floor(i / side) + 0.2 + r() * 0.6) * pitch;
    const radius = 5 + r() * 4;
    const n = 16 + Math.floor(r() * 17);
    const ring: number[] = [];
    for (let k = 0; k < n; k++) {
      const a = (k / n) * Math.PI * 2;
      const rr = radius * (0.85 + r() * 0.3);
      ring.push(cx + Math.cos(a) * rr, cy + Math.sin(a) * rr);
    }
    rings.push(ring);
    values.push(1 + Math.floor(r() * 5));
  }
  return pack(rings, values);
}

/** Irregular blobs (a circle with a few random harmonics and a little vertex noise) anywhere on the slide. */
export function roiPolygons(count: number, seed = 2): PolygonSet {
  const r = rng(seed);
  const rings: number[][] = [];
  const values: number[] = [];
  for (let i = 0; i < count; i++) {
    const n = 200 + Math.floor(r() * 1801);
    const radius = 500 + r() * 2500;
    const cx = radius + r() * (SLIDE - 2 * radius);
    const cy = radius + r() * (SLIDE - 2 * radius);
    const harmonics = Array.from({ length: 5 }, (_, k) => ({ amp: (0.2 * r()) / (k + 1), phase: r() * Math.PI * 2, freq: k + 2 }));
    const ring: number[] = [];
    for (let k = 0; k < n; k++) {
      const a = (k / n) * Math.PI * 2;
      let rr = 1 + (r() - 0.5) * 0.02;
      for (const h of harmonics) rr += h.amp * Math.sin(h.freq * a + h.phase);
      ring.push(cx + Math.cos(a) * radius * rr, cy + Math.sin(a) * radius * rr);
    }
    rings.push(ring);
    values.push(1 + Math.floor(r() * 5));
  }
  return pack(rings, values);
}

/** The file pil_raster.py reads: count, vertex counts, class ids, flat xy (little-endian). */
function encode(set: PolygonSet): Buffer {
  const n = set.vertices.length;
  const head = Buffer.alloc(4 + 4 * n + n);
  head.writeUInt32LE(n, 0);
  for (let i = 0; i < n; i++) head.writeUInt32LE(set.vertices[i] as number, 4 + 4 * i);
  head.set(set.values, 4 + 4 * n);
  const xy = Buffer.alloc(set.xy.length * 8);
  for (let i = 0; i < set.xy.length; i++) xy.writeDoubleLE(set.xy[i] as number, 8 * i);
  return Buffer.concat([head, xy]);
}

/**
 * Shorter runs are written with a loop: TypedArray#fill is a runtime call
 * whose fixed cost (~100 ns) is several times the work for the ~10-px spans
 * of a cell; longer runs use fill (a memset).
 */
const FILL_MIN = 64;

/** A sparse mask being painted: dense 512 × 512 tiles created on first write. */
interface TileCanvas {
  readonly tiles: Map<number, Uint8Array>;
  /** Writes pixels x0..x1−1 of row y with the current class id, split at tile borders. */
  readonly sink: SpanSink;
  /** Sets the class id the sink writes. */
  setValue(value: number): void;
  /** Pixels written since the last call (sum of span lengths), and resets the count. */
  takePixels(): number;
}

const TILE_SHIFT = 31 - Math.clz32(MASK_TILE);

/**
 * The canvas keeps its state in closure variables (cheaper on this hot path
 * than class fields) and uses shifts: the clip box keeps coordinates >= 0.
 */
function tileCanvas(): TileCanvas {
  const tiles = new Map<number, Uint8Array>();
  const cols = Math.ceil(SLIDE / MASK_TILE);
  let value = 0;
  let pixels = 0;
  let lastKey = -1;
  let lastTile: Uint8Array = new Uint8Array(0);
  const sink: SpanSink = (y, x0, x1) => {
    pixels += x1 - x0;
    const ty = y >> TILE_SHIFT;
    const rowOffset = (y - (ty << TILE_SHIFT)) << TILE_SHIFT;
    let x = x0;
    while (x < x1) {
      const tx = x >> TILE_SHIFT;
      const left = tx << TILE_SHIFT;
      const end = x1 < left + MASK_TILE ? x1 : left + MASK_TILE;
      const key = ty * cols + tx;
      let tile = lastTile;
      if (key !== lastKey) {
        let found = tiles.get(key);
        if (found === undefined) {
          found = new Uint8Array(MASK_TILE_PIXELS);
          tiles.set(key, found);
        }
        tile = found;
        lastKey = key;
        lastTile = found;
      }
      const from = rowOffset + x - left;
      const to = rowOffset + end - left;
      if (to - from >= FILL_MIN) tile.fill(value, from, to);
      else for (let i = from; i < to; i++) tile[i] = value;
      x = end;
    }
  };
  return {
    tiles,
    sink,
    setValue: (v) => {
      value = v;
    },
    takePixels: () => {
      const n = pixels;
      pixels = 0;
      return n;
    },
  };
}

interface Measured {
  polygons: number;
  vertices: number;
  pixels: number;
  /** Median of the timed runs. */
  seconds: number;
  runs: number[];
  /** Ours only: mask tiles in use, and the first run into an empty mask (tile creation included). */
  tiles?: number;
  coldSeconds?: number;
}

/** Rasterizes every polygon of the set into `canvas`; returns the seconds taken. */
function rasterizeAll(set: PolygonSet, rings: ArrayLike<number>[][], clip: PixelBox, canvas: TileCanvas): number {
  const sink = canvas.sink;
  const t0 = performance.now();
  for (let i = 0; i < rings.length; i++) {
    canvas.setValue(set.values[i] as number);
    polygonSpans(rings[i] as ArrayLike<number>[], clip, sink);
  }
  return (performance.now() - t0) / 1000;
}

/**
 * Ours: a cold run into an empty mask (every tile is created on first
 * write: for a slide-wide workload that is all 9,604 tiles, 2.5 GB, a
 * one-time cost of the mask) doubles as the warm-up; then three runs into
 * the same mask, whose tiles now exist (what painting into an existing mask
 * costs). Both are reported.
 */
function measureOurs(set: PolygonSet): Measured {
  const rings: ArrayLike<number>[][] = [];
  let o = 0;
  for (const n of set.vertices) {
    rings.push([set.xy.subarray(o, o + 2 * n)]);
    o += 2 * n;
  }
  const clip = { x0: 0, y0: 0, x1: SLIDE, y1: SLIDE };
  const canvas = tileCanvas();
  const coldSeconds = rasterizeAll(set, rings, clip, canvas);
  canvas.takePixels();
  const runs = Array.from({ length: RUNS }, () => rasterizeAll(set, rings, clip, canvas));
  const pixels = canvas.takePixels() / RUNS;
  return { polygons: rings.length, vertices: o / 2, pixels, seconds: median(runs), runs, tiles: canvas.tiles.size, coldSeconds };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function pilAvailable(): boolean {
  if (!existsSync(PYTHON)) return false;
  return spawnSync(PYTHON, ['-c', 'import PIL.ImageDraw'], { stdio: 'ignore' }).status === 0;
}

function measurePil(root: string, file: string): Measured {
  const r = spawnSync(PYTHON, [join(root, 'scripts', 'bench', 'pil_raster.py'), file], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`pil_raster.py failed (${r.status}): ${r.stderr}`);
  const out = JSON.parse(r.stdout) as { polygons: number; vertices: number; pixels: number; runs: number[]; seconds: number };
  return out;
}

function record(metric: string, impl: string, m: Measured): Record<string, unknown> {
  return {
    suite: 'raster',
    metric,
    impl,
    polygons: m.polygons,
    vertices: m.vertices,
    pixels: m.pixels,
    seconds: +m.seconds.toFixed(4),
    polygonsPerSec: Math.round(m.polygons / m.seconds),
    mpxPerSec: +(m.pixels / m.seconds / 1e6).toFixed(1),
    runs: m.runs.map((s) => +s.toFixed(4)),
    ...(m.coldSeconds === undefined ? {} : { tiles: m.tiles, coldSeconds: +m.coldSeconds.toFixed(4) }),
  };
}

/** The raster suite: ours and PIL on cells and ROIs, then the ours/PIL speed ratios. */
export async function rasterSuite(root: string, emit: Emit): Promise<void> {
  const workloads: Array<[metric: 'cells' | 'rois', set: PolygonSet]> = [
    ['cells', cellPolygons(CELLS)],
    ['rois', roiPolygons(ROIS)],
  ];
  const pil = pilAvailable();
  if (!pil) emit({ suite: 'raster', metric: 'peer_missing', impl: 'pil', note: `${PYTHON} with PIL not found; apt-get install -y python3-pil` });
  const dir = await mkdtemp(join(tmpdir(), 'wsi-raster-bench-'));
  const ratios: Record<string, { steady: number; cold: number }> = {};
  try {
    for (const [metric, set] of workloads) {
      const ours = measureOurs(set);
      emit(record(metric, 'ours', ours));
      if (!pil) continue;
      const file = join(dir, `${metric}.bin`);
      await writeFile(file, encode(set));
      const peer = measurePil(root, file);
      emit(record(metric, 'pil', peer));
      ratios[metric] = { steady: peer.seconds / ours.seconds, cold: peer.seconds / (ours.coldSeconds as number) };
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  if (!pil) return;
  const cells = ratios['cells'] as { steady: number; cold: number };
  const rois = ratios['rois'] as { steady: number; cold: number };
  // speed ratios (PIL seconds / ours); the target applies to painting into the mask, the
  // cold ratios (our first run also creates every tile of the mask) are for information
  emit({
    suite: 'raster',
    metric: 'ratio',
    cellsOursOverPil: +cells.steady.toFixed(2),
    roisOursOverPil: +rois.steady.toFixed(2),
    coldCellsOursOverPil: +cells.cold.toFixed(2),
    coldRoisOursOverPil: +rois.cold.toFixed(2),
    target: `>= ${TARGET}x`,
    met: cells.steady >= TARGET && rois.steady >= TARGET,
  });
}
