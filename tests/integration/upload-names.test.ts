/**
 * SEC-16: names that try to leave the store. No route writes a file under a
 * name a client gives: uploads are spooled under random names in
 * DATA_DIR/imports, operation ids are checked against a narrow alphabet,
 * and slide ids are looked up, never joined to a path. This sends traversal
 * sequences, absolute paths, NUL bytes and Unicode look-alikes everywhere a
 * name could travel (Content-Disposition, multipart file names, the
 * Idempotency-Key, the format, the path), and checks that each is refused
 * with a 4xx or ignored, none answers 5xx, and nothing appears outside the
 * store. (Symlinks in slide folders that point outside are SLIDE_OUTSIDE_FOLDER:
 * tests/integration/slide-storage.test.ts.)
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pngBytes } from '../helpers/masks.js';
import { FIXTURES } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

const MARK = 'sec16evil';
const HOSTILE = [
  `../../../../../../tmp/${MARK}`,
  `/tmp/${MARK}`,
  `..\\..\\..\\${MARK}`,
  `x\u0000/../${MARK}`,
  // two-dot leader and fullwidth full stops and solidus: look-alikes of ../
  `\u2025/\u2025/${MARK}`,
  `\uff0e\uff0e\uff0f\uff0e\uff0e\uff0f${MARK}`,
  `%2e%2e%2f%2e%2e%2f${MARK}`,
];

let server: TestServer;
let slide = '';
let user = '';
let watched: string;

/** Every path under `dir` (names only matter here). */
async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    out.push(p);
    if (e.isDirectory()) out.push(...(await walk(p)));
  }
  return out;
}

const geojson = JSON.stringify({ type: 'FeatureCollection', features: [{ type: 'Feature', geometry: { type: 'Point', coordinates: [10, 10] }, properties: { classification: { name: 'Tumour' } } }] });

beforeAll(async () => {
  // the server's temporary folder is watched too: nothing may land in it under a client's name
  watched = await mkdtemp(join(tmpdir(), 'wsi-sec16-tmp-'));
  server = await startTestServer(FIXTURES, { TMPDIR: watched });
  user = server.admin?.id ?? '';
  const { body } = await getJson<{ slides: Array<{ id: string; status: string }> }>(`${server.url}/api/slides`);
  slide = body.slides.find((s) => s.status === 'ok')?.id ?? '';
});

afterAll(async () => {
  await server?.stop();
  await rm(watched, { recursive: true, force: true });
});

describe('hostile names in uploads (SEC-16)', () => {
  it('ignores the names an annotation upload carries, and refuses them as operation ids', async () => {
    for (const name of HOSTILE) {
      const headerSafe = encodeURIComponent(name);
      const ok = await fetch(`${server.url}/api/slides/${slide}/annotations/import?format=qupath-geojson`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/geo+json', 'Idempotency-Key': randomUUID(), 'Content-Disposition': `attachment; filename="${headerSafe}"; filename*=UTF-8''${headerSafe}`, 'X-File-Name': headerSafe },
        body: geojson,
      });
      expect(ok.status, `${name}: the upload is taken, its name ignored`).toBe(201);
      await ok.arrayBuffer();
      const key = await fetch(`${server.url}/api/slides/${slide}/annotations/import?format=qupath-geojson`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/geo+json', 'Idempotency-Key': headerSafe },
        body: geojson,
      });
      expect(key.status, `${name} as an operation id`).toBe(400);
      expect(((await key.json()) as { code: string }).code).toBe('OPERATION_ID_REQUIRED');
      const format = await fetch(`${server.url}/api/slides/${slide}/annotations/import?format=${headerSafe}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/geo+json', 'Idempotency-Key': randomUUID() },
        body: geojson,
      });
      expect(format.status, `${name} as a format`).toBeGreaterThanOrEqual(400);
      expect(format.status).toBeLessThan(500);
      await format.arrayBuffer();
    }
  });

  it('ignores the file names of a multipart mask upload, and refuses one with a NUL byte', async () => {
    for (const name of HOSTILE) {
      const form = new FormData();
      form.append('image', new Blob([new Uint8Array(pngBytes(8, 8, 1, new Uint8Array(64)))], { type: 'image/png' }), name);
      const res = await fetch(`${server.url}/api/slides/${slide}/masks/${encodeURIComponent(user)}/import?x=0&y=0`, { method: 'POST', headers: { 'Idempotency-Key': randomUUID() }, body: form }).catch((e: Error) => e);
      if (res instanceof Error) throw new Error(`${JSON.stringify(name)}: ${res.message} ${String((res.cause as Error | undefined)?.message)}`);
      const text = await res.text();
      // a NUL byte makes the part header malformed: refused; any other name is ignored
      expect(res.status, `${JSON.stringify(name)}: ${res.status} ${text}`).toBe(name.includes('\u0000') ? 400 : 201);
    }
  });

  it('answers names in the path with 4xx, never 5xx', async () => {
    for (const name of HOSTILE) {
      for (const path of [`/api/slides/${encodeURIComponent(name)}`, `/api/slides/${encodeURIComponent(name)}/annotations`, `/dzi/${encodeURIComponent(name)}.dzi`, `/api/slides/${slide}/annotations/import/${encodeURIComponent(name)}`]) {
        const res = await fetch(`${server.url}${path}`);
        expect(res.status, `${path}: ${res.status}`).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        await res.arrayBuffer();
      }
    }
  });

  it('wrote nothing under any of those names, inside the store or outside it', async () => {
    const everywhere = [...(await walk(server.dataDir)), ...(await walk(watched)), ...(await readdir('/tmp').catch(() => [] as string[])).map((n) => join('/tmp', n))];
    expect(everywhere.filter((p) => p.includes(MARK))).toEqual([]);
    // uploads still being received are spooled under random names only
    for (const p of await walk(join(server.dataDir, 'imports'))) expect(p.split('/').pop()).toMatch(/^[0-9a-f-]{36}(\.part)?$|^[\w.-]+$/);
  });
});
