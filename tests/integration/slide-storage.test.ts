/**
 * The slide folder's storage under faults and tricks:
 * - issue 10 finding 7 (SEC, symlink swap): a listed slide whose link is
 *   re-pointed outside the slide folder is refused once the change is seen,
 *   and never served from the new target; re-pointed to another file inside
 *   the folder, the new file is served.
 * - FAULT-02: the slide folder disappears (an unmounted disk): requests
 *   answer 503 STORAGE_UNAVAILABLE at once, /api/health says so, and the
 *   server recovers by itself when the folder is back.
 */
import { copyFile, mkdir, mkdtemp, rename, rm, symlink, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

let base: string;
let slides: string;
let server: TestServer;
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function listed(): Promise<Map<string, { id: string; status: string; width: number; error?: { code: string } }>> {
  const { body } = await getJson<{ slides: Array<{ id: string; name: string; status: string; width: number; error?: { code: string } }> }>(`${server.url}/api/slides`);
  return new Map(body.slides.map((s) => [s.name, s]));
}

const thumb = async (id: string): Promise<{ status: number; code?: string; bytes?: Buffer }> => {
  const res = await fetch(`${server.url}/api/slides/${id}/thumbnail?size=64`);
  if (res.status === 200) return { status: 200, bytes: Buffer.from(await res.arrayBuffer()) };
  return { status: res.status, code: ((await res.json()) as { code: string }).code };
};

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'wsi-storage-'));
  slides = join(base, 'slides');
  await mkdir(join(base, 'outside'), { recursive: true });
  await mkdir(slides, { recursive: true });
  await copyFile(join(FIXTURES, 'slides', 'generic-deflate-256.tif'), join(slides, 'inside-a.tif'));
  await copyFile(join(FIXTURES, 'slides', 'generic-zstd.tif'), join(slides, 'inside-b.tif'));
  await copyFile(join(FIXTURES, 'slides', 'aperio-jpeg-256-x2.svs'), join(base, 'outside', 'secret.svs'));
  await symlink(join(slides, 'inside-a.tif'), join(slides, 'linked.tif'));
  server = await startTestServer(slides);
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await rm(base, { recursive: true, force: true });
});

describe('slide storage', () => {
  it('a link re-pointed outside the slide folder is refused, never served from its new target (issue 10 #7)', async () => {
    const before = await listed();
    const linked = before.get('linked.tif');
    expect(linked?.status).toBe('ok');
    const a = await thumb((linked as { id: string }).id);
    expect(a.status).toBe(200);

    await unlink(join(slides, 'linked.tif'));
    await symlink(join(base, 'outside', 'secret.svs'), join(slides, 'linked.tif'));
    // until the change is seen, the already-open file (the inside one) is what is read; then it is refused
    const seen: Array<{ status: number; code?: string; bytes?: Buffer }> = [];
    for (let i = 0; i < 8; i++) {
      seen.push(await thumb((linked as { id: string }).id));
      await pause(500);
    }
    for (const r of seen) {
      if (r.status === 200) expect(r.bytes?.equals(a.bytes as Buffer)).toBe(true);
    }
    // refused when opened again (403), or no longer listed once the folder is rescanned (404)
    const last = seen[seen.length - 1];
    expect([403, 404]).toContain(last?.status);
    expect(['SLIDE_OUTSIDE_FOLDER', 'SLIDE_NOT_FOUND']).toContain(last?.code);
    expect(seen.some((r) => r.status === 403 && r.code === 'SLIDE_OUTSIDE_FOLDER')).toBe(true);
    const detail = await fetch(`${server.url}/api/slides/${(linked as { id: string }).id}`);
    expect(detail.status).toBe(404);
    expect((await listed()).has('linked.tif')).toBe(false);
  });

  it('a link re-pointed to another slide inside the folder serves the new file', async () => {
    await unlink(join(slides, 'linked.tif'));
    await symlink(join(slides, 'inside-b.tif'), join(slides, 'linked.tif'));
    await pause(2500);
    const now = await listed();
    expect(now.get('linked.tif')?.status).toBe('ok');
    expect(now.get('linked.tif')?.width).toBe(now.get('inside-b.tif')?.width);
  });

  it('a vanished slide folder answers 503 STORAGE_UNAVAILABLE at once and recovers by itself (FAULT-02)', async () => {
    const id = (await listed()).get('inside-a.tif')?.id as string;
    expect((await thumb(id)).status).toBe(200);
    await rename(slides, join(base, 'unmounted'));
    try {
      await pause(2500);
      const t0 = performance.now();
      const down = await fetch(`${server.url}/dzi/${id}_files/10/0_0.jpeg`);
      expect(down.status).toBe(503);
      expect(down.headers.get('retry-after')).toBe('1');
      expect(((await down.json()) as { code: string }).code).toBe('STORAGE_UNAVAILABLE');
      expect(performance.now() - t0).toBeLessThan(2000);
      const health = await getJson<{ ok: boolean; storage: { ok: boolean; reason: string } }>(`${server.url}/api/health`);
      expect(health.status).toBe(503);
      expect(health.body.storage.ok).toBe(false);
      expect(health.body.storage.reason).not.toContain(base);
      // the list is kept, not emptied
      const list = await listed();
      expect(list.get('inside-a.tif')?.error?.code).toBe('STORAGE_UNAVAILABLE');
    } finally {
      await rename(join(base, 'unmounted'), slides);
    }
    await pause(2500);
    const back = await getJson<{ ok: boolean }>(`${server.url}/api/health`);
    expect(back.status).toBe(200);
    expect((await thumb(id)).status).toBe(200);
    expect(server.output()).toContain('slide storage is available again');
  });
});
