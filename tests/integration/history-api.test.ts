/**
 * History for the UI (issue 11): an annotation's history names its authors'
 * accounts; a mask region's history lists the operations that wrote tiles
 * under a box (who, when, which tiles) and, for a chosen one, each tile's
 * version then and now. Bad input is a 4xx with a code, never a 500:
 * unknown ids and versions, a version of another slide's mask, a deleted
 * object edited, a missing or huge box, a malformed asOf (TEST-CATALOGUE
 * SEC-17: another slide's version id answers 404, not its data; DATA-16: a
 * deleted object's history stays readable, so it can be restored).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, square } from '../helpers/annotations.js';
import { b64, postTiles, tile, zlib } from '../helpers/masks.js';
import { FIXTURES } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let slides: string[] = [];
/** Two readable slides large enough for the mask tiles written here. */
let big: string[] = [];
let USER = '';

beforeAll(async () => {
  server = await startTestServer(FIXTURES, {});
  USER = server.admin?.id ?? '';
  const { body } = await getJson<{ slides: Array<{ id: string }> }>(`${server.url}/api/slides`);
  slides = body.slides.map((s) => s.id);
  big = ['slides/aperio-jpeg-240-x4.svs', 'slides/aperio-jpeg-256-x2.svs'].map((n) => body.slides.find((s) => (s as { name?: string }).name === n)?.id ?? '');
});

afterAll(async () => {
  await server?.stop();
});

interface History {
  history: Array<{ version: number; op: string; author: string; at: string; annotation: { geometry: unknown; deleted?: boolean } }>;
  authors: Record<string, { username: string; displayName: string } | null>;
}

describe('annotation history', () => {
  it('names the account behind each version; a deleted object keeps its history; bad ids and versions are 4xx', async () => {
    const [slide, other] = slides as [string, string];
    const a = square(10, 10, 50);
    expect((await call(server.url, 'POST', `/api/slides/${slide}/annotations`, { body: a })).status).toBe(201);
    expect((await call(server.url, 'PATCH', `/api/slides/${slide}/annotations/${a['id'] as string}`, { body: { name: 'second' }, ifMatch: 1 })).status).toBe(200);
    const h = await call<History>(server.url, 'GET', `/api/slides/${slide}/annotations/${a['id'] as string}/history`);
    expect(h.status).toBe(200);
    expect(h.body.history.map((v) => v.version)).toEqual([1, 2]);
    expect(h.body.history.every((v) => v.author === USER)).toBe(true);
    expect(h.body.authors[USER]?.username).toBe(server.admin?.username);

    // unknown object; another slide's object through this slide
    const unknown = await call<{ code: string }>(server.url, 'GET', `/api/slides/${slide}/annotations/${randomUUID()}/history`);
    expect([unknown.status, unknown.body.code]).toEqual([404, 'ANNOTATION_NOT_FOUND']);
    const crossed = await call<{ code: string }>(server.url, 'GET', `/api/slides/${other}/annotations/${a['id'] as string}/history`);
    expect([crossed.status, crossed.body.code]).toEqual([404, 'ANNOTATION_NOT_FOUND']);
    // restoring a version that does not exist
    const noVersion = await call<{ code: string }>(server.url, 'POST', `/api/slides/${slide}/annotations/batch`, { body: { ops: [{ op: 'restore', id: a['id'], ifMatch: 2, toVersion: 9 }] } });
    expect([noVersion.status, noVersion.body.code]).toEqual([404, 'ANNOTATION_NOT_FOUND']);

    // deleted: its history is still there (to restore it), and an edit of it is refused with a code
    expect((await call(server.url, 'DELETE', `/api/slides/${slide}/annotations/${a['id'] as string}`, { ifMatch: 2 })).status).toBe(200);
    const after = await call<History>(server.url, 'GET', `/api/slides/${slide}/annotations/${a['id'] as string}/history`);
    expect(after.status).toBe(200);
    expect(after.body.history.map((v) => v.op)).toEqual(['create', 'update', 'delete']);
    const edit = await call<{ code: string }>(server.url, 'POST', `/api/slides/${slide}/annotations/batch`, { body: { ops: [{ op: 'update', id: a['id'], ifMatch: 3, changes: { name: 'x' } }] } });
    expect([edit.status, edit.body.code]).toEqual([409, 'ANNOTATION_DELETED']);
    // restoring version 1 brings it back as version 4
    const restored = await call<{ results: Array<{ version: number; deleted: boolean }> }>(server.url, 'POST', `/api/slides/${slide}/annotations/batch`, { body: { ops: [{ op: 'restore', id: a['id'], ifMatch: 3, toVersion: 1 }] } });
    expect(restored.status).toBe(200);
    expect(restored.body.results[0]).toMatchObject({ version: 4, deleted: false });
  });
});

describe('deleted objects (issue 11: restore a deleted object from the UI)', () => {
  interface Deleted {
    annotations: Array<{ id: string; deleted: boolean; version: number; updatedBy: string; updatedAt: string; geometry: unknown }>;
    next: number | null;
    authors: Record<string, { username: string } | null>;
  }
  it('lists a slide’s deleted objects, latest deletion first, with who and when, in pages; a restored one leaves the list', async () => {
    const slide = slides[2] as string;
    const made = [square(10, 10, 20), square(40, 10, 20), square(70, 10, 20)];
    for (const a of made) expect((await call(server.url, 'POST', `/api/slides/${slide}/annotations`, { body: a })).status).toBe(201);
    for (const i of [1, 2, 0]) expect((await call(server.url, 'DELETE', `/api/slides/${slide}/annotations/${made[i]?.['id'] as string}`, { ifMatch: 1 })).status).toBe(200);
    const list = await call<Deleted>(server.url, 'GET', `/api/slides/${slide}/deleted-annotations`);
    expect(list.status).toBe(200);
    expect(list.body.annotations.map((a) => a.id)).toEqual([0, 2, 1].map((i) => made[i]?.['id']));
    expect(list.body.annotations.every((a) => a.deleted && a.version === 2 && a.updatedBy === USER && !Number.isNaN(Date.parse(a.updatedAt)))).toBe(true);
    expect(list.body.annotations[0]?.geometry).toEqual(made[0]?.['geometry']);
    expect(list.body.authors[USER]?.username).toBe(server.admin?.username);
    // pages of two
    const p1 = await call<Deleted>(server.url, 'GET', `/api/slides/${slide}/deleted-annotations?limit=2`);
    expect([p1.body.annotations.length, p1.body.next === null]).toEqual([2, false]);
    const p2 = await call<Deleted>(server.url, 'GET', `/api/slides/${slide}/deleted-annotations?limit=2&before=${p1.body.next}`);
    expect([p2.body.annotations.map((a) => a.id), p2.body.next]).toEqual([[made[1]?.['id']], null]);
    // brought back (what the history view's Restore sends): it leaves the list, live again
    const back = await call(server.url, 'POST', `/api/slides/${slide}/annotations/batch`, { body: { ops: [{ op: 'restore', id: made[2]?.['id'], ifMatch: 2 }] } });
    expect(back.status).toBe(200);
    expect((await call<Deleted>(server.url, 'GET', `/api/slides/${slide}/deleted-annotations`)).body.annotations.map((a) => a.id)).toEqual([made[0]?.['id'], made[1]?.['id']]);
    // another slide has none of them
    expect((await call<Deleted>(server.url, 'GET', `/api/slides/${slides[3] as string}/deleted-annotations`)).body.annotations.filter((a) => made.some((m) => m['id'] === a.id))).toEqual([]);
  });

  it.each(['limit=0', 'limit=1001', 'limit=abc', 'before=0', 'before=-3', 'before=1e3', 'limit=99999999999999999999'])('refuses %s with 400, never 500', async (query) => {
    const r = await call<{ code: string }>(server.url, 'GET', `/api/slides/${slides[2] as string}/deleted-annotations?${query}`);
    expect([r.status, r.body.code]).toEqual([400, 'BAD_REQUEST']);
  });

  it('answers 404 for an unknown slide', async () => {
    expect((await call(server.url, 'GET', '/api/slides/nosuchslide/deleted-annotations')).status).toBe(404);
  });
});

interface RegionHistory {
  operations: Array<{ seq: number; opId: string; op: string; author: string; at: string; tiles: Array<{ tx: number; ty: number; version: number }> }>;
  truncated: boolean;
  authors: Record<string, { username: string } | null>;
}

describe('mask region history', () => {
  it('lists the operations under a box, and each tile\'s version after a chosen one', async () => {
    const [slide, other] = big as [string, string];
    const paint = (v: number): string => b64(zlib(tile(() => v)));
    const ops = (v: number, tiles: Array<[number, number, number]>): unknown => ({ ops: tiles.map(([tx, ty, ifMatch]) => ({ tx, ty, ifMatch, data: paint(v) })) });
    const key1 = randomUUID();
    const w1 = await postTiles(server.url, slide, USER, ops(1, [[0, 0, 0], [1, 0, 0]]), key1);
    expect(w1.status, JSON.stringify(w1.body)).toBe(200);
    const key2 = randomUUID();
    expect((await postTiles(server.url, slide, USER, ops(2, [[0, 0, 1], [1, 1, 0]]), key2)).status).toBe(200);
    const base = `/api/slides/${slide}/masks/${encodeURIComponent(USER)}/history`;

    // the box over tiles (0..1, 0): both operations touched it, the newest first; tile (1, 1) lies outside
    const h = await call<RegionHistory>(server.url, 'GET', `${base}?bbox=0,0,1024,512`);
    expect(h.status).toBe(200);
    expect(h.body.operations.map((o) => o.opId)).toEqual([key2, key1]);
    expect(h.body.operations[0]?.tiles).toEqual([{ tx: 0, ty: 0, version: 2 }]);
    expect(h.body.operations[1]?.tiles.map((t) => `${t.tx},${t.ty}`).sort()).toEqual(['0,0', '1,0']);
    expect(h.body.authors[USER]?.username).toBe(server.admin?.username);

    // as of the first operation: tile (0,0) was version 1 then and is 2 now; (1,0) is 1 both times
    const first = h.body.operations[1]?.seq as number;
    const asOf = await call<{ tiles: Array<{ tx: number; ty: number; then: number; now: number }> }>(server.url, 'GET', `${base}?bbox=0,0,1024,512&asOf=${first}`);
    expect(asOf.status).toBe(200);
    expect(asOf.body.tiles.sort((a, b) => a.tx - b.tx)).toEqual([
      { tx: 0, ty: 0, then: 1, now: 2 },
      { tx: 1, ty: 0, then: 1, now: 1 },
    ]);

    // bad input: a version of another slide's mask, an unknown version, no box, a huge box, malformed asOf
    const otherMask = `/api/slides/${other}/masks/${encodeURIComponent(USER)}/history`;
    const crossed = await call<{ code: string }>(server.url, 'GET', `${otherMask}?bbox=0,0,1024,512&asOf=${first}`);
    expect([crossed.status, crossed.body.code]).toEqual([404, 'NOT_FOUND']);
    const unknown = await call<{ code: string }>(server.url, 'GET', `${base}?bbox=0,0,1024,512&asOf=999999999`);
    expect([unknown.status, unknown.body.code]).toEqual([404, 'NOT_FOUND']);
    for (const q of ['', '?bbox=0,0,1e9,1e9', '?bbox=0,0,512', '?bbox=0,0,512,512&asOf=-1', '?bbox=0,0,512,512&asOf=1e3', "?bbox=0,0,512,512&asOf=1%20OR%201=1", '?bbox=0,0,512,512&asOf=99999999999999999999']) {
      const r = await call<{ code: string }>(server.url, 'GET', `${base}${q}`);
      expect([r.status, r.body.code], q).toEqual([400, 'BAD_REQUEST']);
    }
  });
});
