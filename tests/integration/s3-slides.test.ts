/**
 * Slides in an S3-compatible bucket (issue 16, "slides from object storage"),
 * against s3rver started here. s3rver checks the access key but not a SigV4
 * signature (its V4 check is unimplemented); the signer is checked against
 * AWS's published example in tests/unit/s3-signer.test.ts. The server with SLIDES_URL lists the same slides as the server on
 * a local folder holding the same files, and serves the same tile bytes —
 * passthrough JPEG, a deflate tiled TIFF, OME-TIFF with SubIFDs, in a
 * sub-folder too. Bad cases: wrong credentials (the storage is reported
 * unavailable, nothing listed, no key in any message), the store going away
 * mid-use and coming back (FAULT-02), an object replaced while open
 * (READ-22: the new version is served, never a mix), keys outside the prefix
 * and hidden keys not listed.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

const FILES: Array<[string, string]> = [
  ['aperio-jpeg-256-x2.svs', 'lab/aperio-jpeg-256-x2.svs'],
  ['generic-deflate-256.tif', 'lab/generic-deflate-256.tif'],
  ['ome-rgb-subifd.ome.tif', 'lab/sub/ome-rgb-subifd.ome.tif'],
];

let base: string;
let s3: S3rver;
let port = 0;
let local: TestServer;
let remote: TestServer;

const s3env = (): Record<string, string> => ({
  SLIDES_URL: 's3://slides/lab/',
  S3_ENDPOINT: `http://127.0.0.1:${port}`,
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_REGION: 'us-east-1',
  S3_TIMEOUT_MS: '2000',
});

async function startS3(dir: string): Promise<void> {
  s3 = new S3rver({ port, address: '127.0.0.1', silent: true, directory: dir, configureBuckets: [{ name: 'slides' }] });
  port = (await s3.run()).port;
}

async function put(key: string, body: Buffer): Promise<void> {
  // s3rver takes anonymous writes: the test fills the bucket, the server only reads
  const res = await fetch(`http://127.0.0.1:${port}/slides/${key}`, { method: 'PUT', body: new Uint8Array(body) });
  expect(res.status).toBe(200);
}

type Listed = { id: string; name: string; status: string; width: number; height: number; levels?: number };
async function slides(server: TestServer): Promise<Map<string, Listed>> {
  const { body } = await getJson<{ slides: Listed[] }>(`${server.url}/api/slides`);
  return new Map(body.slides.map((s) => [s.name, s]));
}

async function tile(server: TestServer, id: string, level: number, col: number, row: number): Promise<{ status: number; bytes: Buffer; code?: string }> {
  const res = await fetch(`${server.url}/dzi/${id}_files/${level}/${col}_${row}.jpeg`);
  const bytes = Buffer.from(await res.arrayBuffer());
  let code: string | undefined;
  if (res.status !== 200) code = (JSON.parse(bytes.toString()) as { code?: string }).code;
  return { status: res.status, bytes, ...(code ? { code } : {}) };
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'wsi-s3-'));
  await startS3(join(base, 's3'));
  const folder = join(base, 'local');
  for (const [src, key] of FILES) {
    const bytes = await readFile(join(FIXTURES, 'slides', src));
    await put(key, bytes);
    await mkdir(join(folder, key.slice('lab/'.length), '..'), { recursive: true });
    await copyFile(join(FIXTURES, 'slides', src), join(folder, key.slice('lab/'.length)));
  }
  await put('other/outside.tif', await readFile(join(FIXTURES, 'slides', 'generic-zstd.tif')));
  await put('lab/.hidden.tif', await readFile(join(FIXTURES, 'slides', 'generic-zstd.tif')));
  local = await startTestServer(folder);
  remote = await startTestServer(join(base, 'unused'), s3env());
}, 120_000);

afterAll(async () => {
  await Promise.all([local?.stop(), remote?.stop()]);
  await s3?.close().catch(() => undefined);
  await rm(base, { recursive: true, force: true });
});

describe('slides from an S3 bucket', () => {
  it('lists the same slides as a local folder with the same files, and nothing outside the prefix or hidden', async () => {
    const [a, b] = await Promise.all([slides(local), slides(remote)]);
    expect([...b.keys()].sort()).toEqual(['aperio-jpeg-256-x2.svs', 'generic-deflate-256.tif', 'sub/ome-rgb-subifd.ome.tif']);
    for (const [name, s] of a) {
      const r = b.get(name) as Listed;
      expect({ name, status: r.status, width: r.width, height: r.height }).toEqual({ name, status: s.status, width: s.width, height: s.height });
    }
    expect(remote.output()).toContain('from bucket slides');
  });

  it('serves byte-identical tiles at every level (passthrough JPEG, deflate, OME SubIFDs)', async () => {
    const [a, b] = await Promise.all([slides(local), slides(remote)]);
    let compared = 0;
    for (const [name, s] of a) {
      const r = b.get(name) as Listed;
      const top = Math.ceil(Math.log2(Math.max(s.width, s.height)));
      for (const level of [top, top - 1, top - 3, Math.max(0, top - 6)]) {
        const [x, y] = await Promise.all([tile(local, s.id, level, 0, 0), tile(remote, r.id, level, 0, 0)]);
        expect(y.status, `${name} level ${level}`).toBe(x.status);
        expect(Buffer.compare(x.bytes, y.bytes), `${name} level ${level}`).toBe(0);
        compared++;
      }
    }
    expect(compared).toBe(12);
  });

  it('reports an unknown access key as unavailable storage, with no key or secret in the answer', async () => {
    const bad = await startTestServer(join(base, 'unused'), { ...s3env(), AWS_ACCESS_KEY_ID: 'NOSUCHKEY', AWS_SECRET_ACCESS_KEY: 'wrong-secret' });
    try {
      const health = await getJson<{ storage: { ok: boolean; reason: string } }>(`${bad.url}/api/health`);
      expect(health.status).toBe(503);
      expect(health.body.storage.ok).toBe(false);
      expect(health.body.storage.reason).toMatch(/HTTP 403|refused/);
      const text = JSON.stringify(health.body);
      expect(text).not.toContain('wrong-secret');
      expect(text).not.toContain('NOSUCHKEY');
      expect(text).not.toContain('lab/');
      expect((await slides(bad)).size).toBe(0);
    } finally {
      await bad.stop();
    }
  });

  it('fails fast while the store is gone and recovers by itself (FAULT-02)', async () => {
    const b = await slides(remote);
    const svs = b.get('aperio-jpeg-256-x2.svs') as Listed;
    const top = Math.ceil(Math.log2(Math.max(svs.width, svs.height)));
    const storageOk = async (): Promise<boolean> => (await getJson<{ storage: { ok: boolean } }>(`${remote.url}/api/health`)).body.storage.ok;
    await s3.close();
    try {
      await expect.poll(storageOk, { timeout: 15_000, interval: 300 }).toBe(false);
      const t0 = Date.now();
      const t = await tile(remote, svs.id, top, 0, 0);
      expect({ status: t.status, code: t.code }).toEqual({ status: 503, code: 'STORAGE_UNAVAILABLE' });
      expect(Date.now() - t0).toBeLessThan(5_000);
      const health = await getJson<{ storage: { reason: string } }>(`${remote.url}/api/health`);
      expect(health.status).toBe(503);
      expect(health.body.storage.reason).not.toContain('lab/');
    } finally {
      await startS3(join(base, 's3'));
    }
    await expect.poll(storageOk, { timeout: 20_000, interval: 500 }).toBe(true);
    expect((await tile(remote, svs.id, top, 0, 0)).status).toBe(200);
  }, 60_000);

  it('serves the new version of an object replaced while open, never a mix (READ-22)', async () => {
    const b = await slides(remote);
    const name = 'generic-deflate-256.tif';
    const before = b.get(name) as Listed;
    const top = Math.ceil(Math.log2(Math.max(before.width, before.height)));
    expect((await tile(remote, before.id, top, 0, 0)).status).toBe(200);
    // same key, other content: the zstd slide
    await put(`lab/${name}`, await readFile(join(FIXTURES, 'slides', 'generic-zstd.tif')));
    const zstdLocal = join(base, 'zstd');
    await mkdir(zstdLocal, { recursive: true });
    await copyFile(join(FIXTURES, 'slides', 'generic-zstd.tif'), join(zstdLocal, name));
    const ref = await startTestServer(zstdLocal);
    try {
      const refSlide = (await slides(ref)).get(name) as Listed;
      const refTop = Math.ceil(Math.log2(Math.max(refSlide.width, refSlide.height)));
      const want = await tile(ref, refSlide.id, refTop, 0, 0);
      await expect
        .poll(async () => {
          const t = await tile(remote, before.id, refTop, 0, 0);
          return t.status === 200 && Buffer.compare(t.bytes, want.bytes) === 0;
        }, { timeout: 20_000, interval: 500 })
        .toBe(true);
    } finally {
      await ref.stop();
    }
  }, 60_000);
});
