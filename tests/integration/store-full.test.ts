/**
 * A full store (TEST-CATALOGUE DATA-13): with the database capped
 * (DB_MAX_MB, which gives the same SQLITE_FULL a full disk does), a write
 * that does not fit is refused with 507 STORE_FULL and leaves nothing
 * behind — single creates, mask tiles and whole imports — while reads and
 * tiles go on being served; with room again the server starts, its
 * database passes its check, and the client's retry of the refused write
 * (same Idempotency-Key) is stored exactly once.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call, square } from '../helpers/annotations.js';
import { b64, postTiles, readPack, tile, zlib } from '../helpers/masks.js';
import { FIXTURES } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A polygon of `n` vertices (about 40 bytes each stored). */
function bigPolygon(i: number, n = 4000): Record<string, unknown> {
  const ring: number[][] = [];
  for (let k = 0; k < n; k++) {
    const a = (k / n) * Math.PI * 2;
    ring.push([+(500 + i * 3 + Math.cos(a) * 300).toFixed(3), +(500 + Math.sin(a) * (200 + (k % 7))).toFixed(3)]);
  }
  ring.push(ring[0] as number[]);
  return { ...square(0, 0, 1, { classification: 'Tumour' }), geometry: { type: 'Polygon', coordinates: [ring] } };
}

async function total(server: TestServer, slide: string): Promise<number> {
  return (await call<{ total: number }>(server.url, 'GET', `/api/slides/${slide}/annotations?limit=1`)).body.total;
}

describe('a full store (DATA-13)', () => {
  it('refuses what does not fit with 507 and keeps nothing of it; with room again the same retry is stored once', async () => {
    const data = await mkdtemp(join(tmpdir(), 'wsi-store-full-'));
    dirs.push(data);
    let server = await startTestServer(FIXTURES, { DATA_DIR: data, DB_MAX_MB: '2' });
    const { body } = await getJson<{ slides: Array<{ id: string; name: string }> }>(`${server.url}/api/slides`);
    const slide = body.slides.find((s) => s.name === 'slides/aperio-jpeg-256-x2.svs')?.id ?? '';
    let created = 0;
    let refused: { status: number; code: unknown; message: unknown; key: string; annotation: Record<string, unknown> } | null = null;
    for (let i = 0; i < 200 && !refused; i++) {
      const annotation = bigPolygon(i);
      const key = randomUUID();
      const r = await call(server.url, 'POST', `/api/slides/${slide}/annotations`, { body: annotation, key });
      if (r.status === 201) created++;
      else refused = { status: r.status, code: r.body['code'], message: r.body['message'], key, annotation };
    }
    expect(created).toBeGreaterThan(3);
    expect(refused).toMatchObject({ status: 507, code: 'STORE_FULL', message: expect.stringMatching(/full/) as unknown });
    const lost = refused as NonNullable<typeof refused>;
    // nothing of the refused write was kept, and everything before it is there
    expect((await call(server.url, 'GET', `/api/slides/${slide}/annotations/${String(lost.annotation['id'])}`)).status).toBe(404);
    expect(await total(server, slide)).toBe(created);
    // a mask tile and a whole import are refused the same way, and leave nothing
    let seed = 1;
    const noise = (): number => 1 + ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) % 6; // classes 1–6, poorly compressible
    let tileRefused: { status: number; code: unknown; tx: number } | null = null;
    for (let tx = 0; tx < 40 && !tileRefused; tx++) {
      const r = await postTiles(server.url, slide, server.admin?.id ?? '', { ops: [{ tx: tx % 5, ty: Math.floor(tx / 5), ifMatch: 0, data: b64(zlib(tile(() => noise()))) }] });
      if (r.status !== 200) tileRefused = { status: r.status, code: r.body['code'], tx };
    }
    expect(tileRefused).toMatchObject({ status: 507, code: 'STORE_FULL' });
    const refusedTile = tileRefused as NonNullable<typeof tileRefused>;
    const pack = await readPack(server.url, slide, server.admin?.id ?? '');
    expect(pack.tiles.some((t) => t.tx === refusedTile.tx % 5 && t.ty === Math.floor(refusedTile.tx / 5))).toBe(false);
    expect(pack.tiles.length).toBe(refusedTile.tx);
    const features = Array.from({ length: 300 }, (_, i) => ({ type: 'Feature', geometry: bigPolygon(i, 300)['geometry'], properties: { objectType: 'annotation' } }));
    const imp = await call(server.url, 'POST', `/api/slides/${slide}/annotations/import?format=qupath-geojson`, { raw: JSON.stringify({ type: 'FeatureCollection', features }), type: 'application/geo+json' });
    expect([imp.status, imp.body['code']]).toEqual([507, 'STORE_FULL']);
    expect(await total(server, slide)).toBe(created);
    // reading and tiles go on
    expect((await fetch(`${server.url}/dzi/${slide}_files/8/0_0.jpeg`)).status).toBe(200);
    await server.stop();
    // room again: the server starts (its integrity check passes) and the client's retry is stored once
    server = await startTestServer(FIXTURES, { DATA_DIR: data });
    try {
      expect((await call(server.url, 'POST', `/api/slides/${slide}/annotations`, { body: lost.annotation, key: lost.key })).status).toBe(201);
      expect((await call(server.url, 'POST', `/api/slides/${slide}/annotations`, { body: lost.annotation, key: lost.key })).status).toBe(200);
      expect(await total(server, slide)).toBe(created + 1);
    } finally {
      await server.stop();
    }
  });
});
