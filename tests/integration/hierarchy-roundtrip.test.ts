/**
 * Hierarchy through QuPath GeoJSON (issue 11, "Done when"): a file with
 * nested ROIs (three levels, non-rectangular) and cells, as QuPath writes
 * it, is imported, exported and the export imported again on another
 * slide; the hierarchy of what comes back (src/state/hierarchy.ts) gives
 * per-ROI, per-class cell counts (nested ROIs included) equal to a count
 * made here with a plain point-in-polygon loop over the original file.
 * QuPath keeps no parent ids in GeoJSON (it resolves parents from the
 * geometry on import), so the export stays valid for it: no new members.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Annotation, Position } from '../../src/core/annotation.js';
import { AnnotationStore } from '../../src/state/annotation-store.js';
import { Hierarchy } from '../../src/state/hierarchy.js';
import { SpatialIndex } from '../../src/state/spatial-index.js';
import { call } from '../helpers/annotations.js';
import { FIXTURES } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let slides: string[] = [];

beforeAll(async () => {
  server = await startTestServer(FIXTURES);
  const { body } = await getJson<{ slides: Array<{ id: string }> }>(`${server.url}/api/slides`);
  slides = body.slides.map((s) => s.id);
});

afterAll(async () => {
  await server?.stop();
});

/** A seeded generator, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A star-ish closed ring around (cx, cy): radius r, wobbling by ±w. */
function blob(cx: number, cy: number, r: number, w: number, n = 24): Position[] {
  const pts: Position[] = [];
  for (let i = 0; i < n; i++) {
    const t = (i / n) * 2 * Math.PI;
    const rr = r + (i % 2 ? w : -w);
    pts.push([cx + rr * Math.cos(t), cy + rr * Math.sin(t)]);
  }
  pts.push(pts[0] as Position);
  return pts;
}

/** The even-odd crossing test, written out here as the independent count. */
function inside(ring: Position[], x: number, y: number): boolean {
  let c = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i] as Position;
    const [xj, yj] = ring[j] as Position;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) c = !c;
  }
  return c;
}

const CLASSES = ['Tumor', 'Lymphocyte', 'Stroma'];

function qupathFile(): { file: Record<string, unknown>; rois: Array<{ name: string; ring: Position[] }>; cells: Array<{ x: number; y: number; cls: string }> } {
  const rand = rng(11);
  // three levels of nesting, plus a second top-level ROI beside them; the radii keep every child inside its parent
  const rois = [
    { name: 'tissue', ring: blob(2000, 2000, 1500, 60) },
    { name: 'tumour', ring: blob(1800, 1800, 700, 40) },
    { name: 'hotspot', ring: blob(1700, 1700, 200, 20) },
    { name: 'margin', ring: blob(2700, 2600, 300, 30) },
    { name: 'elsewhere', ring: blob(4500, 4500, 300, 25) },
  ];
  const cells: Array<{ x: number; y: number; cls: string }> = [];
  for (let i = 0; i < 3000; i++) cells.push({ x: 300 + rand() * 4600, y: 300 + rand() * 4600, cls: CLASSES[Math.floor(rand() * 3)] as string });
  const features = [
    ...rois.map((r) => ({ type: 'Feature', id: randomUUID(), geometry: { type: 'Polygon', coordinates: [r.ring] }, properties: { objectType: 'annotation', name: r.name, classification: { name: 'Region*', color: [0, 0, 180] } } })),
    ...cells.map((c) => ({
      type: 'Feature',
      id: randomUUID(),
      // a regular octagon around the centre: its centroid is the centre
      geometry: { type: 'Polygon', coordinates: [blob(c.x, c.y, 6, 0, 8)] },
      nucleusGeometry: { type: 'Polygon', coordinates: [blob(c.x, c.y, 3, 0, 8)] },
      properties: { objectType: 'cell', classification: { name: c.cls, color: [200, 0, 0] }, measurements: { 'Nucleus: Area': 28.3 } },
    })),
  ];
  return { file: { type: 'FeatureCollection', features }, rois, cells };
}

async function importInto(slide: string, text: string): Promise<void> {
  const r = await call<{ imported: number; skipped: unknown[] }>(server.url, 'POST', `/api/slides/${slide}/annotations/import?format=qupath-geojson`, { raw: text });
  expect(r.status).toBe(201);
  expect(r.body.skipped).toEqual([]);
}

async function all(slide: string): Promise<Annotation[]> {
  const r = await call<{ annotations: Annotation[]; next: number | null }>(server.url, 'GET', `/api/slides/${slide}/annotations?limit=100000`);
  expect(r.status).toBe(200);
  expect(r.body.next).toBe(null);
  return r.body.annotations;
}

describe('QuPath GeoJSON with nested ROIs and cells', () => {
  it('round-trips, and the cell counts per ROI equal a direct point-in-polygon count', async () => {
    const [first, second] = slides as [string, string];
    const { file, rois, cells } = qupathFile();
    await importInto(first, JSON.stringify(file));
    const res = await fetch(`${server.url}/api/slides/${first}/annotations/export?format=qupath-geojson`);
    expect(res.status).toBe(200);
    const exported = await res.text();
    const parsed = JSON.parse(exported) as { features: Array<{ properties: Record<string, unknown>; nucleusGeometry?: unknown }> };
    // still QuPath's shape: cells stay cells with their nuclei, and no member QuPath would not know was added
    expect(parsed.features.filter((f) => f.properties['objectType'] === 'cell')).toHaveLength(cells.length);
    expect(parsed.features.every((f) => f.properties['objectType'] !== 'cell' || f.nucleusGeometry !== undefined)).toBe(true);
    expect(parsed.features.some((f) => 'parent' in f.properties || 'parentId' in f.properties)).toBe(false);
    await importInto(second, exported);
    const back = await all(second);
    expect(back).toHaveLength(rois.length + cells.length);

    const store = new AnnotationStore();
    const index = new SpatialIndex(store);
    const h = new Hierarchy(store, index);
    store.apply({ create: back.map((a) => ({ ...a, version: a.version })) }, 'remote');
    await index.rebuild();
    await h.build();

    for (const roi of rois) {
      const a = back.find((x) => x.name === roi.name) as Annotation;
      const got = Object.fromEntries(h.countsUnder(store.handleOf(a.id) as number));
      const want: Record<string, number> = {};
      for (const c of cells) if (inside(roi.ring, c.x, c.y)) want[c.cls] = (want[c.cls] ?? 0) + 1;
      expect(Object.values(want).reduce((s, n) => s + n, 0), `${roi.name} holds cells`).toBeGreaterThan(5);
      expect(got, roi.name).toEqual(want);
    }
    // and the nesting itself: hotspot ⊂ tumour ⊂ tissue, margin ⊂ tissue, elsewhere at the top
    const parentName = (name: string): string | null => {
      const a = back.find((x) => x.name === name) as Annotation;
      const p = h.parentOf(store.handleOf(a.id) as number);
      return p === null ? null : store.nameOf(p);
    };
    expect(['tissue', 'tumour', 'hotspot', 'margin', 'elsewhere'].map(parentName)).toEqual([null, 'tissue', 'tumour', 'tissue', null]);
  });
});
