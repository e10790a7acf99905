/**
 * The annotation API of the built server: versions and ETags, If-Match and
 * 412/428, idempotent retries (DATA-03), tombstones and restore (DATA-16),
 * history, bounding-box reads, atomic batches, limits, and durability across
 * a SIGKILL (DATA-11).
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../tiles-server/store/database.js';
import { FIXTURES } from '../helpers/paths.js';
import { getJson, startTestServer, waitExit, type TestServer } from '../helpers/server.js';
import { call, square } from '../helpers/annotations.js';

let server: TestServer;
let slide = '';
let other = '';
const A = (): string => `/api/slides/${slide}/annotations`;

beforeAll(async () => {
  server = await startTestServer(FIXTURES);
  const { body } = await getJson<{ slides: Array<{ id: string; name: string }> }>(`${server.url}/api/slides`);
  slide = body.slides.find((s) => s.name === 'slides/aperio-jpeg-240-x4.svs')?.id ?? '';
  other = body.slides.find((s) => s.name === 'slides/generic-deflate-256.tif')?.id ?? '';
});

afterAll(async () => {
  await server?.stop();
});

describe('annotation CRUD with optimistic concurrency', () => {
  it('creates with 201, an ETag and the configured author; a retry with the same key is a replay (DATA-03)', async () => {
    const a = square(100, 100, 50);
    const key = randomUUID();
    const first = await call(server.url, 'POST', A(), { body: a, key });
    expect(first.status).toBe(201);
    expect(first.etag).toBe('"1"');
    // the response was "lost": the client retries the same request
    const retry = await call(server.url, 'POST', A(), { body: a, key });
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ id: a['id'], version: 1, replayed: true });
    const list = await call<{ annotations: Array<{ id: string }> }>(server.url, 'GET', `${A()}?limit=1000`);
    expect(list.body.annotations.filter((x) => x.id === a['id'])).toHaveLength(1);
    const got = await call<{ createdBy: string; version: number }>(server.url, 'GET', `${A()}/${a['id'] as string}`);
    expect(got.etag).toBe('"1"');
    expect(got.body.createdBy).toBe(server.admin?.id);
  });

  it('refuses a reused key with a different body, a missing key, and a duplicate id', async () => {
    const key = randomUUID();
    expect((await call(server.url, 'POST', A(), { body: square(0, 0, 10), key })).status).toBe(201);
    const reuse = await call<{ code: string }>(server.url, 'POST', A(), { body: square(0, 0, 20), key });
    expect([reuse.status, reuse.body.code]).toEqual([422, 'IDEMPOTENCY_KEY_REUSED']);
    const nokey = await call<{ code: string }>(server.url, 'POST', A(), { body: square(0, 0, 10), key: null });
    expect([nokey.status, nokey.body.code]).toEqual([400, 'OPERATION_ID_REQUIRED']);
    const a = square(5, 5, 5);
    await call(server.url, 'POST', A(), { body: a });
    const dup = await call<{ code: string }>(server.url, 'POST', A(), { body: a });
    expect([dup.status, dup.body.code]).toEqual([409, 'ANNOTATION_EXISTS']);
  });

  it('updates need If-Match (428); a stale one gets 412 with the current version; a fresh one bumps the version', async () => {
    const a = square(300, 300, 40);
    await call(server.url, 'POST', A(), { body: a });
    const path = `${A()}/${a['id'] as string}`;
    const none = await call<{ code: string }>(server.url, 'PATCH', path, { body: { name: 'x' } });
    expect([none.status, none.body.code]).toEqual([428, 'PRECONDITION_REQUIRED']);
    const ok = await call(server.url, 'PATCH', path, { body: { name: 'first', classification: 'Stroma' }, ifMatch: 1 });
    expect([ok.status, ok.etag]).toEqual([200, '"2"']);
    const stale = await call<{ code: string; detail: { current: { version: number; name: string } } }>(server.url, 'PATCH', path, { body: { name: 'second' }, ifMatch: 1 });
    expect(stale.status).toBe(412);
    expect(stale.body.code).toBe('PRECONDITION_FAILED');
    expect(stale.body.detail.current).toMatchObject({ version: 2, name: 'first' });
    expect(stale.etag).toBe('"2"');
    const now = await call<{ name: string; classification: string }>(server.url, 'GET', path);
    expect(now.body).toMatchObject({ name: 'first', classification: 'Stroma' });
  });

  it('deletes as a tombstone that stays deleted, keeps history and can be restored (DATA-16)', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const a = square(1000 + i * 20, 1000, 10);
      ids.push(a['id'] as string);
      await call(server.url, 'POST', A(), { body: a });
    }
    for (const id of ids) expect((await call(server.url, 'DELETE', `${A()}/${id}`, { ifMatch: 1 })).status).toBe(200);
    const visible = await call<{ annotations: Array<{ id: string }> }>(server.url, 'GET', `${A()}?bbox=990,990,1300,1020`);
    expect(visible.body.annotations).toHaveLength(0);
    const tomb = await call<{ deleted: boolean; version: number }>(server.url, 'GET', `${A()}/${ids[0] as string}`);
    expect(tomb.body).toMatchObject({ deleted: true, version: 2 });
    const edit = await call<{ code: string }>(server.url, 'PATCH', `${A()}/${ids[0] as string}`, { body: { name: 'x' }, ifMatch: 2 });
    expect([edit.status, edit.body.code]).toEqual([409, 'ANNOTATION_DELETED']);
    const restored = await call(server.url, 'POST', `${A()}/${ids[0] as string}/restore`, { ifMatch: 2 });
    expect([restored.status, restored.etag]).toEqual([200, '"3"']);
    const hist = await call<{ history: Array<{ version: number; op: string; author: string }> }>(server.url, 'GET', `${A()}/${ids[0] as string}/history`);
    expect(hist.body.history.map((h) => [h.version, h.op])).toEqual([
      [1, 'create'],
      [2, 'delete'],
      [3, 'restore'],
    ]);
    const back = await call<{ annotations: Array<{ id: string }> }>(server.url, 'GET', `${A()}?bbox=990,990,1300,1020`);
    expect(back.body.annotations.map((x) => x.id)).toEqual([ids[0]]);
  });

  it('restores an older version', async () => {
    const a = square(2000, 2000, 30, { name: 'v1' });
    await call(server.url, 'POST', A(), { body: a });
    const path = `${A()}/${a['id'] as string}`;
    await call(server.url, 'PATCH', path, { body: { name: 'v2' }, ifMatch: 1 });
    const r = await call(server.url, 'POST', `${path}/restore`, { body: { version: 1 }, ifMatch: 2 });
    expect(r.status).toBe(200);
    expect((await call<{ name: string; version: number }>(server.url, 'GET', path)).body).toMatchObject({ name: 'v1', version: 3 });
  });

  it('reads within a bounding box and in pages', async () => {
    for (let i = 0; i < 30; i++) await call(server.url, 'POST', `/api/slides/${other}/annotations`, { body: square(i * 100, 0, 50) });
    const box = await call<{ annotations: unknown[] }>(server.url, 'GET', `/api/slides/${other}/annotations?bbox=0,0,449,60`);
    expect(box.body.annotations).toHaveLength(5);
    const ids = new Set<string>();
    let after: number | null = 0;
    while (after !== null) {
      const page: { body: { annotations: Array<{ id: string }>; next: number | null; total: number } } = await call(server.url, 'GET', `/api/slides/${other}/annotations?limit=7&after=${after}`);
      page.body.annotations.forEach((x) => ids.add(x.id));
      expect(page.body.total).toBe(30);
      after = page.body.next;
    }
    expect(ids.size).toBe(30);
  });

  it('applies a batch atomically: one stale op and nothing is written', async () => {
    const a = square(3000, 3000, 10);
    await call(server.url, 'POST', A(), { body: a });
    const b = square(3100, 3000, 10);
    const c = square(3200, 3000, 10);
    const r = await call<{ code: string; detail: { index: number } }>(server.url, 'POST', `${A()}/batch`, {
      body: { ops: [{ op: 'create', annotation: b }, { op: 'create', annotation: c }, { op: 'update', id: a['id'], ifMatch: 7, changes: { name: 'x' } }] },
    });
    expect([r.status, r.body.code, r.body.detail.index]).toEqual([412, 'PRECONDITION_FAILED', 2]);
    expect((await call(server.url, 'GET', `${A()}/${b['id'] as string}`)).status).toBe(404);
    const ok = await call<{ results: Array<{ version: number }> }>(server.url, 'POST', `${A()}/batch`, {
      body: { ops: [{ op: 'create', annotation: b }, { op: 'update', id: a['id'], ifMatch: 1, changes: { name: 'y' } }, { op: 'delete', id: a['id'], ifMatch: 2 }] },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.results.map((x) => x.version)).toEqual([1, 2, 3]);
  });

  it.each([
    ['a NaN coordinate', { geometry: { type: 'Polygon', coordinates: [[[0, 0], [1, 'x'], [1, 1], [0, 0]]] } }, 'geometry.coordinates[0][1]'],
    ['a self-crossing ring', { geometry: { type: 'Polygon', coordinates: [[[0, 0], [10, 10], [10, 0], [0, 10], [0, 0]]] } }, 'geometry'],
    ['too few points', { geometry: { type: 'Polygon', coordinates: [[[0, 0], [1, 1], [0, 0]]] } }, 'geometry.coordinates[0]'],
    ['an unknown kind', { kind: 'blob' }, 'kind'],
    ['a bad id', { id: '../etc' }, 'id'],
  ])('refuses %s with 400 naming the field', async (_n, patch, path) => {
    const r = await call<{ code: string; detail: { path: string } }>(server.url, 'POST', A(), { body: { ...square(0, 0, 5), ...patch } });
    expect([r.status, r.body.code]).toEqual([400, 'INVALID_ANNOTATION']);
    expect(r.body.detail.path).toBe(path);
  });

  it('answers 404 for unknown slides and annotations, 415 for non-JSON, 413 past the limit', async () => {
    expect((await call(server.url, 'GET', '/api/slides/0123456789abcdef01234567/annotations')).status).toBe(404);
    expect((await call(server.url, 'GET', `${A()}/${randomUUID()}`)).status).toBe(404);
    expect((await call(server.url, 'POST', A(), { raw: 'x', type: 'text/plain' })).status).toBe(415);
    const huge = square(0, 0, 1, { note: 'x'.repeat(40 * 1024 * 1024) });
    const r = await call<{ code: string; message: string }>(server.url, 'POST', A(), { body: huge });
    expect([r.status, r.body.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    expect(r.body.message).toMatch(/batches|import/);
  });

  it('saves a 50,000-vertex outline whole, and reads it back vertex for vertex (DATA-10)', async () => {
    const ring: number[][] = [];
    for (let i = 0; i < 50_000; i++) {
      const t = (i / 50_000) * Math.PI * 2;
      ring.push([5000 + 3000 * Math.cos(t) + (i % 7) * 0.25, 5000 + 3000 * Math.sin(t)]);
    }
    ring.push(ring[0] as number[]);
    const a = square(0, 0, 1, { geometry: { type: 'Polygon', coordinates: [ring] } });
    const r = await call(server.url, 'POST', A(), { body: a });
    expect(r.status).toBe(201);
    const got = await call<{ geometry: { coordinates: number[][][] } }>(server.url, 'GET', `${A()}/${a['id'] as string}`);
    expect(got.body.geometry.coordinates[0]).toHaveLength(50_001);
    expect(got.body.geometry.coordinates[0]?.[12_345]).toEqual(ring[12_345]);
  });

  it('keeps a class palette with the six defaults', async () => {
    const r = await call<{ classes: Array<{ name: string; hotkey: string }> }>(server.url, 'GET', '/api/classes');
    expect(r.body.classes.slice(0, 6).map((c) => c.name)).toEqual(['Tumour', 'Stroma', 'Necrosis', 'Lymphocytes', 'Normal', 'Other']);
    const bad = await call(server.url, 'PUT', '/api/classes', { body: { classes: [{ name: 'A', color: 'red' }] } });
    expect(bad.status).toBe(400);
  });
});

describe('request bodies nested past the limit (issue 10 finding 4)', () => {
  const deep = (n: number): string => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;

  it.each([
    ['POST an annotation', 'POST', (): string => A(), (): string => JSON.stringify(square(0, 0, 5)).replace('"kind"', `"properties": {"x": ${deep(100_000)}}, "kind"`)],
    ['POST a batch', 'POST', (): string => `${A()}/batch`, (): string => `{"ops": [{"op": "create", "annotation": ${deep(100_000)}}]}`],
    ['PUT the classes', 'PUT', (): string => '/api/classes', (): string => `{"classes": [${deep(200)}]}`],
  ])('%s: 400 with where, not 500, and no stack trace on stderr', async (_what, method, path, body) => {
    const logged = server.output().length;
    const r = await call<{ code: string; message: string; detail: Record<string, number> }>(server.url, method, path(), { raw: body(), type: 'application/json' });
    expect([r.status, r.body.code]).toEqual([400, 'BAD_REQUEST']);
    expect(r.body.message).toMatch(/nested more than 100 levels deep \(line 1, column \d+\)/);
    expect(r.body.detail).toMatchObject({ line: 1, limit: 100 });
    expect(server.output().slice(logged)).not.toMatch(/failed|Maximum call stack|\n\s+at /);
  });
});

describe('error bodies stay within the slide of the request (issue 10 finding 8, SEC-17)', () => {
  it("a create with another slide's annotation id is refused without showing that annotation, nor any other route shows it", async () => {
    const secret = square(700, 700, 30, { name: 'SECRET-NAME-7c1', note: 'SECRET-NOTE-7c1', properties: { secret: 'SECRET-PROP-7c1' } });
    const id = secret['id'] as string;
    expect((await call(server.url, 'POST', `/api/slides/${other}/annotations`, { body: secret })).status).toBe(201);
    const answers: Array<{ status: number; body: unknown; etag: string | null }> = [];
    const ask = async (method: string, path: string, opts: Parameters<typeof call>[3] = {}): Promise<void> => {
      answers.push(await call(server.url, method, path, opts));
    };
    await ask('POST', A(), { body: { ...square(0, 0, 5), id } });
    await ask('POST', `${A()}/batch`, { body: { ops: [{ op: 'create', annotation: { ...square(0, 0, 5), id } }] } });
    await ask('GET', `${A()}/${id}`);
    await ask('PATCH', `${A()}/${id}`, { body: { name: 'mine now' }, ifMatch: 1 });
    await ask('PATCH', `${A()}/${id}`, { body: { name: 'mine now' }, ifMatch: 7 });
    await ask('DELETE', `${A()}/${id}`, { ifMatch: 1 });
    await ask('POST', `${A()}/${id}/restore`, { ifMatch: 1 });
    await ask('GET', `${A()}/${id}/history`);
    await ask('POST', `${A()}/batch`, { body: { ops: [{ op: 'update', id, ifMatch: 1, changes: { name: 'x' } }] } });
    expect(answers.map((a) => a.status)).toEqual([409, 409, 404, 404, 404, 404, 404, 404, 404]);
    for (const a of answers) {
      expect(JSON.stringify(a.body)).not.toMatch(/SECRET|"geometry"|"createdBy"/);
      expect(a.etag).toBeNull();
      expect((a.body as { detail?: Record<string, unknown> }).detail?.['current']).toBeUndefined();
    }
    // the owner still sees it whole, and a conflict on its own slide still shows the current object
    const own = await call<{ code: string; detail: { current: { name: string } } }>(server.url, 'POST', `/api/slides/${other}/annotations`, { body: secret });
    expect([own.status, own.body.detail.current.name]).toEqual([409, 'SECRET-NAME-7c1']);
  });
});

describe('durability', () => {
  it('a write acknowledged before SIGKILL survives; retries after restart never duplicate (DATA-11)', async () => {
    const local = await startTestServer(FIXTURES);
    const { body } = await getJson<{ slides: Array<{ id: string; name: string }> }>(`${local.url}/api/slides`);
    const sid = body.slides.find((s) => s.name === 'slides/aperio-jpeg-240-x4.svs')?.id ?? '';
    const items = Array.from({ length: 40 }, (_, i) => ({ a: square(i * 30, 500, 20), key: randomUUID() }));
    const acked = new Set<string>();
    // eight clients write concurrently; the server is killed once a few writes were acknowledged
    const queue = [...items];
    const clients = Array.from({ length: 8 }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        try {
          const r = await call(local.url, 'POST', `/api/slides/${sid}/annotations`, { body: next.a, key: next.key });
          if (r.status === 201) acked.add(next.a['id'] as string);
        } catch {
          return; // connection cut by the kill
        }
      }
    });
    while (acked.size < 5) await new Promise((r) => setTimeout(r, 1));
    local.proc.kill('SIGKILL');
    await Promise.all(clients);
    await waitExit(local.proc);
    expect(acked.size).toBeLessThan(items.length);
    const db = new Database(join(local.dataDir, 'wsi.db'));
    expect((db.pragma('integrity_check') as Array<{ integrity_check: string }>)[0]?.integrity_check).toBe('ok');
    db.close();
    // restart on the same data and let the client retry everything with the same keys
    const again = await startTestServer(FIXTURES, { DATA_DIR: local.dataDir });
    const before = await call<{ annotations: Array<{ id: string }> }>(again.url, 'GET', `/api/slides/${sid}/annotations?limit=1000`);
    const survived = new Set(before.body.annotations.map((x) => x.id));
    for (const id of acked) expect(survived.has(id), `acknowledged ${id} lost`).toBe(true);
    for (const { a, key } of items) {
      const r = await call(again.url, 'POST', `/api/slides/${sid}/annotations`, { body: a, key });
      expect([200, 201]).toContain(r.status);
      if (acked.has(a['id'] as string)) expect(r.status).toBe(200);
    }
    const list = await call<{ annotations: Array<{ id: string }> }>(again.url, 'GET', `/api/slides/${sid}/annotations?limit=1000`);
    const ids = list.body.annotations.map((x) => x.id);
    expect(ids).toHaveLength(items.length);
    expect(new Set(ids).size).toBe(items.length);
    await again.stop();
  });

  it('history cannot be rewritten, even directly in the database', async () => {
    const a = square(10, 10, 10);
    await call(server.url, 'POST', A(), { body: a });
    const db = new Database(join(server.dataDir, 'wsi.db'));
    expect(() => db.prepare('UPDATE history SET author = ? WHERE annotation_id = ?').run('mallory', a['id'])).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM history WHERE annotation_id = ?').run(a['id'])).toThrow(/append-only/);
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS[MIGRATIONS.length - 1]?.version);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });
});
