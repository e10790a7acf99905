/**
 * One counting worker's share of an agreement computation: for the tile
 * rows it was given, the readers' current tiles are read (its own
 * read-only connection), a tile of one class is taken from its stored
 * counts without inflating it, the others are inflated once, and every
 * pixel is counted exactly:
 * - `counts` mode: the joint label counts (src/core/agreement/tuples.ts,
 *   kept dense while the class ids are few: each tile's stored counts name
 *   its ids before its pixels are counted)
 *   of every pixel whose centre lies inside the ROI (the rasterizer's
 *   pixel-centre, even-odd rule: the same pixels painting the ROI would
 *   cover), unpainted pixels counting as class 0;
 * - `map` mode: for every tile any reader painted, per 64 × 64 block the
 *   sum over its pixels of the share of readers who disagree with the
 *   pixel's most frequent label (1 − most votes / readers) and the number
 *   of pixels some reader painted (pixels nobody painted are left out).
 */
import { inflateSync } from 'node:zlib';
import { TupleCounter } from '../../src/core/agreement/tuples.js';
import { MASK_TILE, MASK_TILE_PIXELS } from '../../src/core/mask/mask-grid.js';
import { polygonSpans, type PixelBox } from '../../src/core/mask/raster.js';
import type { AgreementStore } from '../store/agreement-store.js';

/** Level-0 pixels per side of a disagreement-map block. */
export const MAP_BLOCK = 64;
export const BLOCKS_PER_TILE = MASK_TILE / MAP_BLOCK;
/** A tile's bytes and one more, so a whole tile inflates into one chunk and zlib sees its end there. */
const INFLATE_CHUNK = MASK_TILE_PIXELS + 1;

export interface CountJob {
  slideId: string;
  readers: string[];
  slideWidth: number;
  slideHeight: number;
  /** The level-0 box to count (inside the slide, integers, half-open). */
  box: PixelBox;
  /** counts: the ROI's rings (flat, level-0); map: null. */
  rings: number[][] | null;
  /** The tile rows this worker does. */
  rows: number[];
  mode: 'counts' | 'map';
}

export interface MapTiles {
  /** Per tile: its column and row, then BLOCKS_PER_TILE² block sums and pixel counts (row-major). */
  tx: Int32Array;
  ty: Int32Array;
  sum: Float64Array;
  painted: Float64Array;
}

export interface CountResult {
  counts: Array<[number, number]>;
  map: MapTiles | null;
  /** Tiles inflated, and tiles taken as one class from their counts. */
  inflated: number;
  uniform: number;
}

/** The one class of a tile whose stored counts say so (or 0 for a tile with nothing painted); null otherwise. */
export function uniformClass(pixels: string): number | null {
  const counts = JSON.parse(pixels) as Record<string, number>;
  const ids = Object.keys(counts);
  if (ids.length === 0) return 0;
  if (ids.length === 1 && counts[ids[0] as string] === MASK_TILE_PIXELS) return Number(ids[0]);
  return null;
}

export function runCountJob(store: AgreementStore, job: CountJob, signal?: { aborted: boolean }): CountResult {
  const R = job.readers.length;
  const constant = new Map<number, Uint8Array>();
  const constantTile = (c: number): Uint8Array => {
    let t = constant.get(c);
    if (!t) constant.set(c, (t = new Uint8Array(MASK_TILE_PIXELS).fill(c)));
    return t;
  };
  let inflated = 0;
  let uniform = 0;
  /** Each reader's tiles of a row: tx → pixels, and which are one class. */
  const loadRow = (ty: number, tx0: number, tx1: number): Array<Map<number, { data: Uint8Array; uniform: number | null }>> =>
    job.readers.map((reader) => {
      const m = new Map<number, { data: Uint8Array; uniform: number | null }>();
      for (const t of store.row(job.slideId, reader, ty, tx0, tx1)) {
        if (job.mode === 'counts') counts.expect(Object.keys(JSON.parse(t.pixels) as Record<string, number>).map(Number));
        const u = uniformClass(t.pixels);
        if (u !== null) {
          uniform++;
          m.set(t.tx, { data: constantTile(u), uniform: u });
        } else {
          inflated++;
          // one output chunk the size of a tile (zlib's default 16 KiB chunks are concatenated after: a copy and 16 calls per tile)
          const buf = inflateSync(t.data, { maxOutputLength: MASK_TILE_PIXELS, chunkSize: INFLATE_CHUNK });
          m.set(t.tx, { data: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), uniform: null });
        }
      }
      return m;
    });
  const zero = constantTile(0);
  const counts = new TupleCounter(R);
  const mapTx: number[] = [];
  const mapTy: number[] = [];
  const B = BLOCKS_PER_TILE;
  const sums: Float64Array[] = [];
  const painted: Float64Array[] = [];
  const share = new Map<number, number>();
  const shareOf = (key: number): number => {
    let s = share.get(key);
    if (s === undefined) {
      const votes = new Map<number, number>();
      let k = key;
      for (let r = 0; r < R; r++) {
        const l = k % 256;
        k = Math.floor(k / 256);
        votes.set(l, (votes.get(l) ?? 0) + 1);
      }
      share.set(key, (s = 1 - Math.max(...votes.values()) / R));
    }
    return s;
  };
  const keys = new Float64Array(MASK_TILE);
  const tx0 = Math.floor(job.box.x0 / MASK_TILE);
  const tx1 = Math.floor((job.box.x1 - 1) / MASK_TILE);
  for (const ty of job.rows) {
    if (signal?.aborted) throw new Error('aborted');
    const row = loadRow(ty, tx0, tx1);
    const sourcesAt = (tx: number): Uint8Array[] => row.map((m) => m.get(tx)?.data ?? zero);
    if (job.mode === 'counts') {
      const clip = { x0: job.box.x0, y0: Math.max(job.box.y0, ty * MASK_TILE), x1: job.box.x1, y1: Math.min(job.box.y1, (ty + 1) * MASK_TILE) };
      if (clip.y1 <= clip.y0) continue;
      const sources = new Map<number, Uint8Array[]>();
      const uniformKey = new Map<number, number | null>();
      for (let tx = tx0; tx <= tx1; tx++) {
        sources.set(tx, sourcesAt(tx));
        // every reader one class here: the tile's key, counted per span without looking at pixels
        let key: number | null = 0;
        for (let r = R - 1; r >= 0; r--) {
          const e = (row[r] as Map<number, { uniform: number | null }>).get(tx);
          const u = e ? e.uniform : 0;
          if (u === null || key === null) key = null;
          else key = key * 256 + u;
        }
        uniformKey.set(tx, key);
      }
      polygonSpans(job.rings ?? [], clip, (y, x0, x1) => {
        const base = (y - ty * MASK_TILE) * MASK_TILE;
        for (let tx = Math.floor(x0 / MASK_TILE); tx * MASK_TILE < x1; tx++) {
          const a = Math.max(x0, tx * MASK_TILE);
          const b = Math.min(x1, (tx + 1) * MASK_TILE);
          const k = uniformKey.get(tx);
          if (k !== null && k !== undefined) counts.addKey(k, b - a);
          else counts.addRange(sources.get(tx) as Uint8Array[], base + a - tx * MASK_TILE, base + b - tx * MASK_TILE);
        }
      });
    } else {
      const columns = new Set<number>();
      for (const m of row) for (const tx of m.keys()) columns.add(tx);
      const validH = Math.min(MASK_TILE, job.slideHeight - ty * MASK_TILE);
      for (const tx of [...columns].sort((p, q) => p - q)) {
        const src = sourcesAt(tx);
        const validW = Math.min(MASK_TILE, job.slideWidth - tx * MASK_TILE);
        const sum = new Float64Array(B * B);
        const n = new Float64Array(B * B);
        if (R === 2 || R === 3) {
          // the share of disagreeing readers pixel by pixel, without keys: 2 readers 0 or 1/2; 3 readers 0, 1/3 or 2/3
          const A = src[0] as Uint8Array;
          const Bs = src[1] as Uint8Array;
          const C = (R === 3 ? src[2] : src[1]) as Uint8Array;
          for (let y = 0; y < validH; y++) {
            const by = Math.floor(y / MAP_BLOCK) * B;
            for (let bx = 0; bx * MAP_BLOCK < validW; bx++) {
              const end = y * MASK_TILE + Math.min(validW, (bx + 1) * MAP_BLOCK);
              // branch-free: d = the pairs of readers that differ (two readers, with C = B: 0 or 2; three: 0, 2 or 3)
              let t = 0;
              let nz = 0;
              let np = 0;
              for (let i = y * MASK_TILE + bx * MAP_BLOCK; i < end; i++) {
                const a = A[i] as number;
                const b = Bs[i] as number;
                const c = C[i] as number;
                const d = +(a !== b) + +(b !== c) + +(a !== c);
                t += d;
                nz += +(d !== 0);
                np += +((a | b | c) !== 0);
              }
              // two readers (C = B): d is 0 or 2, the share 1/2 per differing pixel; three readers: d = 2 → 1/3, d = 3 → 2/3
              sum[by + bx] = (sum[by + bx] as number) + (R === 2 ? t / 4 : (t - nz) / 3);
              n[by + bx] = (n[by + bx] as number) + np;
            }
          }
        } else {
          for (let y = 0; y < validH; y++) {
            keys.fill(0);
            for (let r = R - 1; r >= 0; r--) {
              const s = src[r] as Uint8Array;
              const off = y * MASK_TILE;
              for (let x = 0; x < validW; x++) keys[x] = (keys[x] as number) * 256 + (s[off + x] as number);
            }
            const by = Math.floor(y / MAP_BLOCK) * B;
            for (let bx = 0; bx * MAP_BLOCK < validW; bx++) {
              const end = Math.min(validW, (bx + 1) * MAP_BLOCK);
              let x = bx * MAP_BLOCK;
              while (x < end) {
                const k = keys[x] as number;
                let e = x + 1;
                while (e < end && keys[e] === k) e++;
                if (k !== 0) {
                  sum[by + bx] = (sum[by + bx] as number) + shareOf(k) * (e - x);
                  n[by + bx] = (n[by + bx] as number) + (e - x);
                }
                x = e;
              }
            }
          }
        }
        mapTx.push(tx);
        mapTy.push(ty);
        sums.push(sum);
        painted.push(n);
      }
    }
  }
  let map: MapTiles | null = null;
  if (job.mode === 'map') {
    const sum = new Float64Array(sums.length * B * B);
    const n = new Float64Array(sums.length * B * B);
    sums.forEach((s, i) => sum.set(s, i * B * B));
    painted.forEach((s, i) => n.set(s, i * B * B));
    map = { tx: Int32Array.from(mapTx), ty: Int32Array.from(mapTy), sum, painted: n };
  }
  return { counts: [...counts.result()], map, inflated, uniform };
}
