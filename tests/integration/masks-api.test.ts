/**
 * The mask API of the built server: stable class ids (and their migration
 * from a version-1 database), tile batches with per-tile versions, 412/428/
 * 403/400/413 refusals that write nothing, idempotent retries, atomic
 * batches, append-only history, stats, and durability across a SIGKILL.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync, deflateSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../tiles-server/store/database.js';
import { call } from '../helpers/annotations.js';
import { b64, inflate, postTiles, readPack, tile, zlib, TILE_BYTES } from '../helpers/masks.js';
import { FIXTURES } from '../helpers/paths.js';
import { getJson, startTestServer, waitExit, type TestServer } from '../helpers/server.js';

/** The annotator: the signed-in admin's user id (known once the server is up). */
let USER = '';
let server: TestServer;
/** aperio-jpeg-240-x4.svs: 2400 × 1800 px → 5 × 4 tiles; the last column is 352 px wide, the last row 264 px high. */
let slide = '';
/** generic-deflate-256.tif: 1500 × 1100 px at 0.5 µm/px. */
let other = '';

interface Problem {
  code: string;
  message: string;
  detail?: Record<string, unknown>;
}
interface WriteAnswer {
  opId: string;
  results: Array<{ tx: number; ty: number; version: number }>;
  replayed?: boolean;
}
interface ClassRow {
  id: number;
  name: string;
  color: string;
  hotkey: string | null;
}

const ids = async (base = server.url): Promise<Array<[string, number]>> =>
  (await call<{ classes: ClassRow[] }>(base, 'GET', '/api/classes')).body.classes.map((c) => [c.name, c.id]);
const put = (names: string[], base = server.url): ReturnType<typeof call<{ classes: ClassRow[] } & Problem>> =>
  call(base, 'PUT', '/api/classes', { body: { classes: names.map((name, i) => ({ name, color: `#0000${(i % 256).toString(16).padStart(2, '0')}`, hotkey: null })) } });
const DEFAULTS = ['Tumour', 'Stroma', 'Necrosis', 'Lymphocytes', 'Normal', 'Other'];

beforeAll(async () => {
  server = await startTestServer(FIXTURES, {});
  USER = server.admin?.id ?? '';
  const { body } = await getJson<{ slides: Array<{ id: string; name: string }> }>(`${server.url}/api/slides`);
  slide = body.slides.find((s) => s.name === 'slides/aperio-jpeg-240-x4.svs')?.id ?? '';
  other = body.slides.find((s) => s.name === 'slides/generic-deflate-256.tif')?.id ?? '';
  expect(slide && other).toBeTruthy();
});

afterAll(async () => {
  await server?.stop();
});

describe('class registry with stable mask ids', () => {
  it('gives the six defaults ids 1–6 and names the local user', async () => {
    expect(await ids()).toEqual(DEFAULTS.map((n, i) => [n, i + 1]));
    expect((await call(server.url, 'GET', '/api/me')).body).toMatchObject({ user: USER, username: 'admin', globalRole: 'admin' });
  });

  it('keeps ids by name across PUT, gives new names the next ids and never reuses a removed one', async () => {
    const a = await put(['Other', 'Tumour', 'Mitosis', 'Stroma', 'Necrosis', 'Lymphocytes', 'Normal', 'Fat']);
    expect(a.status).toBe(200);
    expect(await ids()).toEqual([['Other', 6], ['Tumour', 1], ['Mitosis', 7], ['Stroma', 2], ['Necrosis', 3], ['Lymphocytes', 4], ['Normal', 5], ['Fat', 8]]);
    await put([...DEFAULTS, 'Mitosis', 'Vessel']);
    expect(await ids()).toContainEqual(['Vessel', 9]);
    // Fat (8) was removed: 8 is not given to anyone else; Fat keeps it when it comes back
    await put([...DEFAULTS, 'Mitosis', 'Vessel', 'Nerve', 'Fat']);
    expect((await ids()).slice(6)).toEqual([['Mitosis', 7], ['Vessel', 9], ['Nerve', 10], ['Fat', 8]]);
  });

  it('refuses a client-chosen id and running out of ids, changing nothing', async () => {
    const before = await ids();
    const wrong = await call<Problem>(server.url, 'PUT', '/api/classes', { body: { classes: [{ name: 'Tumour', color: '#ff0000', hotkey: null, id: 3 }] } });
    expect([wrong.status, wrong.body.code]).toEqual([400, 'PALETTE_INVALID']);
    expect(wrong.body.message).toMatch(/Tumour has mask id 1/);
    const same = await call(server.url, 'PUT', '/api/classes', { body: { classes: [...before.map(([name, id]) => ({ name, id, color: '#123456', hotkey: null }))] } });
    expect(same.status).toBe(200);
    // 10 ids are used: 246 new names would need ids up to 256
    const many = await put([...DEFAULTS, ...Array.from({ length: 246 }, (_, i) => `Extra ${i}`)]);
    expect([many.status, many.body.code]).toEqual([409, 'CLASS_IDS_EXHAUSTED']);
    expect(many.body.message).toMatch(/255/);
    expect(await ids()).toEqual(before);
  });

  it('gives classes added by an annotation import ids too', async () => {
    const geo = { type: 'FeatureCollection', features: [{ type: 'Feature', geometry: { type: 'Point', coordinates: [10, 10] }, properties: { classification: { name: 'Imported class', color: [1, 2, 3] } } }] };
    const r = await call(server.url, 'POST', `/api/slides/${other}/annotations/import?format=qupath-geojson`, { raw: JSON.stringify(geo) });
    expect(r.status).toBe(201);
    expect(await ids()).toContainEqual(['Imported class', 11]);
    // back to the defaults for the rest of the file
    expect((await put(DEFAULTS)).status).toBe(200);
    expect(await ids()).toEqual(DEFAULTS.map((n, i) => [n, i + 1]));
  });

  it('migrates a version-1 database: existing classes get ids in palette order', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wsi-v1-'));
    const db = new Database(join(dir, 'wsi.db'));
    db.exec((MIGRATIONS[0] as { sql: string }).sql);
    db.pragma('user_version = 1');
    const ins = db.prepare('INSERT INTO classes (position, name, color, hotkey) VALUES (?, ?, ?, ?)');
    ins.run(2, 'Mid', '#000003', null);
    ins.run(0, 'Zeta', '#000001', 'z');
    ins.run(1, 'Alpha', '#000002', null);
    db.close();
    const v1 = await startTestServer(FIXTURES, { DATA_DIR: dir });
    try {
      expect(await ids(v1.url)).toEqual([['Zeta', 1], ['Alpha', 2], ['Mid', 3]]);
      expect((await put(['Zeta', 'Alpha', 'Mid', 'New'], v1.url)).status).toBe(200);
      expect(await ids(v1.url)).toContainEqual(['New', 4]);
      // ids 5–255 fill up; the 256th id is refused
      const full = ['Zeta', 'Alpha', 'Mid', 'New', ...Array.from({ length: 251 }, (_, i) => `C${i}`)];
      expect((await put(full, v1.url)).status).toBe(200);
      expect((await ids(v1.url)).at(-1)).toEqual(['C250', 255]);
      const over = await put(['Zeta', 'One too many'], v1.url);
      expect([over.status, over.body.code]).toEqual([409, 'CLASS_IDS_EXHAUSTED']);
      expect((await ids(v1.url)).length).toBe(255);
    } finally {
      await v1.stop();
      const after = new Database(join(dir, 'wsi.db'));
      expect(after.pragma('user_version', { simple: true })).toBe(MIGRATIONS[MIGRATIONS.length - 1]?.version);
      after.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('tile batches', () => {
  const tilesOf = async (annotator = USER, s = slide): Promise<Buffer> => (await readPack(server.url, s, annotator)).raw;

  it('writes tiles and reads the pack back byte for byte; versions bump; bbox selects', async () => {
    const a = tile((x, y) => ((x >> 5) + (y >> 5)) % 3);
    const b = tile((x, y) => (x === y ? 4 : 0));
    const za = zlib(a);
    const zb = deflateSync(b); // Node's zlib is accepted as well as fflate's
    const w = await postTiles<WriteAnswer>(server.url, slide, USER, { ops: [{ tx: 0, ty: 0, ifMatch: 0, data: b64(za) }, { tx: 3, ty: 2, ifMatch: 0, data: b64(zb) }] });
    expect(w.status).toBe(200);
    expect(w.body.results).toEqual([{ tx: 0, ty: 0, version: 1 }, { tx: 3, ty: 2, version: 1 }]);
    const pack = await readPack(server.url, slide, USER);
    expect(pack.type).toBe('application/x-wsi-mask-tiles');
    expect(pack.tiles.map((t) => [t.tx, t.ty, t.version])).toEqual([[0, 0, 1], [3, 2, 1]]);
    expect(Buffer.compare(pack.tiles[0]?.data as Buffer, Buffer.from(za))).toBe(0);
    expect(Buffer.compare(Buffer.from(inflate(pack.tiles[0]?.data as Buffer)), Buffer.from(a))).toBe(0);
    expect(Buffer.compare(Buffer.from(inflate(pack.tiles[1]?.data as Buffer)), Buffer.from(b))).toBe(0);
    // a second edit of (0,0) based on version 1
    const a2 = a.map((v) => (v === 0 ? 5 : v));
    const w2 = await postTiles<WriteAnswer>(server.url, slide, USER, { ops: [{ tx: 0, ty: 0, ifMatch: 1, data: b64(zlib(a2)) }] });
    expect(w2.body.results).toEqual([{ tx: 0, ty: 0, version: 2 }]);
    const box = await readPack(server.url, slide, USER, '10,10,20,20');
    expect(box.tiles.map((t) => [t.tx, t.ty, t.version])).toEqual([[0, 0, 2]]);
    expect(Buffer.from(inflate(box.tiles[0]?.data as Buffer)).equals(Buffer.from(a2))).toBe(true);
    expect((await readPack(server.url, slide, USER, '1536,1024,1600,1100')).tiles.map((t) => [t.tx, t.ty])).toEqual([[3, 2]]);
    expect((await readPack(server.url, slide, USER, '600,600,700,700')).tiles).toEqual([]);
    // an unknown annotator has an empty mask
    const none = await readPack(server.url, slide, 'nobody');
    expect([none.status, none.raw.toString('latin1', 0, 4), none.raw.readUInt32LE(4), none.raw.length]).toEqual([200, 'WSIM', 0, 8]);
    const list = await call<{ masks: Array<{ annotator: string; tiles: number; updatedAt: string }> }>(server.url, 'GET', `/api/slides/${slide}/masks`);
    expect(list.body.masks).toEqual([{ annotator: USER, tiles: 2, updatedAt: expect.stringMatching(/^\d{4}-/) }]);
  });

  it('keeps every version in the history with author, operation id and pixel counts', async () => {
    const h = await call<{ versions: Array<{ version: number; author: string; opId: string; pixels: Record<string, number>; at: string }> }>(server.url, 'GET', `/api/slides/${slide}/masks/${USER}/tiles/0/0/history`);
    expect(h.body.versions.map((v) => [v.version, v.author])).toEqual([[1, USER], [2, USER]]);
    const total = (p: Record<string, number>): number => Object.values(p).reduce((a, b) => a + b, 0);
    expect(total(h.body.versions[0]?.pixels ?? {})).toBeLessThan(TILE_BYTES);
    expect(total(h.body.versions[1]?.pixels ?? {})).toBe(TILE_BYTES); // every 0 became 5
    expect(h.body.versions[0]?.opId).not.toBe(h.body.versions[1]?.opId);
    const empty = await call<{ versions: unknown[] }>(server.url, 'GET', `/api/slides/${slide}/masks/${USER}/tiles/4/3/history`);
    expect(empty.body.versions).toEqual([]);
  });

  const bad = (data: Uint8Array | string, tx = 1, ty = 1): { ops: Array<Record<string, unknown>> } => ({ ops: [{ tx, ty, ifMatch: 0, data: typeof data === 'string' ? data : b64(data) }] });
  const past = tile((x, y) => (x === 400 && y === 10 ? 1 : 0));
  it.each([
    ['a stale ifMatch', { ops: [{ tx: 0, ty: 0, ifMatch: 1, data: b64(zlib(tile(() => 1))) }] }, 412, 'PRECONDITION_FAILED', 'me'],
    ['a missing ifMatch', { ops: [{ tx: 1, ty: 1, data: b64(zlib(tile(() => 1))) }] }, 428, 'PRECONDITION_REQUIRED', 'me'],
    ["another annotator's mask", bad(zlib(tile(() => 1))), 403, 'FORBIDDEN', 'someone.else'],
    ['a tile right of the grid', bad(zlib(tile(() => 1)), 5, 0), 400, 'BAD_REQUEST', 'me'],
    ['a negative tile index', bad(zlib(tile(() => 1)), 0, -1), 400, 'BAD_REQUEST', 'me'],
    ['data that is not zlib', bad(deflateRawSync(tile(() => 1))), 400, 'INVALID_MASK', 'me'],
    ['data that is not base64', bad('not base64!'), 400, 'INVALID_MASK', 'me'],
    ['a tile inflating short', bad(zlib(new Uint8Array(TILE_BYTES - 1))), 400, 'INVALID_MASK', 'me'],
    ['a tile inflating long', bad(zlib(new Uint8Array(TILE_BYTES + 1))), 400, 'INVALID_MASK', 'me'],
    ['bytes after the zlib stream', bad(new Uint8Array([...zlib(new Uint8Array(TILE_BYTES)), 1, 2, 3])), 400, 'INVALID_MASK', 'me'],
    ['a class id not in the registry', bad(zlib(tile((x) => (x === 7 ? 200 : 1)))), 400, 'INVALID_MASK', 'me'],
    ['the id of a removed class', bad(zlib(tile(() => 7))), 400, 'INVALID_MASK', 'me'],
    ['a label past the slide edge', bad(zlib(past), 4, 0), 400, 'INVALID_MASK', 'me'],
    ['more than 2,000 tiles', { ops: Array.from({ length: 2001 }, () => ({ tx: 1, ty: 1, ifMatch: 0, data: b64(zlib(new Uint8Array(TILE_BYTES))) })) }, 413, 'PAYLOAD_TOO_LARGE', 'me'],
  ])('refuses %s (and writes nothing)', async (_name, body, status, code, who) => {
    const before = await tilesOf();
    const r = await postTiles<Problem>(server.url, slide, who === 'me' ? USER : (who as string), body);
    expect([r.status, r.body.code]).toEqual([status, code]);
    expect(r.body.message.length).toBeGreaterThan(10);
    if (code === 'INVALID_MASK') expect(r.body.message).toMatch(/tile \d+, \d+/);
    if (status === 412) expect(r.body.detail).toMatchObject({ index: 0, current: { tx: 0, ty: 0, version: 2 } });
    expect((await tilesOf()).equals(before)).toBe(true);
    expect((await readPack(server.url, slide, 'someone.else')).tiles).toEqual([]);
  });

  it('names the problem: wrong size, unknown id, past the edge', async () => {
    const short = await postTiles<Problem>(server.url, slide, USER, bad(zlib(new Uint8Array(1000))));
    expect(short.body.message).toMatch(/1000 bytes.*262144/);
    const unknown = await postTiles<Problem>(server.url, slide, USER, bad(zlib(tile((x) => (x === 7 ? 200 : 1)))));
    expect(unknown.body.message).toMatch(/class id 200 is not in the class registry/);
    const edge = await postTiles<Problem>(server.url, slide, USER, bad(zlib(past), 4, 0));
    expect(edge.body.message).toMatch(/\(400, 10\).*past the slide's edge/);
  });

  it('refuses a missing key, a body over 64 MB, and unknown slides', async () => {
    const nokey = await postTiles<Problem>(server.url, slide, USER, bad(zlib(tile(() => 1))), null);
    expect([nokey.status, nokey.body.code]).toEqual([400, 'OPERATION_ID_REQUIRED']);
    const huge = await postTiles<Problem>(server.url, slide, USER, { ops: [{ tx: 1, ty: 1, ifMatch: 0, data: 'A'.repeat(65 * 1024 * 1024) }] });
    expect([huge.status, huge.body.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    const nope = '0123456789abcdef01234567';
    for (const path of [`/api/slides/${nope}/masks`, `/api/slides/${nope}/masks/${USER}/tiles`, `/api/slides/${nope}/masks/${USER}/summary`, `/api/slides/${nope}/masks/${USER}/tiles/0/0/history`, `/api/slides/${nope}/masks/${USER}/export.tiff`]) {
      const r = await call<Problem>(server.url, 'GET', path);
      expect([path, r.status, r.body.code]).toEqual([path, 404, 'SLIDE_NOT_FOUND']);
    }
    const w = await postTiles<Problem>(server.url, nope, USER, bad(zlib(tile(() => 1))));
    expect([w.status, w.body.code]).toEqual([404, 'SLIDE_NOT_FOUND']);
  });

  it('replays a retry with the same key and refuses the key with a different body', async () => {
    const key = randomUUID();
    const body = { ops: [{ tx: 2, ty: 2, ifMatch: 0, data: b64(zlib(tile(() => 3))) }] };
    const first = await postTiles<WriteAnswer>(server.url, slide, USER, body, key);
    expect(first.body.results).toEqual([{ tx: 2, ty: 2, version: 1 }]);
    const again = await postTiles<WriteAnswer>(server.url, slide, USER, body, key);
    expect([again.status, again.body.replayed, again.body.results]).toEqual([200, true, [{ tx: 2, ty: 2, version: 1 }]]);
    const other = await postTiles<Problem>(server.url, slide, USER, { ops: [{ tx: 2, ty: 2, ifMatch: 0, data: b64(zlib(tile(() => 4))) }] }, key);
    expect([other.status, other.body.code]).toEqual([422, 'IDEMPOTENCY_KEY_REUSED']);
    const t = (await readPack(server.url, slide, USER, '1024,1024,1025,1025')).tiles;
    expect(t.map((x) => [x.version, inflate(x.data)[0]])).toEqual([[1, 3]]);
    // a refusal is remembered too: the retry of a stale write gets the same 412
    const staleKey = randomUUID();
    const stale = { ops: [{ tx: 2, ty: 2, ifMatch: 0, data: b64(zlib(tile(() => 2))) }] };
    const s1 = await postTiles<Problem>(server.url, slide, USER, stale, staleKey);
    const s2 = await postTiles<Problem>(server.url, slide, USER, stale, staleKey);
    expect([s1.status, s2.status, s2.body.code]).toEqual([412, 412, 'PRECONDITION_FAILED']);
  });

  it('applies a batch atomically: one bad tile and nothing is written', async () => {
    const before = await tilesOf();
    const good = { tx: 1, ty: 0, ifMatch: 0, data: b64(zlib(tile(() => 2))) };
    const update = { tx: 2, ty: 2, ifMatch: 1, data: b64(zlib(tile(() => 6))) };
    const badId = await postTiles<Problem>(server.url, slide, USER, { ops: [good, update, { tx: 1, ty: 1, ifMatch: 0, data: b64(zlib(tile(() => 99))) }] });
    expect([badId.status, badId.body.code, badId.body.detail?.['index']]).toEqual([400, 'INVALID_MASK', 2]);
    const stale = await postTiles<Problem>(server.url, slide, USER, { ops: [good, update, { tx: 0, ty: 0, ifMatch: 1, data: b64(zlib(tile(() => 1))) }] });
    expect([stale.status, stale.body.code, stale.body.detail?.['index']]).toEqual([412, 'PRECONDITION_FAILED', 2]);
    expect((await tilesOf()).equals(before)).toBe(true);
    const ok = await postTiles<WriteAnswer>(server.url, slide, USER, { ops: [good, update] });
    expect(ok.body.results.map((r) => r.version)).toEqual([1, 2]);
  });

  it('keeps the history append-only, even directly in the database', async () => {
    const db = new Database(join(server.dataDir, 'wsi.db'));
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS[MIGRATIONS.length - 1]?.version);
      const n = (db.prepare('SELECT count(*) AS n FROM mask_history').get() as { n: number }).n;
      expect(n).toBeGreaterThanOrEqual(6);
      expect(() => db.prepare('UPDATE mask_history SET author = ?').run('mallory')).toThrow(/append-only/);
      expect(() => db.prepare('DELETE FROM mask_history').run()).toThrow(/append-only/);
      expect(() => db.prepare('DELETE FROM class_ids').run()).toThrow(/permanent/);
      expect((db.prepare('SELECT count(*) AS n FROM mask_history').get() as { n: number }).n).toBe(n);
    } finally {
      db.close();
    }
  });
});

describe('summary', () => {
  it('counts pixels per class and their area in µm² (0.5 µm/px)', async () => {
    // tile (0,0): 512 px of class 1 and 24 px of class 3; tile (1,0): 200 px of class 1; tile (2,2) is the corner: 476 × 76 px valid
    const t0 = tile((x, y) => (y === 0 && x < 1000 ? 1 : y === 1 && x < 24 ? 3 : 0));
    const t1 = tile((x, y) => (y < 2 && x < 100 ? 1 : 0));
    const corner = tile((x, y) => (x < 476 && y < 76 ? 4 : 0));
    const w = await postTiles<WriteAnswer>(server.url, other, USER, {
      ops: [
        { tx: 0, ty: 0, ifMatch: 0, data: b64(zlib(t0)) },
        { tx: 1, ty: 0, ifMatch: 0, data: b64(zlib(t1)) },
        { tx: 2, ty: 2, ifMatch: 0, data: b64(zlib(corner)) },
      ],
    });
    expect(w.status).toBe(200);
    const s = await call<{ annotator: string; slide: string; mpp: number; classes: Array<{ id: number; name: string; color: string }>; pixels: Record<string, number>; areaUm2: Record<string, number>; tiles: number }>(
      server.url,
      'GET',
      `/api/slides/${other}/masks/${USER}/summary`,
    );
    expect(s.status).toBe(200);
    expect(s.body).toMatchObject({ annotator: USER, slide: other, mpp: 0.5, tiles: 3 });
    expect(s.body.pixels).toEqual({ '1': 512 + 200, '3': 24, '4': 476 * 76 });
    expect(s.body.areaUm2).toEqual({ '1': 712 * 0.25, '3': 6, '4': 476 * 76 * 0.25 });
    expect(s.body.classes.map((c) => [c.id, c.name])).toEqual(DEFAULTS.map((n, i) => [i + 1, n]));
    expect(s.body.classes[0]?.color).toMatch(/^#[0-9a-f]{6}$/);
    const nobody = await call<{ pixels: Record<string, number>; tiles: number }>(server.url, 'GET', `/api/slides/${other}/masks/nobody/summary`);
    expect(nobody.body).toMatchObject({ pixels: {}, tiles: 0 });
  });
});

describe('durability', () => {
  it('a tile write acknowledged before SIGKILL survives a restart; retries never write twice', async () => {
    const local = await startTestServer(FIXTURES, {});
    // this server has an admin of its own, who paints
    const me = local.admin?.id ?? '';
    const { body } = await getJson<{ slides: Array<{ id: string; name: string }> }>(`${local.url}/api/slides`);
    const sid = body.slides.find((s) => s.name === 'slides/aperio-jpeg-240-x4.svs')?.id ?? '';
    const items = Array.from({ length: 20 }, (_, i) => ({
      tx: i % 5,
      ty: Math.floor(i / 5),
      px: tile((x, y) => ((x + y + i) % 7 === 0 ? 1 + (i % 6) : 0) * (x < 352 || i % 5 !== 4 ? 1 : 0) * (y < 264 || i < 15 ? 1 : 0)),
      key: randomUUID(),
    }));
    const acked = new Set<number>();
    const queue = items.map((it, i) => ({ ...it, i }));
    const clients = Array.from({ length: 6 }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        try {
          const r = await postTiles(local.url, sid, me, { ops: [{ tx: next.tx, ty: next.ty, ifMatch: 0, data: b64(zlib(next.px)) }] }, next.key);
          if (r.status === 200) acked.add(next.i);
        } catch {
          return; // cut by the kill
        }
      }
    });
    while (acked.size < 4) await new Promise((r) => setTimeout(r, 1));
    local.proc.kill('SIGKILL');
    await Promise.all(clients);
    await waitExit(local.proc);
    expect(acked.size).toBeLessThan(items.length);
    const again = await startTestServer(FIXTURES, { DATA_DIR: local.dataDir });
    try {
      const survived = new Map((await readPack(again.url, sid, me)).tiles.map((t) => [`${t.tx},${t.ty}`, t]));
      for (const i of acked) {
        const it = items[i] as (typeof items)[number];
        const t = survived.get(`${it.tx},${it.ty}`);
        expect(t, `acknowledged tile ${it.tx},${it.ty} lost`).toBeDefined();
        expect(Buffer.from(inflate(t?.data as Buffer)).equals(Buffer.from(it.px))).toBe(true);
      }
      for (const it of items) {
        const r = await postTiles<WriteAnswer>(again.url, sid, me, { ops: [{ tx: it.tx, ty: it.ty, ifMatch: 0, data: b64(zlib(it.px)) }] }, it.key);
        expect(r.status).toBe(200);
        expect(r.body.results[0]?.version).toBe(1);
      }
      const final = (await readPack(again.url, sid, me)).tiles;
      expect(final).toHaveLength(20);
      expect(final.every((t) => t.version === 1)).toBe(true);
    } finally {
      await again.stop();
      await local.stop();
    }
  });
});
