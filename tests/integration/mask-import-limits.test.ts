/**
 * Mask imports under load (issue 10 finding 3; TEST-CATALOGUE READ-23 and
 * LOAD-05 "bombs refused"): at most MASK_IMPORT_CONCURRENCY label images
 * are decoded at once — past it the answer is 503 OVERLOADED with
 * Retry-After and nothing is written, and the same request retried later
 * goes through — and MASK_IMPORT_MAX_PIXELS is the size any image may claim.
 * (What an import costs in memory, and that it is given back, is measured
 * by `npm run bench -- bombs`.)
 */
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pngBytes } from '../../scripts/fixtures/label-images.js';
import { readPack } from '../helpers/masks.js';
import { FIXTURES } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

/** The annotator: the signed-in admin's user id (known once the server is up). */
let USER = '';
let server: TestServer;
let slide = '';

beforeAll(async () => {
  server = await startTestServer(FIXTURES, { MASK_IMPORT_CONCURRENCY: '1', MASK_IMPORT_MAX_PIXELS: '4000000' });
  USER = server.admin?.id ?? '';
  const { body } = await getJson<{ slides: Array<{ id: string; status: string; width: number; height: number }> }>(`${server.url}/api/slides`);
  slide = body.slides.find((s) => s.status === 'ok' && s.width >= 2000 && s.height >= 2000)?.id ?? '';
});

afterAll(async () => {
  await server?.stop();
});

async function post(bytes: Buffer, key: string, x: number): Promise<{ status: number; code: unknown; retryAfter: string | null }> {
  const res = await fetch(`${server.url}/api/slides/${slide}/masks/${USER}/import?x=${x}&y=0`, { method: 'POST', headers: { 'Content-Type': 'image/png', 'Idempotency-Key': key }, body: new Uint8Array(bytes) });
  const body = (await res.json()) as { code?: unknown };
  return { status: res.status, code: body.code, retryAfter: res.headers.get('retry-after') };
}

describe('mask import limits', () => {
  it('decodes one image at a time here: the others get 503 with Retry-After, write nothing, and go through when retried', async () => {
    expect(slide).not.toBe('');
    // 2,000² codes 1–3: enough work that the first import is still running when the others arrive
    const px = new Uint8Array(2000 * 2000);
    for (let i = 0; i < px.length; i++) px[i] = 1 + ((i * 2654435761) >>> 30) % 3;
    const image = pngBytes(2000, 2000, 1, px);
    const keys = Array.from({ length: 5 }, () => `mask-import-${randomUUID()}`);
    const first = await Promise.all(keys.map((k, i) => post(image, k, i * 8)));
    const ok = first.filter((r) => r.status === 201);
    const busy = first.filter((r) => r.status === 503);
    expect(ok.length + busy.length).toBe(keys.length);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(busy.length).toBeGreaterThanOrEqual(1);
    for (const b of busy) expect([b.code, b.retryAfter]).toEqual(['OVERLOADED', '1']);
    // the refused ones wrote nothing: only the admitted imports' versions exist
    const tiles = (await readPack(server.url, slide, USER)).tiles;
    expect(Math.max(...tiles.map((t) => t.version))).toBe(ok.length);
    // retried one by one, each goes through once
    for (const [i, r] of first.entries()) {
      if (r.status !== 503) continue;
      expect((await post(image, keys[i] as string, i * 8)).status).toBe(201);
    }
    expect(Math.max(...(await readPack(server.url, slide, USER)).tiles.map((t) => t.version))).toBe(keys.length);
    expect(readdirSync(join(server.dataDir, 'imports'))).toEqual([]);
  });

  it('MASK_IMPORT_MAX_PIXELS is the most an image may claim', async () => {
    const over = await post(pngBytes(2001, 2000, 1, null, new Uint8Array(10)), randomUUID(), 0);
    expect([over.status, over.code]).toEqual([413, 'IMAGE_TOO_LARGE']);
  });
});
