/**
 * One damaged page of the database (TEST-CATALOGUE FAULT-06): a leaf page
 * of the annotation history is overwritten on disk while the server is
 * stopped. At start the integrity check finds it; the server starts anyway,
 * refuses every write route with 503 STORE_DAMAGED (nothing is built on a
 * damaged file, and the file is left exactly as it was), keeps serving the
 * reads that still work (slides, tiles, classes, masks), answers the reads
 * that touch the damaged page with 503 STORE_DAMAGED rather than 500, and
 * says what to restore in its log and in /api/health.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, square } from '../helpers/annotations.js';
import { b64, postTiles, readPack, tile, zlib } from '../helpers/masks.js';
import { FIXTURES } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

let data: string;
let server: TestServer;
let slide = '';
let someId = '';
let fileHash = '';

const sha = async (p: string): Promise<string> => createHash('sha256').update(await readFile(p)).digest('hex');

beforeAll(async () => {
  data = await mkdtemp(join(tmpdir(), 'wsi-damaged-'));
  const first = await startTestServer(FIXTURES, { DATA_DIR: data });
  const { body } = await getJson<{ slides: Array<{ id: string; name: string }> }>(`${first.url}/api/slides`);
  slide = body.slides.find((s) => s.name === 'slides/aperio-jpeg-240-x4.svs')?.id ?? '';
  // enough annotations for the history to span many pages, and one mask tile
  const annotations = Array.from({ length: 400 }, (_, i) => ({ ...square(i * 5, 10, 4), note: 'x'.repeat(200) }));
  const ops = annotations.map((annotation) => ({ op: 'create', annotation }));
  someId = String((annotations[0] as Record<string, unknown>)['id']);
  expect((await call(first.url, 'POST', `/api/slides/${slide}/annotations/batch`, { body: { ops } })).status).toBe(200);
  expect((await postTiles(first.url, slide, first.admin?.id ?? '', { ops: [{ tx: 0, ty: 0, ifMatch: 0, data: b64(zlib(tile((x) => (x < 100 ? 2 : 0)))) }] })).status).toBe(200);
  await first.stop('SIGTERM');
  // overwrite one leaf page of the history table
  const path = join(data, 'wsi.db');
  const db = new Database(path, { readonly: true });
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const leaves = db.prepare(`SELECT pageno FROM dbstat WHERE name = 'history' AND pagetype = 'leaf' ORDER BY pageno`).all() as Array<{ pageno: number }>;
  db.close();
  expect(leaves.length).toBeGreaterThan(5);
  const page = (leaves[Math.floor(leaves.length / 2)] as { pageno: number }).pageno;
  const fh = await open(path, 'r+');
  await fh.write(Buffer.alloc(pageSize, 0xa5), 0, pageSize, (page - 1) * pageSize);
  await fh.close();
  fileHash = await sha(path);
  server = await startTestServer(FIXTURES, { DATA_DIR: data });
});

afterAll(async () => {
  await server?.stop();
  await rm(data, { recursive: true, force: true });
});

describe('a damaged database page (FAULT-06)', () => {
  it('is found at start, and the log says what to restore', () => {
    expect(server.output()).toMatch(/DATABASE DAMAGED: \S*wsi\.db \(.+\)\. Writes are refused.*latest backup/);
  });

  it('/api/health reports it with what to restore', async () => {
    const { status, body } = await getJson<{ ok: boolean; store: { status: string; problem: string; restore: string } }>(`${server.url}/api/health`);
    expect(status).toBe(503);
    expect(body.ok).toBe(false);
    expect(body.store.status).toBe('damaged');
    expect(body.store.problem.length).toBeGreaterThan(5);
    expect(body.store.restore).toMatch(/latest backup/);
    // no server path in an answer
    expect(JSON.stringify(body)).not.toContain(data);
  });

  it('refuses every write route with 503 STORE_DAMAGED', async () => {
    const aid = someId;
    const writes: Array<[string, string, Record<string, unknown>]> = [
      ['POST', `/api/slides/${slide}/annotations`, { body: square(900, 900, 10) }],
      ['POST', `/api/slides/${slide}/annotations/batch`, { body: { ops: [{ op: 'create', annotation: square(1, 1, 1) }] } }],
      ['POST', `/api/slides/${slide}/annotations/import?format=qupath-geojson`, { raw: '{"type":"FeatureCollection","features":[]}', type: 'application/geo+json' }],
      ['PATCH', `/api/slides/${slide}/annotations/${aid}`, { body: { name: 'x' }, ifMatch: 1 }],
      ['DELETE', `/api/slides/${slide}/annotations/${aid}`, { ifMatch: 1 }],
      ['POST', `/api/slides/${slide}/annotations/${aid}/restore`, { body: {}, ifMatch: 1 }],
      ['PUT', '/api/classes', { body: { classes: [{ name: 'Tumour', color: '#ff0000' }] } }],
      ['POST', `/api/slides/${slide}/masks/${server.admin?.id ?? ''}/tiles`, { body: { ops: [{ tx: 1, ty: 0, ifMatch: 0, data: b64(zlib(tile(() => 1))) }] } }],
      ['POST', `/api/slides/${slide}/masks/${server.admin?.id ?? ''}/import`, { raw: 'not a png', type: 'image/png' }],
      ['POST', `/api/slides/${slide}/masks/${server.admin?.id ?? ''}/rasterize`, { body: {} }],
      // a new session is a write too (the file is open read-only): tokens and sessions made before still read
      ['POST', '/api/auth/session', { body: { username: 'admin', password: 'correct horse battery staple' } }],
    ];
    for (const [method, path, opts] of writes) {
      const r = await call(server.url, method, path, { key: randomUUID(), ...opts });
      expect(r.status, `${method} ${path}`).toBe(503);
      expect(r.body, `${method} ${path}`).toMatchObject({ code: 'STORE_DAMAGED', message: expect.stringMatching(/latest backup/) as unknown });
    }
  });

  it('keeps serving the reads that still work', async () => {
    expect((await getJson(`${server.url}/api/slides`)).status).toBe(200);
    expect((await fetch(`${server.url}/dzi/${slide}_files/8/0_0.jpeg`)).status).toBe(200);
    const classes = await getJson<{ classes: Array<{ name: string }> }>(`${server.url}/api/classes`);
    expect(classes.status).toBe(200);
    expect(classes.body.classes[0]?.name).toBe('Tumour');
    const pack = await readPack(server.url, slide, server.admin?.id ?? '');
    expect(pack.status).toBe(200);
    expect(pack.tiles.map((t) => [t.tx, t.ty, t.version])).toEqual([[0, 0, 1]]);
  });

  it('answers a read that meets the damaged page with 503 STORE_DAMAGED, not 500', async () => {
    const r = await call(server.url, 'GET', `/api/slides/${slide}/annotations?limit=1000`);
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ code: 'STORE_DAMAGED' });
  });

  it('leaves the damaged file exactly as it was', async () => {
    await server.stop();
    expect(await sha(join(data, 'wsi.db'))).toBe(fileHash);
  });
});
