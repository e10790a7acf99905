/**
 * READ-22: a slide file truncated, replaced or removed while the server has
 * it open. In-flight requests get 422/503, the slide is reopened on the next
 * request once the change is seen, and the server never goes down.
 */
import { copyFile, mkdtemp, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

let dir: string;
let server: TestServer;
let original: Buffer;
const FILE = 'slide.tif';

async function slideId(): Promise<string> {
  const { body } = await getJson<{ slides: Array<{ id: string; name: string }> }>(`${server.url}/api/slides`);
  const s = body.slides.find((x) => x.name === FILE);
  if (!s) throw new Error('slide not listed');
  return s.id;
}

const tile = (sid: string, level: number, c: number, r: number): Promise<Response> => fetch(`${server.url}/dzi/${sid}_files/${level}/${c}_${r}.jpeg`);
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wsi-change-'));
  await copyFile(join(FIXTURES, 'slides', 'generic-deflate-256.tif'), join(dir, FILE));
  original = await readFile(join(dir, FILE));
  server = await startTestServer(dir);
});

afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('slide file changes under the server (READ-22)', () => {
  it('answers, then fails cleanly when truncated, then recovers when restored', async () => {
    const sid = await slideId();
    expect((await tile(sid, 11, 0, 0)).status).toBe(200);

    // cut the file in half: the open slide's tile table now points past the end
    await truncate(join(dir, FILE), Math.floor(original.length / 2));
    const cut = await tile(sid, 11, 5, 4);
    expect([422, 503]).toContain(cut.status);
    const body = (await cut.json()) as { code: string };
    expect(['TIFF_TRUNCATED', 'STORAGE_UNAVAILABLE', 'TIFF_BAD_OFFSET']).toContain(body.code);

    // once the change is noticed the slide is reopened, and now fails to open
    await pause(2200);
    const reopened = await tile(sid, 11, 4, 4);
    expect(reopened.status).toBe(422);
    const listed = await getJson<{ slides: Array<{ name: string; status: string }> }>(`${server.url}/api/slides`);
    expect(listed.body.slides.find((s) => s.name === FILE)?.status).toBe('error');

    // put the file back: served again
    await writeFile(join(dir, FILE), original);
    await pause(2200);
    expect((await tile(sid, 11, 3, 3)).status).toBe(200);
    expect((await getJson<{ ok: boolean }>(`${server.url}/api/health`)).body.ok).toBe(true);
  });

  it('a removed slide answers 503 then disappears from the list', async () => {
    const sid = await slideId();
    await unlink(join(dir, FILE));
    await pause(2200);
    const gone = await tile(sid, 11, 2, 2);
    expect([404, 503]).toContain(gone.status);
    await pause(2200);
    const { body } = await getJson<{ slides: unknown[] }>(`${server.url}/api/slides`);
    expect(body.slides).toHaveLength(0);
    expect((await getJson(`${server.url}/api/health`)).status).toBe(200);
  });
});
