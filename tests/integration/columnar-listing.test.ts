/**
 * The columnar annotation listing (issue 13, tiles-server/http/columnar-routes.ts)
 * through HTTP: a model run's scored predictions and manual objects read
 * as WSCA frames decode to exactly what the JSON listing packs to, page by
 * page with the same cursor, for each layer (the geometry round trip is
 * identity, the catalogue's property test, here for the transport); bad
 * requests — no or another frame version, bad limit, cursor, layer, bbox,
 * an unknown slide — are 4xx with their code, never 500 (SEC-17: another
 * slide's id answers 404). The route table walk (access-control tests,
 * SEC-01) covers its credentials; a read of the listing is audited.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Annotation } from '../../src/core/annotation.js';
import { packPage } from '../../src/core/annotation-pages.js';
import { COLUMNAR_MEDIA_TYPE, decodeColumnarPage } from '../../src/core/columnar-pages.js';
import { asSession, bearer, type Session } from '../helpers/accounts.js';
import { FIXTURES } from '../helpers/paths.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let base = '';
let admin: Session;
let slide = '';
const N = 250;

const square = (x: number, y: number, s: number): number[][][] => [
  [
    [x, y],
    [x + s, y],
    [x + s, y + s],
    [x, y + s],
    [x, y],
  ],
];

beforeAll(async () => {
  server = await startTestServer(`${FIXTURES}/slides`);
  base = server.url;
  admin = server.session as Session;
  const slides = ((await asSession(base, admin, 'GET', '/api/slides')).body['slides'] as Array<{ id: string; status: string }>).filter((s) => s.status === 'ok');
  slide = (slides[0] as { id: string }).id;
  const run = await asSession(base, admin, 'POST', `/api/slides/${slide}/model-runs`, { model: { name: 'cellnet', version: '1' } }, { 'Idempotency-Key': randomUUID() });
  expect(run.status).toBe(201);
  const features = Array.from({ length: N }, (_, i) => ({
    type: 'Feature',
    id: randomUUID(),
    geometry: { type: 'Polygon', coordinates: square(100 + (i % 20) * 30.5, 100 + Math.floor(i / 20) * 30.25, 12) },
    properties: { objectType: 'detection', classification: { name: i % 3 ? 'Tumour' : 'Stroma' }, measurements: { probability: i % 7 === 0 ? undefined : (i % 100) / 100 } },
  }));
  const imp = await fetch(`${base}/api/slides/${slide}/model-runs/${String(run.body['id'])}/predictions?format=qupath-geojson`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Idempotency-Key': randomUUID(), ...bearer(base) },
    body: JSON.stringify({ type: 'FeatureCollection', features }),
  });
  expect(imp.status).toBe(201);
  // a manual object with text fields, and a corrected object (a relabel of the first prediction)
  const manual = await asSession(base, admin, 'POST', `/api/slides/${slide}/annotations`, { id: randomUUID(), kind: 'polyline', geometry: { type: 'LineString', coordinates: [[1, 2], [30, 40.5]] }, classification: null, name: 'ruler ✓ 🧪', note: 'a\nnote', locked: true, objectType: 'annotation', properties: {} }, { 'Idempotency-Key': randomUUID() });
  expect(manual.status).toBe(201);
  const first = (await json(`/api/slides/${slide}/annotations?layer=model&limit=1`)).annotations[0] as Annotation;
  const review = await asSession(base, admin, 'POST', `/api/slides/${slide}/model-runs/${String(run.body['id'])}/review`, { ops: [{ prediction: first.id, action: 'relabel', classification: first.classification === 'Tumour' ? 'Stroma' : 'Tumour' }] }, { 'Idempotency-Key': randomUUID() });
  expect(review.status).toBe(200);
}, 180_000);

afterAll(async () => {
  await server?.stop();
});

async function json(path: string): Promise<{ annotations: Annotation[]; next: number | null; total: number }> {
  const res = await fetch(`${base}${path}`, { headers: bearer(base) });
  expect(res.status).toBe(200);
  return (await res.json()) as { annotations: Annotation[]; next: number | null; total: number };
}

async function frame(path: string): Promise<{ status: number; type: string | null; bytes: Uint8Array; body: Record<string, unknown> | null }> {
  const res = await fetch(`${base}${path}`, { headers: bearer(base) });
  const bytes = new Uint8Array(await res.arrayBuffer());
  let body: Record<string, unknown> | null = null;
  if (res.headers.get('content-type')?.startsWith('application/json')) body = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  return { status: res.status, type: res.headers.get('content-type'), bytes, body };
}

function plain(p: ReturnType<typeof packPage>) {
  return { ...p, types: Array.from(p.types), coords: Array.from(p.coords), coordAt: Array.from(p.coordAt), parts: Array.from(p.parts), partAt: Array.from(p.partAt) };
}

describe('the columnar annotation listing (issue 13)', () => {
  for (const layer of ['working', 'model', 'all', 'superseded'] as const) {
    it(`layer=${layer}: every page decodes to what the JSON listing packs to, with the same cursor`, async () => {
      let after = 0;
      let pages = 0;
      let objects = 0;
      for (;;) {
        const q = `layer=${layer}&limit=64${after ? `&after=${after}` : ''}`;
        const j = await json(`/api/slides/${slide}/annotations?view=lean&${q}`);
        const f = await frame(`/api/slides/${slide}/annotations-columnar?v=1&${q}`);
        expect(f.status).toBe(200);
        expect(f.type).toBe(`${COLUMNAR_MEDIA_TYPE}; version=1`);
        const page = decodeColumnarPage(f.bytes);
        expect(plain(page)).toEqual(plain(packPage(j)));
        pages++;
        objects += page.records.length;
        if (page.next === null) break;
        after = page.next;
      }
      expect(pages).toBeGreaterThan(layer === 'superseded' ? 0 : 1);
      // working: the relabelled prediction's corrected object stands in its place; all: both;
      // superseded: only that prediction (what the triage queue reads besides the loaded layer)
      expect(objects).toBe(layer === 'model' ? N : layer === 'working' ? N + 1 : layer === 'superseded' ? 1 : N + 2);
    });
  }

  it('a box and the default page size work as in the JSON listing; by default the rows come first, then the stored block', async () => {
    const j = await json(`/api/slides/${slide}/annotations?view=lean&limit=100000&layer=working&bbox=0,0,300,300`);
    const f = decodeColumnarPage((await frame(`/api/slides/${slide}/annotations-columnar?v=1&layer=working&bbox=0,0,300,300`)).bytes);
    expect(plain(f)).toEqual(plain(packPage({ ...j, next: null })));
    expect(f.records.length).toBeGreaterThan(0);
    // the manual and the corrected object in a page of rows, then the run's predictions as their stored block (tiles-server/store/prediction-blocks.ts)
    const rows = decodeColumnarPage((await frame(`/api/slides/${slide}/annotations-columnar?v=1`)).bytes);
    expect(rows.records.map((r) => r.readOnly === true)).toEqual([false, false]);
    expect(rows.next).not.toBeNull();
    const block = decodeColumnarPage((await frame(`/api/slides/${slide}/annotations-columnar?v=1&after=${rows.next ?? 0}`)).bytes);
    expect(block.records.length).toBe(N);
    expect(block.records.every((r) => r.readOnly === true)).toBe(true);
    expect(block.next).toBeNull();
    expect(new Set([...rows.records, ...block.records].map((r) => r.id)).size).toBe(N + 2);
  });

  it('refuses bad requests with a 4xx and its code, never a 500 (no or another version, bad limit, cursor, layer, bbox, unknown slide: SEC-17)', async () => {
    const cases: Array<[string, number, string]> = [
      [`/api/slides/${slide}/annotations-columnar`, 406, 'NOT_ACCEPTABLE'],
      [`/api/slides/${slide}/annotations-columnar?v=2`, 406, 'NOT_ACCEPTABLE'],
      [`/api/slides/${slide}/annotations-columnar?v=1.0`, 406, 'NOT_ACCEPTABLE'],
      [`/api/slides/${slide}/annotations-columnar?v=1&limit=0`, 400, 'BAD_REQUEST'],
      [`/api/slides/${slide}/annotations-columnar?v=1&limit=1e9x`, 400, 'BAD_REQUEST'],
      [`/api/slides/${slide}/annotations-columnar?v=1&after=-1`, 400, 'BAD_REQUEST'],
      [`/api/slides/${slide}/annotations-columnar?v=1&layer=secret`, 400, 'BAD_REQUEST'],
      [`/api/slides/${slide}/annotations-columnar?v=1&bbox=1,2,3`, 400, 'BAD_REQUEST'],
      [`/api/slides/${slide}/annotations-columnar?v=1&layer=model&import=abcdefgh`, 400, 'BAD_REQUEST'],
      [`/api/slides/nosuchslide0/annotations-columnar?v=1`, 404, 'SLIDE_NOT_FOUND'],
    ];
    for (const [path, status, code] of cases) {
      const r = await frame(path);
      expect([path, r.status, r.body?.['code']]).toEqual([path, status, code]);
    }
  });

  it('a read of the listing is audited', async () => {
    await frame(`/api/slides/${slide}/annotations-columnar?v=1&limit=5`);
    await expect
      .poll(async () => {
        const audit = await asSession(base, admin, 'GET', `/api/audit?action=read`);
        return JSON.stringify(audit.body['records'] ?? []);
      })
      .toContain('annotations-columnar');
  });
});
