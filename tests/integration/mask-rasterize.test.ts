/**
 * Regions of interest into the mask (POST …/masks/{annotator}/rasterize):
 * the fixed paint order (largest area first, later over earlier), holes,
 * what is skipped and why, existing paint kept where no polygon falls, the
 * result against the rasterizer's own rule pixel for pixel, idempotent
 * retries, and refusals that paint nothing; a dry run that counts the
 * painted pixels a run would overwrite, and keepPainted, which leaves them
 * alone (issue 11).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { polygonSpans } from '../../src/core/mask/raster.js';
import { call, square } from '../helpers/annotations.js';
import { b64, inflate, postTiles, readPack, tile, zlib } from '../helpers/masks.js';
import { FIXTURES } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

/** The annotator: the signed-in admin's user id (known once the server is up). */
let USER = '';
const T = 512;
let server: TestServer;
/** aperio-jpeg-256-x2.svs: 3000 × 2000 px. */
let slide = '';
const W = 3000;
const H = 2000;

beforeAll(async () => {
  server = await startTestServer(`${FIXTURES}/slides`, {});
  USER = server.admin?.id ?? '';
  const { body } = await getJson<{ slides: Array<{ id: string; name: string }> }>(`${server.url}/api/slides`);
  slide = body.slides.find((s) => s.name === 'aperio-jpeg-256-x2.svs')?.id ?? '';
});

afterAll(async () => {
  await server?.stop();
});

async function rasterize(body: unknown, key: string | null = randomUUID(), annotator = USER): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (key !== null) headers['Idempotency-Key'] = key;
  const res = await fetch(`${server.url}/api/slides/${slide}/masks/${annotator}/rasterize`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function mask(): Promise<Uint8Array> {
  const out = new Uint8Array(W * H);
  for (const t of (await readPack(server.url, slide, USER)).tiles) {
    const d = inflate(t.data);
    for (let y = 0; y < T && t.ty * T + y < H; y++) {
      const w = Math.min(T, W - t.tx * T);
      out.set(d.subarray(y * T, y * T + w), (t.ty * T + y) * W + t.tx * T);
    }
  }
  return out;
}

function ring(g: { coordinates: number[][][] }, i = 0): Float64Array {
  return Float64Array.from((g.coordinates[i] as number[][]).flat());
}

async function create(a: Record<string, unknown>): Promise<void> {
  expect((await call(server.url, 'POST', `/api/slides/${slide}/annotations`, { body: a })).status).toBe(201);
}

describe('rasterizing regions of interest into the mask', () => {
  it('paints in a fixed order — larger first, later over earlier — keeps holes and existing paint, and says what it skipped', async () => {
    const classes = (await call<{ classes: Array<{ name: string; id: number }> }>(server.url, 'GET', '/api/classes')).body.classes;
    const id = (n: string): number => classes.find((c) => c.name === n)?.id as number;
    // existing paint in the corner tile, outside every polygon
    const corner = tile((x, y) => (x < 50 && y < 50 ? id('Other') : 0));
    expect((await postTiles(server.url, slide, USER, { ops: [{ tx: 0, ty: 0, ifMatch: 0, data: b64(zlib(corner)) }] })).status).toBe(200);
    // the small region is created first but painted last (smaller area)
    const small = square(700.5, 600.25, 300, { classification: 'Stroma' });
    const big = square(400, 400, 1500, { classification: 'Tumour' });
    const holed = {
      ...square(2000, 300, 800, { classification: 'Necrosis' }),
      geometry: {
        type: 'Polygon',
        coordinates: [
          [[2000, 300], [2800, 300], [2800, 1100], [2000, 1100], [2000, 300]],
          [[2200.5, 500.5], [2600, 500.5], [2600, 900], [2200.5, 900], [2200.5, 500.5]],
        ],
      },
    };
    const unclassified = square(100, 1500, 200, { classification: null });
    const detection = { ...square(120, 1520, 50, { classification: 'Tumour' }), objectType: 'detection' };
    const point = { id: randomUUID(), kind: 'point', geometry: { type: 'Point', coordinates: [10, 10] }, classification: 'Tumour' };
    for (const a of [small, big, holed, unclassified, detection, point]) await create(a);

    const r = await rasterize({});
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ painted: 3 });
    const skipped = r.body['skipped'] as Array<{ id: string; reason: string }>;
    expect(skipped.map((s) => s.id).sort()).toEqual([unclassified['id'], point.id].sort());
    expect(skipped.find((s) => s.id === unclassified['id'])?.reason).toMatch(/no class/);

    // the same by the rule: big, holed, small, each over the last, over the existing corner
    const want = new Uint8Array(W * H);
    for (let y = 0; y < 50; y++) want.fill(id('Other'), y * W, y * W + 50);
    const paint = (rings: Float64Array[], v: number): void => polygonSpans(rings, { x0: 0, y0: 0, x1: W, y1: H }, (y, a, b) => want.fill(v, y * W + a, y * W + b));
    paint([ring(big['geometry'] as { coordinates: number[][][] })], id('Tumour'));
    paint([ring(holed.geometry), ring(holed.geometry, 1)], id('Necrosis'));
    paint([ring(small['geometry'] as { coordinates: number[][][] })], id('Stroma'));
    const got = await mask();
    let differing = 0;
    for (let i = 0; i < got.length; i++) if (got[i] !== want[i]) differing++;
    expect(differing).toBe(0);
    expect(got[750 * W + 800]).toBe(id('Stroma'));
    expect(got[700 * W + 2400]).toBe(0); // the hole
    expect(got[1530 * W + 130]).toBe(0); // the detection is not a region of interest
  });

  it('paints chosen annotations only, replays a retry, and refuses unknown ids and other annotators without painting', async () => {
    const a = square(100, 1700, 100, { classification: 'Lymphocytes' });
    await create(a);
    const key = randomUUID();
    const before = await readPack(server.url, slide, USER);
    const first = await rasterize({ annotations: [a['id']] }, key);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ painted: 1, tiles: 1 });
    const again = await rasterize({ annotations: [a['id']] }, key);
    expect(again.body).toMatchObject({ painted: 1, replayed: true });
    expect((await readPack(server.url, slide, USER)).tiles.filter((t) => t.ty === 3 && t.tx === 0)[0]?.version).toBe(
      (before.tiles.find((t) => t.ty === 3 && t.tx === 0)?.version ?? 0) + 1,
    );
    // painted once more it changes no pixel, so no tile gets a new version
    expect((await rasterize({ annotations: [a['id']] })).body).toMatchObject({ painted: 1, tiles: 0 });
    // a triangle whose bounding box reaches tile (3, 3) but none of whose pixels do: that tile is not written
    const tri: Record<string, unknown> = { ...square(0, 0, 1, { classification: 'Lymphocytes' }), geometry: { type: 'Polygon', coordinates: [[[1530, 1500], [1570, 1500], [1530, 1540], [1530, 1500]]] } };
    await create(tri);
    const version33 = async (): Promise<number | undefined> => (await readPack(server.url, slide, USER)).tiles.find((t) => t.tx === 3 && t.ty === 3)?.version;
    const was = await version33();
    expect((await rasterize({ annotations: [tri['id']] })).body).toMatchObject({ painted: 1, tiles: 3 });
    expect(await version33()).toBe(was);
    const snapshot = (await readPack(server.url, slide, USER)).raw;
    const unknown = await rasterize({ annotations: [randomUUID()] });
    expect([unknown.status, unknown.body['code']]).toEqual([404, 'ANNOTATION_NOT_FOUND']);
    expect((await rasterize({ annotations: [] })).status).toBe(400);
    expect((await rasterize({}, randomUUID(), 'someone.else')).status).toBe(403);
    expect((await rasterize({}, null)).status).toBe(400);
    expect((await readPack(server.url, slide, USER)).raw.equals(snapshot)).toBe(true);
  });

  it('a dry run says what would be overwritten and writes nothing; keepPainted paints only unlabelled pixels', async () => {
    const classes = (await call<{ classes: Array<{ name: string; id: number }> }>(server.url, 'GET', '/api/classes')).body.classes;
    const id = (n: string): number => classes.find((c) => c.name === n)?.id as number;
    // start from an empty mask and no regions
    const list = (await call<{ annotations: Array<{ id: string; version: number }> }>(server.url, 'GET', `/api/slides/${slide}/annotations?limit=5000`)).body.annotations;
    if (list.length) expect((await call(server.url, 'POST', `/api/slides/${slide}/annotations/batch`, { body: { ops: list.map((a) => ({ op: 'delete', id: a.id, ifMatch: a.version })) } })).status).toBe(200);
    const old = (await readPack(server.url, slide, USER)).tiles;
    const empty = b64(zlib(new Uint8Array(T * T)));
    if (old.length) expect((await postTiles(server.url, slide, USER, { ops: old.map((t) => ({ tx: t.tx, ty: t.ty, ifMatch: t.version, data: empty })) })).status).toBe(200);
    // hand-painted: a 100 × 100 Lymphocytes block and a 20 × 50 Necrosis block in tile (1, 1), inside a Tumour region
    const painted = tile((x, y) => (x >= 100 && x < 200 && y >= 100 && y < 200 ? id('Lymphocytes') : x >= 300 && x < 320 && y >= 300 && y < 350 ? id('Necrosis') : 0));
    const v = (await readPack(server.url, slide, USER)).tiles.find((t) => t.tx === 1 && t.ty === 1)?.version ?? 0;
    expect((await postTiles(server.url, slide, USER, { ops: [{ tx: 1, ty: 1, ifMatch: v, data: b64(zlib(painted)) }] })).status).toBe(200);
    await create(square(512, 512, 512, { classification: 'Tumour' }));
    const snapshot = (await readPack(server.url, slide, USER)).raw;

    const dry = await rasterize({ dryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ dryRun: true, painted: 1, tiles: 1, overwrite: { [id('Lymphocytes')]: 10_000, [id('Necrosis')]: 1_000 }, overwritePixels: 11_000, overwriteTiles: 1, newPixels: 512 * 512 - 11_000 });
    expect((await readPack(server.url, slide, USER)).raw.equals(snapshot)).toBe(true);
    expect((await rasterize({ dryRun: 'yes' })).status).toBe(400);

    const kept = await rasterize({ keepPainted: true });
    expect(kept.status).toBe(201);
    expect(kept.body).toMatchObject({ painted: 1, tiles: 1, keepPainted: true, kept: { [id('Lymphocytes')]: 10_000, [id('Necrosis')]: 1_000 }, overwritten: {} });
    const got = inflate((await readPack(server.url, slide, USER)).tiles.find((t) => t.tx === 1 && t.ty === 1)?.data as Buffer);
    for (let i = 0; i < T * T; i++) if (got[i] !== (painted[i] || id('Tumour'))) throw new Error(`pixel ${i}: ${got[i]}`);
    // the painted pixels were left alone, so painting over them is what is left to do
    expect((await rasterize({ dryRun: true })).body).toMatchObject({ tiles: 1, newPixels: 0, overwritePixels: 11_000 });
    expect((await rasterize({ dryRun: true, keepPainted: true })).body).toMatchObject({ tiles: 0, newPixels: 0 });
    const over = await rasterize({});
    expect(over.body).toMatchObject({ tiles: 1, overwritten: { [id('Lymphocytes')]: 10_000, [id('Necrosis')]: 1_000 } });
    const all = inflate((await readPack(server.url, slide, USER)).tiles.find((t) => t.tx === 1 && t.ty === 1)?.data as Buffer);
    expect(all.every((b) => b === id('Tumour'))).toBe(true);
  });
});
