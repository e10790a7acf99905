/**
 * Many polygons into tiles (the product path for ROI and import
 * rasterization and the benchmark): the tile-by-tile result equals painting
 * every polygon in order into one big raster, with and without existing
 * content, and the run-length encoder's row hints change nothing.
 */
import { describe, expect, it } from 'vitest';
import { rng } from '../../scripts/bench/workloads.js';
import { MASK_TILE, MASK_TILE_PIXELS } from '../../src/core/mask/mask-grid.js';
import { polygonSpans } from '../../src/core/mask/raster.js';
import { PolygonIndex, rasterizeIntoEncodedTiles, rasterizeIntoTiles, type PaintPolygon } from '../../src/core/mask/rasterize-tiles.js';
import { decodeTile, decodeTileInto, encodeTile, type EncodedTile, type RowExtents } from '../../src/core/mask/rle.js';


function blob(r: () => number, cx: number, cy: number, radius: number, n: number): Float64Array {
  const ring = new Float64Array(2 * n);
  for (let k = 0; k < n; k++) {
    const a = (k / n) * Math.PI * 2;
    const rr = radius * (0.7 + r() * 0.6);
    ring[2 * k] = Math.round((cx + Math.cos(a) * rr) * 10) / 10;
    ring[2 * k + 1] = Math.round((cy + Math.sin(a) * rr) * 10) / 10;
  }
  return ring;
}

const W = 2600;
const H = 1900;

function differing(a: Uint8Array, b: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

function assemble(tiles: Map<string, EncodedTile>): Uint8Array {
  const out = new Uint8Array(W * H);
  for (const [key, t] of tiles) {
    const [tx, ty] = key.split(',').map(Number) as [number, number];
    const d = decodeTile(t);
    for (let y = 0; y < MASK_TILE && ty * MASK_TILE + y < H; y++) {
      const w = Math.min(MASK_TILE, W - tx * MASK_TILE);
      out.set(d.subarray(y * MASK_TILE, y * MASK_TILE + w), (ty * MASK_TILE + y) * W + tx * MASK_TILE);
    }
  }
  return out;
}

describe('rasterizing many polygons tile by tile', () => {
  const r = rng(11);
  const polys: PaintPolygon[] = [];
  for (let i = 0; i < 1500; i++) polys.push({ rings: [blob(r, r() * W, r() * H, 3 + r() * 9, 16 + Math.floor(r() * 17))], value: 1 + Math.floor(r() * 5) });
  for (let i = 0; i < 12; i++) {
    const outer = blob(r, r() * W, r() * H, 150 + r() * 500, 200 + Math.floor(r() * 800));
    polys.splice(Math.floor(r() * polys.length), 0, { rings: r() < 0.5 ? [outer] : [outer, blob(r, (outer[0] as number) - 100, outer[1] as number, 40, 50)], value: 6 + (i % 3) });
  }
  const bounds = { x0: 0, y0: 0, x1: W, y1: H };

  function reference(base: Uint8Array): Uint8Array {
    const out = base.slice();
    for (const p of polys) polygonSpans(p.rings, bounds, (y, a, b) => out.fill(p.value, y * W + a, y * W + b));
    return out;
  }

  it('equals painting every polygon in order, into an empty mask', () => {
    const tiles = new Map<string, EncodedTile>();
    const res = rasterizeIntoTiles(polys, bounds, {
      load: () => false,
      done: (tx, ty, dense, ext) => tiles.set(`${tx},${ty}`, encodeTile(dense, ext ?? undefined)),
    });
    expect(res.tiles).toBe(tiles.size);
    expect(differing(assemble(tiles), reference(new Uint8Array(W * H)))).toBe(0);
  });

  it('equals painting over existing content', () => {
    const existing = new Map<string, EncodedTile>();
    const base = new Uint8Array(W * H);
    for (let ty = 0; ty * MASK_TILE < H; ty++) {
      for (let tx = 0; tx * MASK_TILE < W; tx++) {
        if ((tx + ty) % 2) continue;
        const d = new Uint8Array(MASK_TILE_PIXELS);
        for (let k = 0; k < 40; k++) d.fill(9, Math.floor(r() * MASK_TILE_PIXELS), Math.floor(r() * MASK_TILE_PIXELS));
        existing.set(`${tx},${ty}`, encodeTile(d));
      }
    }
    const full = assemble(existing);
    base.set(full);
    const tiles = new Map(existing);
    rasterizeIntoTiles(polys, bounds, {
      load: (tx, ty, dense) => {
        const t = existing.get(`${tx},${ty}`);
        if (!t) return false;
        decodeTileInto(t, dense);
        return true;
      },
      done: (tx, ty, dense, ext) => tiles.set(`${tx},${ty}`, encodeTile(dense, ext ?? undefined)),
    });
    expect(differing(assemble(tiles), reference(base))).toBe(0);
  });

  it('encodes the same with or without row hints', () => {
    const rr = rng(5);
    for (let trial = 0; trial < 30; trial++) {
      const d = new Uint8Array(MASK_TILE_PIXELS);
      const ext: RowExtents = { min: new Int16Array(MASK_TILE).fill(MASK_TILE), max: new Int16Array(MASK_TILE) };
      const rows = trial % 3 === 0 ? MASK_TILE : Math.floor(rr() * 40);
      for (let k = 0; k < rows; k++) {
        const y = trial % 3 === 0 ? k : Math.floor(rr() * MASK_TILE);
        const a = trial % 3 === 0 ? 0 : Math.floor(rr() * MASK_TILE);
        const b = trial % 3 === 0 ? MASK_TILE : Math.min(MASK_TILE, a + 1 + Math.floor(rr() * 300));
        // values may be 0 at the ends of the written part, like an eraser
        for (let x = a; x < b; x++) d[y * MASK_TILE + x] = trial % 3 === 0 ? 4 : rr() < 0.2 ? 0 : 1 + (x >> 6);
        ext.min[y] = Math.min(ext.min[y] as number, a);
        ext.max[y] = Math.max(ext.max[y] as number, b);
      }
      expect(encodeTile(d, ext)).toEqual(encodeTile(d));
    }
    const none: RowExtents = { min: new Int16Array(MASK_TILE).fill(MASK_TILE), max: new Int16Array(MASK_TILE) };
    expect(encodeTile(new Uint8Array(MASK_TILE_PIXELS), none)).toEqual({ uniform: 0 });
  });

  it('encodes straight from spans exactly as painting a dense tile and encoding it, blank or not, with overlaps and erasing', () => {
    const rr = rng(23);
    // overlapping cells, erasers (value 0), a tile-covering square, ROIs with holes
    const mixed: PaintPolygon[] = polys.map((p, i) => ({ rings: p.rings, value: i % 97 === 0 ? 0 : p.value }));
    mixed.push({ rings: [Float64Array.from([512, 0, 1024, 0, 1024, 512, 512, 512])], value: 3 });
    mixed.push({ rings: [Float64Array.from([1536, 512, 2048, 512, 2048, 1024, 1536, 1024])], value: 0 });
    for (let i = 0; i < 400; i++) mixed.push({ rings: [blob(rr, 1000 + rr() * 60, 1000 + rr() * 60, 2 + rr() * 20, 16)], value: Math.floor(rr() * 4) });
    for (const withBase of [false, true]) {
      const existing = new Map<string, EncodedTile>();
      if (withBase) {
        for (let ty = 0; ty * MASK_TILE < H; ty++) {
          for (let tx = 0; tx * MASK_TILE < W; tx++) {
            const k = (tx + 2 * ty) % 3;
            if (k === 0) continue;
            if (k === 1) {
              existing.set(`${tx},${ty}`, { uniform: tx % 2 ? 0 : 7 });
              continue;
            }
            const d = new Uint8Array(MASK_TILE_PIXELS);
            for (let j = 0; j < 30; j++) d.fill(9, Math.floor(rr() * MASK_TILE_PIXELS), Math.floor(rr() * MASK_TILE_PIXELS));
            existing.set(`${tx},${ty}`, encodeTile(d));
          }
        }
      }
      const viaDense = new Map<string, EncodedTile>();
      const a = rasterizeIntoTiles(mixed, bounds, {
        load: (tx, ty, dense) => {
          const t = existing.get(`${tx},${ty}`);
          if (!t) return false;
          decodeTileInto(t, dense);
          return true;
        },
        done: (tx, ty, dense, ext) => viaDense.set(`${tx},${ty}`, encodeTile(dense, ext ?? undefined)),
      });
      const viaSpans = new Map<string, EncodedTile>();
      const b = rasterizeIntoEncodedTiles(mixed, bounds, {
        load: (tx, ty) => existing.get(`${tx},${ty}`) ?? null,
        done: (tx, ty, tile) => viaSpans.set(`${tx},${ty}`, tile),
      });
      expect(b).toEqual(a);
      expect(viaSpans.size).toBe(viaDense.size);
      for (const [key, tile] of viaDense) expect(viaSpans.get(key), key).toEqual(tile);
      // band by band over one index (as the server paints): the same tiles
      const index = new PolygonIndex(mixed);
      const banded = new Map<string, EncodedTile>();
      for (let y = 0; y < H; y += 2 * MASK_TILE) {
        rasterizeIntoEncodedTiles(index, { x0: 0, y0: y, x1: W, y1: Math.min(H, y + 2 * MASK_TILE) }, {
          load: (tx, ty) => existing.get(`${tx},${ty}`) ?? null,
          done: (tx, ty, tile) => banded.set(`${tx},${ty}`, tile),
        });
      }
      expect(banded).toEqual(viaSpans);
      // the square covers tile (1, 0) whole: one value, whatever was there
      expect(viaSpans.get('1,0')).toEqual({ uniform: 3 });
    }
  });
});
