/**
 * Per-ROI measurements: the painted mask's pixels per class inside a
 * polygon equal a pixel-by-pixel count (centre inside, even-odd) over
 * tiles of every kind (uniform, run-length, absent) and a polygon crossing
 * tile edges; an empty ROI and a ROI outside the mask count nothing
 * painted; the CSV has one line per ROI plus the slide's totals, and a name
 * that a spreadsheet would run as a formula is escaped (CSV injection
 * through an object name; the catalogue has no id for it yet).
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { maskCountsInRings } from '../../src/core/mask/region-counts.js';
import { MASK_TILE, tileKey } from '../../src/core/mask/mask-grid.js';
import { encodeTile, type EncodedTile } from '../../src/core/mask/rle.js';
import { AnnotationStore, type AnnotationRecord } from '../../src/state/annotation-store.js';
import { Hierarchy } from '../../src/state/hierarchy.js';
import { MaskStore } from '../../src/state/mask-store.js';
import { csvField, measureRois, measurementsCsv, slideTotals } from '../../src/state/roi-measurements.js';
import { SpatialIndex } from '../../src/state/spatial-index.js';

function inside(ring: number[], x: number, y: number): boolean {
  let c = false;
  for (let i = 0, j = ring.length - 2; i < ring.length; j = i, i += 2) {
    const xi = ring[i] as number;
    const yi = ring[i + 1] as number;
    const xj = ring[j] as number;
    const yj = ring[j + 1] as number;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) c = !c;
  }
  return c;
}

describe('mask pixels inside a region', () => {
  it('equal a pixel-by-pixel count over uniform, run-length and absent tiles', () => {
    const tiles = new Map<string, EncodedTile>();
    const dense = new Map<string, Uint8Array>();
    // (0,0): stripes of classes 1–3; (1,0): uniform 4; (0,1): a disc of 5; (1,1): absent
    const stripes = new Uint8Array(MASK_TILE * MASK_TILE).map((_, i) => 1 + (Math.floor((i % MASK_TILE) / 37) % 3));
    const disc = new Uint8Array(MASK_TILE * MASK_TILE).map((_, i) => (Math.hypot((i % MASK_TILE) - 256, Math.floor(i / MASK_TILE) - 256) < 180 ? 5 : 0));
    const uniform = new Uint8Array(MASK_TILE * MASK_TILE).fill(4);
    for (const [k, d] of [[tileKey(0, 0), stripes], [tileKey(1, 0), uniform], [tileKey(0, 1), disc]] as const) {
      tiles.set(k, encodeTile(d));
      dense.set(k, d);
    }
    expect('uniform' in (tiles.get(tileKey(1, 0)) as EncodedTile)).toBe(true);
    // a triangle-ish polygon over all four tiles, with non-integer vertices
    const ring = [100.3, 60.7, 980.5, 300.2, 700.9, 1000.1, 40.2, 800.8, 100.3, 60.7];
    const clip = { x0: 0, y0: 0, x1: 1024, y1: 1024 };
    const got = maskCountsInRings([ring], clip, (tx, ty) => tiles.get(tileKey(tx, ty)) ?? null);
    const want = new Float64Array(256);
    for (let y = 0; y < 1024; y++) {
      for (let x = 0; x < 1024; x++) {
        if (!inside(ring, x + 0.5, y + 0.5)) continue;
        const d = dense.get(tileKey(Math.floor(x / MASK_TILE), Math.floor(y / MASK_TILE)));
        want[d ? (d[(y % MASK_TILE) * MASK_TILE + (x % MASK_TILE)] as number) : 0]++;
      }
    }
    expect([...got]).toEqual([...want]);
    for (const c of [1, 2, 3, 4, 5]) expect(got[c]).toBeGreaterThan(0);
  });

  it('an empty (zero-area) ring covers nothing', () => {
    const got = maskCountsInRings([[0, 0, 100, 0, 200, 0, 0, 0]], { x0: 0, y0: 0, x1: 512, y1: 512 }, () => ({ uniform: 3 }));
    expect(got.reduce((a, b) => a + b, 0)).toBe(0);
  });
});

describe('the measurement table', () => {
  const rec = (geometry: AnnotationRecord['geometry'], extra: Partial<AnnotationRecord> = {}): AnnotationRecord => ({
    id: randomUUID(),
    kind: 'polygon',
    geometry,
    classification: 'Tumour',
    name: null,
    note: null,
    locked: false,
    objectType: 'annotation',
    properties: {},
    version: 1,
    ...extra,
  });
  const box = (x: number, y: number, w: number, h: number): AnnotationRecord['geometry'] => ({ type: 'Polygon', coordinates: [[[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]]] });

  it('has area, perimeter, nested counts and mask area per ROI, the slide totals, and escapes formulas', async () => {
    const store = new AnnotationStore();
    const index = new SpatialIndex(store);
    const h = new Hierarchy(store, index);
    const outer = rec(box(0, 0, 1000, 1000), { name: '=HYPERLINK("http://evil")' });
    const inner = rec(box(100, 100, 200, 200), { name: 'inner, "quoted"' });
    const pts = [rec({ type: 'Point', coordinates: [150, 150] }, { kind: 'point', classification: 'Lymphocytes' }), rec({ type: 'Point', coordinates: [600, 600] }, { kind: 'point', classification: 'Lymphocytes' }), rec({ type: 'Point', coordinates: [5000, 5000] }, { kind: 'point', classification: 'Lymphocytes' })];
    store.apply({ create: [outer, inner, ...pts] }, 'remote');
    await index.rebuild();
    await h.build();
    const mask = new MaskStore();
    mask.apply([{ key: tileKey(0, 0), tile: { uniform: 2 } }], 'remote', 'Load');
    const rows = measureRois(store, h, mask, { width: 6000, height: 6000 });
    expect(rows.map((r) => [r.name, r.depth, r.areaPx, r.perimeterPx, r.objects.get('Lymphocytes') ?? 0])).toEqual([
      [outer.name, 0, 1_000_000, 4000, 2],
      [inner.name, 1, 40_000, 800, 1],
    ]);
    // mask class 2 covers tile (0,0): all of the inner ROI, 512² of the outer one
    expect(rows[0]?.maskPx?.[2]).toBe(512 * 512);
    expect(rows[1]?.maskPx?.[2]).toBe(200 * 200);
    const totals = slideTotals(store, h, mask);
    expect(totals.objects.get('Lymphocytes')).toBe(3);
    const csv = measurementsCsv(rows, totals, 0.5, ['Lymphocytes'], [{ id: 2, name: 'Stroma' }]);
    const lines = csv.trimEnd().split('\r\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe('id,name,class,parent,depth,area (µm²),perimeter (µm),objects: Lymphocytes,mask area (µm²): Stroma');
    expect(lines[1]).toBe(`${outer.id},"'=HYPERLINK(""http://evil"")",Tumour,,0,250000,2000,2,65536`);
    expect(lines[2]).toBe(`${inner.id},"inner, ""quoted""",Tumour,"'=HYPERLINK(""http://evil"")",1,10000,400,1,10000`);
    expect(lines[3]).toBe('(slide),all objects,,,,,,3,65536');
    expect(csvField('-1+2')).toBe("'-1+2");
    expect(csvField('@SUM(A1)')).toBe("'@SUM(A1)");
  });
});
