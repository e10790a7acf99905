/**
 * The server's counting job and the disagreement map's pyramid, without
 * HTTP: the job's joint counts inside a polygon equal a per-pixel count
 * made here (tiles of one class taken from their stored counts, others
 * inflated; unpainted tiles as class 0, AGR-03), its per-block map sums
 * equal a direct count, and each map level above 0 holds the
 * painted-pixel-weighted mean of the 2 × 2 blocks below.
 */
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { rng } from '../../scripts/bench/workloads.js';
import { tupleKey } from '../../src/core/agreement/tuples.js';
import { BLOCKS_PER_TILE, runCountJob, type MapTiles } from '../../tiles-server/agreement/count-job.js';
import { DisagreementMap, MAP_TILE } from '../../tiles-server/agreement/disagreement-map.js';
import { countsJson, histogram } from '../../tiles-server/masks/tile-codec.js';
import type { AgreementStore, RowTile } from '../../tiles-server/store/agreement-store.js';

const T = 512;
const W = 1300;
const H = 1100;

/** A store of whole-slide rasters per reader, cut into tiles as the mask store keeps them (absent when all 0). */
function fakeStore(rasters: Record<string, Uint8Array>): AgreementStore {
  const tiles = new Map<string, RowTile>();
  for (const [reader, r] of Object.entries(rasters)) {
    for (let ty = 0; ty * T < H; ty++) {
      for (let tx = 0; tx * T < W; tx++) {
        const px = new Uint8Array(T * T);
        for (let y = 0; y < T && ty * T + y < H; y++) for (let x = 0; x < T && tx * T + x < W; x++) px[y * T + x] = r[(ty * T + y) * W + tx * T + x] as number;
        if (px.every((v) => v === 0) && reader !== 'c') continue;
        tiles.set(`${reader}|${tx}|${ty}`, { tx, data: deflateSync(px), pixels: countsJson(histogram(px)) });
      }
    }
  }
  return {
    row: (_s: string, reader: string, ty: number, tx0: number, tx1: number) => [...tiles.entries()].filter(([k]) => k.startsWith(`${reader}|`) && Number(k.split('|')[2]) === ty).map(([, t]) => t).filter((t) => t.tx >= tx0 && t.tx <= tx1).sort((a, b) => a.tx - b.tx),
  } as unknown as AgreementStore;
}

function inside(ring: number[], x: number, y: number): boolean {
  const px = x + 0.5;
  const py = y + 0.5;
  let c = false;
  const n = ring.length / 2;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const xi = ring[2 * i] as number;
    const yi = ring[2 * i + 1] as number;
    const xj = ring[2 * j] as number;
    const yj = ring[2 * j + 1] as number;
    if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) c = !c;
  }
  return c;
}

describe('the counting job', () => {
  const r = rng(8);
  const a = new Uint8Array(W * H);
  const b = new Uint8Array(W * H);
  const c = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      a[i] = x < 512 && y < 512 ? 3 : x < 700 ? 1 : 2; // tile (0, 0) all one class
      b[i] = y > 1024 ? 0 : x + (r() < 0.01 ? 50 : 0) < 720 ? 1 : 2; // the bottom rows unpainted
      c[i] = x < 512 && y < 512 ? 0 : (x >> 5) % 3; // an empty tile that exists
    }
  }
  const store = fakeStore({ a, b, c });
  const ring = [30, 20, 1290, 140, 1150, 1090, 60, 900];

  it('counts the joint labels inside a polygon exactly, as a per-pixel count', () => {
    const direct = new Map<number, number>();
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        if (!inside(ring, x, y)) continue;
        const k = tupleKey([a[y * W + x] as number, b[y * W + x] as number, c[y * W + x] as number]);
        direct.set(k, (direct.get(k) ?? 0) + 1);
      }
    }
    const box = { x0: 30, y0: 20, x1: 1291, y1: 1091 };
    // two workers' shares of the rows add up to the whole
    const parts = [[0, 2], [1]].map((rows) => runCountJob(store, { slideId: 's', readers: ['a', 'b', 'c'], slideWidth: W, slideHeight: H, box, rings: [ring], rows, mode: 'counts' }));
    const got = new Map<number, number>();
    for (const p of parts) for (const [k, n] of p.counts) got.set(k, (got.get(k) ?? 0) + n);
    expect(got).toEqual(direct);
    expect(parts.reduce((s, p) => s + p.uniform, 0)).toBeGreaterThanOrEqual(2);
  });

  it('sums each 64-px block\'s share of disagreeing readers over painted pixels (2, 3 and 4 readers), and the pyramid keeps weighted means', () => {
    const d = new Uint8Array(W * H);
    for (let i = 0; i < d.length; i++) d[i] = (a[i] as number) === 1 ? 2 : (a[i] as number);
    const four = fakeStore({ a, b, c, d });
    let map = new DisagreementMap(W, H, 1, []);
    for (const readers of [['a', 'b'], ['a', 'b', 'c'], ['a', 'b', 'c', 'd']]) {
      const rasters = readers.map((x) => ({ a, b, c, d })[x as 'a'] as Uint8Array);
      const job = runCountJob(four, { slideId: 's', readers, slideWidth: W, slideHeight: H, box: { x0: 0, y0: 0, x1: W, y1: H }, rings: null, rows: [0, 1, 2], mode: 'map' });
      map = new DisagreementMap(W, H, readers.length, [job.map as MapTiles]);
      const cols = Math.ceil(W / 64);
      const rows = Math.ceil(H / 64);
      for (let by = 0; by < rows; by++) {
        for (let bx = 0; bx < cols; bx++) {
          let sum = 0;
          let n = 0;
          for (let y = by * 64; y < Math.min(H, by * 64 + 64); y++) {
            for (let x = bx * 64; x < Math.min(W, bx * 64 + 64); x++) {
              const l = rasters.map((r) => r[y * W + x] as number);
              if (l.every((v) => v === 0)) continue;
              sum += 1 - Math.max(...l.map((v) => l.filter((w) => w === v).length)) / l.length;
              n++;
            }
          }
          const v = map.value(0, bx, by);
          if (n === 0) expect(v).toBeNull();
          else expect(v, `${readers.length} readers, block ${bx},${by}`).toBeCloseTo(sum / n, 5);
        }
      }
    }
    expect(BLOCKS_PER_TILE).toBe(8);
    // one level only for a map this small; a larger one (synthetic blocks) for the pyramid
    expect(map.levels.length).toBe(1);
    const side = MAP_TILE * 2 + 3;
    const tilesAcross = Math.ceil(side / 8);
    const tx: number[] = [];
    const ty: number[] = [];
    const sums: number[] = [];
    const painted: number[] = [];
    const rr = rng(3);
    for (let y = 0; y < tilesAcross; y++) {
      for (let x = 0; x < tilesAcross; x++) {
        tx.push(x);
        ty.push(y);
        for (let k = 0; k < 64; k++) {
          const p = rr() < 0.2 ? 0 : Math.floor(rr() * 4096);
          painted.push(p);
          sums.push(p * rr() * 0.6);
        }
      }
    }
    const big = new DisagreementMap(side * 64, side * 64, 3, [{ tx: Int32Array.from(tx), ty: Int32Array.from(ty), sum: Float64Array.from(sums), painted: Float64Array.from(painted) }]);
    expect(big.levels.map((l) => l.cols)).toEqual([side, Math.ceil(side / 2), Math.ceil(side / 4)]);
    for (const [cx, cy] of [[0, 0], [17, 40], [side >> 1, side >> 1]] as Array<[number, number]>) {
      let s = 0;
      let n = 0;
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
        const v = big.value(0, 2 * cx + (dx as number), 2 * cy + (dy as number));
        const l0 = big.levels[0];
        const w = l0 ? (l0.painted[(2 * cy + (dy as number)) * l0.cols + 2 * cx + (dx as number)] ?? 0) : 0;
        if (v !== null) {
          s += v * w;
          n += w;
        }
      }
      const up = big.value(1, cx, cy);
      if (n === 0) expect(up).toBeNull();
      else expect(up).toBeCloseTo(s / n, 4);
    }
    expect(() => big.rgba(3, 0, 0)).toThrow(/levels 0 to 2/);
    expect(() => big.rgba(0, 5, 0)).toThrow(/tiles/);
    expect(big.rgba(0, 2, 2)).toMatchObject({ width: 3, height: 3 });
  });
});
