/**
 * Annotation imports as jobs (issue 10, findings 1 and 5): the body is
 * spooled to a file before anything is written, so a stalled upload never
 * holds the store — other users' annotation writes, class changes, mask
 * tiles and imports go on (TEST-CATALOGUE LOAD-04: no SQLITE_BUSY reaching a
 * user); the parse writes in short transactions, hidden until one commit;
 * an import can be followed and cancelled, and a cancelled or killed one
 * leaves nothing behind (DATA-11); an upload over IMPORT_MAX_MB is refused
 * with 413 before a byte is read, or as soon as a chunked body passes it
 * (DATA-10). Stalls are real stalled streams, not slow ones, so the tests
 * take seconds.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, square } from '../helpers/annotations.js';
import { b64, postTiles, tile, zlib } from '../helpers/masks.js';
import { FIXTURES } from '../helpers/paths.js';
import { bearer } from '../helpers/accounts.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

/** The annotator: the signed-in admin's user id (known once the server is up). */
let USER = '';
let server: TestServer;
const slides: string[] = [];
let next = 0;
const freshSlide = (): string => {
  const s = slides[next++];
  if (!s) throw new Error('out of slides');
  return s;
};

async function slideIds(s: TestServer): Promise<string[]> {
  const { body } = await getJson<{ slides: Array<{ id: string; status: string }> }>(`${s.url}/api/slides`);
  return body.slides.filter((x) => x.status === 'ok').map((x) => x.id);
}

beforeAll(async () => {
  server = await startTestServer(FIXTURES, {});
  USER = server.admin?.id ?? '';
  slides.push(...(await slideIds(server)));
});

afterAll(async () => {
  await server?.stop();
});

/** `n` point features as QuPath GeoJSON text. */
function points(n: number, cls = 'Tumour'): string {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(`{"type":"Feature","geometry":{"type":"Point","coordinates":[${i % 1000},${Math.floor(i / 1000)}]},"properties":{"objectType":"detection","classification":{"name":"${cls}"}}}`);
  return `{"type":"FeatureCollection","features":[\n${parts.join(',\n')}\n]}`;
}

interface Upload {
  req: ClientRequest;
  response: Promise<{ status: number; body: Record<string, unknown> }>;
}

/** Opens an import whose body is written by hand: chunked unless `length` is given. */
function openUpload(base: string, slide: string, key: string, opts: { length?: number; format?: string; prefer?: string } = {}): Upload {
  const url = new URL(`${base}/api/slides/${slide}/annotations/import?format=${opts.format ?? 'qupath-geojson'}`);
  const headers: Record<string, string | number> = { 'Content-Type': 'application/geo+json', 'Idempotency-Key': key, ...bearer(base) };
  if (opts.length !== undefined) headers['Content-Length'] = opts.length;
  if (opts.prefer) headers['Prefer'] = opts.prefer;
  const req = request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST', headers });
  const response = new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
    req.on('response', (res: IncomingMessage) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
      res.on('error', reject);
    });
    // the server may close the connection once it has answered
    req.on('error', (err) => setTimeout(() => reject(err), 2000));
  });
  req.flushHeaders();
  return { req, response };
}

async function progress(base: string, slide: string, key: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return call(base, 'GET', `/api/slides/${slide}/annotations/import/${encodeURIComponent(key)}`);
}

async function until<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v).slice(0, 300)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function total(base: string, slide: string): Promise<number> {
  return (await call<{ total: number }>(base, 'GET', `/api/slides/${slide}/annotations?limit=1`)).body.total;
}

function spooled(s: TestServer): string[] {
  try {
    return readdirSync(join(s.dataDir, 'imports'));
  } catch {
    return [];
  }
}

/** Rows anything of an import left in the database (read beside the running server). */
function leftovers(dataDir: string, slide: string, key: string): Record<string, number> {
  const db = new Database(join(dataDir, 'wsi.db'), { readonly: true, fileMustExist: true });
  try {
    const n = (sql: string, ...args: string[]): number => (db.prepare(sql).get(...args) as { n: number }).n;
    return {
      annotations: n('SELECT count(*) AS n FROM annotations WHERE slide_id = ?', slide),
      history: n('SELECT count(*) AS n FROM history WHERE op_id = ?', key),
      jobs: n('SELECT count(*) AS n FROM import_jobs WHERE op_id = ?', key),
      operations: n('SELECT count(*) AS n FROM operations WHERE op_id = ?', key),
    };
  } finally {
    db.close();
  }
}

const NOTHING = { annotations: 0, history: 0, jobs: 0, operations: 0 };

/** Another user's writes of every kind; each must succeed, none may wait for the import. */
async function otherUsersWrite(base: string, slide: string): Promise<Array<{ what: string; status: number; ms: number }>> {
  const out: Array<{ what: string; status: number; ms: number }> = [];
  const timed = async (what: string, f: () => Promise<{ status: number }>): Promise<void> => {
    const t0 = performance.now();
    const r = await f();
    out.push({ what, status: r.status, ms: performance.now() - t0 });
  };
  await timed('annotation', () => call(base, 'POST', `/api/slides/${slide}/annotations`, { body: square(10, 10, 20) }));
  // the palette as it is: still a write (the table is rewritten in a transaction)
  const classes = (await call<{ classes: Array<Record<string, unknown>> }>(base, 'GET', '/api/classes')).body.classes;
  await timed('classes', () => call(base, 'PUT', '/api/classes', { body: { classes } }));
  await timed('mask tile', () => postTiles(base, slide, USER, { ops: [{ tx: 0, ty: 0, ifMatch: 0, data: b64(zlib(tile((x) => (x < 10 ? 1 : 0)))) }] }));
  await timed('import', () => call(base, 'POST', `/api/slides/${slide}/annotations/import?format=qupath-geojson`, { raw: points(3), type: 'application/geo+json' }));
  return out;
}

describe('a stalled upload (finding 1)', () => {
  it('holds no lock: other users write annotations, classes, mask tiles and imports at once; cancelling it leaves nothing', async () => {
    const slide = freshSlide();
    const key = `stalled-${randomUUID()}`;
    const body = points(2000);
    const up = openUpload(server.url, slide, key);
    up.req.write(body.slice(0, 4000));
    // the stream now stalls, as a client sending 1 byte/s does between bytes
    const p = await until('the upload to be received', () => progress(server.url, slide, key), (r) => r.status === 200 && Number(r.body['bytesReceived']) >= 4000);
    expect(p.body).toMatchObject({ opId: key, state: 'receiving', bytesExpected: null, objects: 0 });

    const writes = await otherUsersWrite(server.url, freshSlide());
    expect(writes.map((w) => [w.what, w.status])).toEqual([
      ['annotation', 201],
      ['classes', 200],
      ['mask tile', 200],
      ['import', 201],
    ]);
    // before the fix each waited out the 5 s busy timeout and got 503 STORE_BUSY
    for (const w of writes) expect(w.ms, w.what).toBeLessThan(2000);

    const cancel = await call(server.url, 'DELETE', `/api/slides/${slide}/annotations/import/${key}`);
    expect([cancel.status, cancel.body['state']]).toEqual([200, 'cancelled']);
    const answer = await up.response;
    expect([answer.status, answer.body['code']]).toEqual([409, 'IMPORT_CANCELLED']);
    up.req.destroy();
    expect((await progress(server.url, slide, key)).body).toMatchObject({ state: 'cancelled', error: { code: 'IMPORT_CANCELLED' } });
    expect(spooled(server)).toEqual([]);
    expect(leftovers(server.dataDir, slide, key)).toEqual(NOTHING);
  });

  it('a client that goes away mid-upload abandons the import, and its spool file goes too', async () => {
    const slide = freshSlide();
    const key = `gone-${randomUUID()}`;
    const up = openUpload(server.url, slide, key);
    up.response.catch(() => undefined);
    up.req.write(points(100).slice(0, 2000));
    await until('the upload to be received', () => progress(server.url, slide, key), (r) => Number(r.body['bytesReceived']) >= 2000);
    up.req.destroy();
    await until('the import to fail', () => progress(server.url, slide, key), (r) => r.body['state'] === 'failed');
    expect(spooled(server)).toEqual([]);
    expect(leftovers(server.dataDir, slide, key)).toEqual(NOTHING);
  });
});

describe('following and cancelling an import', () => {
  it('Prefer: respond-async answers 202 with where to follow it; the report comes at the end; a retry replays it', async () => {
    const slide = freshSlide();
    const key = `async-${randomUUID()}`;
    const body = points(5000, 'Async class');
    const up = openUpload(server.url, slide, key, { length: Buffer.byteLength(body), prefer: 'respond-async' });
    up.req.end(body);
    const first = await up.response;
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ opId: key, format: 'qupath-geojson', bytesReceived: Buffer.byteLength(body), bytesExpected: Buffer.byteLength(body) });
    const done = await until('the import to finish', () => progress(server.url, slide, key), (r) => r.body['state'] === 'done');
    expect(done.body['report']).toMatchObject({ imported: 5000, perClass: { 'Async class': 5000 }, classesAdded: [{ name: 'Async class' }] });
    expect(await total(server.url, slide)).toBe(5000);
    const again = await call(server.url, 'POST', `/api/slides/${slide}/annotations/import?format=qupath-geojson`, { raw: body, key });
    expect([again.status, again.body['imported'], again.body['replayed']]).toEqual([200, 5000, true]);
    const late = await call(server.url, 'DELETE', `/api/slides/${slide}/annotations/import/${key}`);
    expect([late.status, late.body['code']]).toEqual([409, 'IMPORT_FINISHED']);
  });

  it('cancels an import while it is being written: the POST gets 409, and nothing of it stays', async () => {
    const slide = freshSlide();
    const key = `cancel-${randomUUID()}`;
    const body = points(300_000);
    const up = openUpload(server.url, slide, key, { length: Buffer.byteLength(body) });
    up.req.end(body);
    await until('objects to be staged', () => progress(server.url, slide, key), (r) => r.body['state'] === 'importing' && Number(r.body['objects']) > 0, 60_000);
    // staged rows are not visible, and other users write meanwhile
    expect(await total(server.url, slide)).toBe(0);
    const other = freshSlide();
    for (let i = 0; i < 10; i++) expect((await call(server.url, 'POST', `/api/slides/${other}/annotations`, { body: square(i * 30, 0, 20) })).status).toBe(201);
    const cancel = await call(server.url, 'DELETE', `/api/slides/${slide}/annotations/import/${key}`);
    expect([cancel.status, cancel.body['state']]).toEqual([202, 'cancelling']);
    const answer = await up.response;
    expect([answer.status, answer.body['code']]).toEqual([409, 'IMPORT_CANCELLED']);
    expect((await progress(server.url, slide, key)).body['state']).toBe('cancelled');
    expect(await total(server.url, slide)).toBe(0);
    expect(leftovers(server.dataDir, slide, key)).toEqual(NOTHING);
    expect(spooled(server)).toEqual([]);
  });

  it('keeps imports within their slide: another slide, or an unknown key, is 404', async () => {
    const slide = freshSlide();
    const key = `scoped-${randomUUID()}`;
    expect((await call(server.url, 'POST', `/api/slides/${slide}/annotations/import?format=qupath-geojson`, { raw: points(2), key })).status).toBe(201);
    expect((await progress(server.url, slide, key)).body).toMatchObject({ state: 'done', report: { imported: 2 } });
    for (const [s, k] of [
      [freshSlide(), key],
      [slide, `unknown-${randomUUID()}`],
    ] as const) {
      const r = await progress(server.url, s, k);
      expect([r.status, r.body['code']]).toEqual([404, 'IMPORT_NOT_FOUND']);
      const d = await call(server.url, 'DELETE', `/api/slides/${s}/annotations/import/${k}`);
      expect([d.status, d.body['code']]).toEqual([404, 'IMPORT_NOT_FOUND']);
      expect(JSON.stringify(r.body)).not.toContain('imported');
    }
  });
});

describe('a killed server (DATA-11)', () => {
  it('discards the import it was writing at the next start, and the retry imports it once', async () => {
    const data = await mkdtemp(join(tmpdir(), 'wsi-import-kill-'));
    try {
      let s = await startTestServer(FIXTURES, { DATA_DIR: data });
      const slide = (await slideIds(s))[0] as string;
      const key = `killed-${randomUUID()}`;
      const body = points(300_000);
      const up = openUpload(s.url, slide, key, { length: Buffer.byteLength(body) });
      up.response.catch(() => undefined);
      up.req.end(body);
      await until('objects to be staged', () => progress(s.url, slide, key), (r) => Number(r.body['objects']) > 0, 60_000);
      await s.stop('SIGKILL');
      s = await startTestServer(FIXTURES, { DATA_DIR: data });
      try {
        expect(await total(s.url, slide)).toBe(0);
        await until('the staged rows to be discarded', async () => leftovers(data, slide, key), (l) => l.annotations === 0 && l.jobs === 0);
        expect(leftovers(data, slide, key)).toEqual(NOTHING);
        expect(readdirSync(join(data, 'imports'))).toEqual([]);
        const retry = await call(s.url, 'POST', `/api/slides/${slide}/annotations/import?format=qupath-geojson`, { raw: points(1000), key });
        expect([retry.status, retry.body['imported']]).toEqual([201, 1000]);
        expect(await total(s.url, slide)).toBe(1000);
      } finally {
        await s.stop();
      }
    } finally {
      await rm(data, { recursive: true, force: true });
    }
  });
});

describe('the upload size cap (finding 5)', () => {
  let small: TestServer;
  let slide = '';
  beforeAll(async () => {
    small = await startTestServer(FIXTURES, { IMPORT_MAX_MB: '1' });
    slide = (await slideIds(small))[0] as string;
  });
  afterAll(async () => {
    await small?.stop();
  });

  it.each(['qupath-geojson', 'asap-xml', 'histomicstk-json'])('%s: a declared 10 GB body is refused with 413 before a byte is sent', async (format) => {
    const up = openUpload(small.url, slide, `huge-${randomUUID()}`, { length: 10 * 2 ** 30, format });
    // nothing is written: the answer must come from the headers alone
    const r = await up.response;
    up.req.destroy();
    expect([r.status, r.body['code'], r.body['detail']]).toEqual([413, 'PAYLOAD_TOO_LARGE', { limit: 2 ** 20 }]);
    expect(String(r.body['message'])).toMatch(/IMPORT_MAX_MB/);
  });

  it('a chunked body is cut off once it passes the cap; nothing is kept', async () => {
    const key = `chunked-${randomUUID()}`;
    const up = openUpload(small.url, slide, key);
    const text = points(30_000);
    expect(text.length).toBeGreaterThan(2 ** 20);
    let answered = false;
    const answer = up.response.finally(() => (answered = true));
    up.req.on('error', () => undefined); // the server closes the connection once it has answered
    for (let i = 0; i < text.length && !answered && !up.req.destroyed; i += 64 * 1024) {
      if (!up.req.write(text.slice(i, i + 64 * 1024))) await Promise.race([new Promise((r) => up.req.once('drain', r)), answer]);
    }
    const r = await answer;
    up.req.destroy();
    expect([r.status, r.body['code']]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    expect(spooled(small)).toEqual([]);
    expect(leftovers(small.dataDir, slide, key)).toEqual(NOTHING);
    // and a file within the cap still imports
    expect((await call(small.url, 'POST', `/api/slides/${slide}/annotations/import?format=qupath-geojson`, { raw: points(100) })).status).toBe(201);
  });
});
