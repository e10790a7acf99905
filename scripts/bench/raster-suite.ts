/**
 * Mask rasterizer benchmark: polygonSpans filling sparse 512-px Uint8 mask
 * tiles, against PIL's ImageDraw polygon fill on the same polygons in the
 * same run. Two seeded workloads on a 50,000 × 50,000 px slide:
 *
 * - cells: 100,000 cell outlines of 16–32 vertices, radius ~5–9 px, on a jittered grid;
 * - rois: 1,000 irregular blobs of 200–2,000 vertices, radius ~500–3,000 px.
 *
 * Ours: the product's path (rasterizeIntoEncodedTiles in
 * src/core/mask/rasterize-tiles.ts): Flatbush finds the polygons of each
 * touched tile, their spans are collected per row and run-length encoded
 * straight into the resident mask (src/core/mask/rle.ts; a tile that already
 * has content is decoded, painted and re-encoded) — so every run starts from
 * an empty mask and pays for creating and encoding every tile it touches. Median of 3 runs
 * after a warm-up run.
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
import { MASK_TILE } from '../../src/core/mask/mask-grid.js';
import { rasterizeIntoEncodedTiles, type PaintPolygon } from '../../src/core/mask/rasterize-tiles.js';
import { tileBytes, type EncodedTile } from '../../src/core/mask/rle.js';
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

interface Measured {
  polygons: number;
  vertices: number;
  pixels: number;
  /** Median of the timed runs. */
  seconds: number;
  runs: number[];
  /** Ours only: mask tiles painted and the bytes they hold once encoded. */
  tiles?: number;
  residentBytes?: number;
}

/** One run of the product path into an empty mask; returns seconds, tiles and resident bytes. */
function rasterizeAll(polys: PaintPolygon[]): { seconds: number; tiles: number; pixels: number; bytes: number } {
  const mask = new Map<number, EncodedTile>();
  const cols = Math.ceil(SLIDE / MASK_TILE);
  const t0 = performance.now();
  const r = rasterizeIntoEncodedTiles(polys, { x0: 0, y0: 0, x1: SLIDE, y1: SLIDE }, {
    load: (tx, ty) => mask.get(ty * cols + tx) ?? null,
    done: (tx, ty, tile) => mask.set(ty * cols + tx, tile),
  });
  const seconds = (performance.now() - t0) / 1000;
  let bytes = 0;
  for (const t of mask.values()) bytes += tileBytes(t);
  return { seconds, tiles: r.tiles, pixels: r.pixels, bytes };
}

function measureOurs(set: PolygonSet): Measured {
  const polys: PaintPolygon[] = [];
  let o = 0;
  for (let i = 0; i < set.vertices.length; i++) {
    const n = set.vertices[i] as number;
    polys.push({ rings: [set.xy.subarray(o, o + 2 * n)], value: set.values[i] as number });
    o += 2 * n;
  }
  rasterizeAll(polys); // warm-up
  const results = Array.from({ length: RUNS }, () => rasterizeAll(polys));
  const last = results[results.length - 1] as ReturnType<typeof rasterizeAll>;
  const runs = results.map((r) => r.seconds);
  return { polygons: polys.length, vertices: o / 2, pixels: last.pixels, seconds: median(runs), runs, tiles: last.tiles, residentBytes: last.bytes };
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
    ...(m.tiles === undefined ? {} : { tiles: m.tiles, residentMB: +((m.residentBytes ?? 0) / 2 ** 20).toFixed(1) }),
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
  const ratios: Record<string, number> = {};
  try {
    for (const [metric, set] of workloads) {
      const ours = measureOurs(set);
      emit(record(metric, 'ours', ours));
      if (!pil) continue;
      const file = join(dir, `${metric}.bin`);
      await writeFile(file, encode(set));
      const peer = measurePil(root, file);
      emit(record(metric, 'pil', peer));
      ratios[metric] = peer.seconds / ours.seconds;
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  if (!pil) return;
  const cells = ratios['cells'] as number;
  const rois = ratios['rois'] as number;
  // speed ratios: PIL seconds / ours
  emit({
    suite: 'raster',
    metric: 'ratio',
    cellsOursOverPil: +cells.toFixed(2),
    roisOursOverPil: +rois.toFixed(2),
    target: `>= ${TARGET}x`,
    met: cells >= TARGET && rois >= TARGET,
  });
}
