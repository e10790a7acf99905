/**
 * Correcting an AI mask in Chromium (issue 13; TEST-CATALOGUE AI-04): a
 * model's label mask (all Stroma) is imported into a run over HTTP, the
 * annotator's corrected layer is derived from it, and a Tumour stroke is
 * painted on it with the ordinary brush in the viewer. The run's report
 * then counts exactly the pixels the stroke changed (Stroma → Tumour), by
 * a plain loop over the server's tiles of both layers, and the model's
 * layer is untouched.
 */
import { randomUUID } from 'node:crypto';
import { inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pngBytes } from '../../scripts/fixtures/label-images.js';
import { CHROMIUM, HAS_CHROMIUM } from '../helpers/browser.js';
import { parsePack } from '../helpers/masks.js';
import type { TestServer } from '../helpers/server.js';
import { VIEWER, dragPath, openViewer, startViewerRig, stopViewerRig, viewAt, waitMaskSaved, type ViewerRig } from '../helpers/viewer-page.js';

let rig: ViewerRig;
let srv: TestServer;
let slide = '';
let W = 0;
let H = 0;
const T = 512;

if (!HAS_CHROMIUM) process.stdout.write(`[browser] SKIP: no Chromium at ${CHROMIUM}\n`);

beforeAll(async () => {
  if (!HAS_CHROMIUM) return;
  rig = await startViewerRig();
  srv = rig.srv;
  const s = rig.slides.get('aperio-jpeg-256-x2.svs');
  slide = s?.id ?? '';
  W = s?.width ?? 0;
  H = s?.height ?? 0;
}, 120_000);

afterAll(() => stopViewerRig(rig));

async function post(path: string, body: BodyInit | undefined, type: string | null): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'Idempotency-Key': randomUUID() };
  if (type) headers['Content-Type'] = type;
  const res = await fetch(`${srv.url}${path}`, { method: 'POST', headers, ...(body !== undefined ? { body } : {}) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A layer's level-0 pixels from the server's tiles (unpainted: 0). */
async function layer(annotator: string): Promise<Uint8Array> {
  const res = await fetch(`${srv.url}/api/slides/${slide}/masks/${encodeURIComponent(annotator)}/tiles`);
  const px = new Uint8Array(W * H);
  for (const t of parsePack(Buffer.from(await res.arrayBuffer()))) {
    const d = inflateSync(t.data);
    for (let y = 0; y < T && t.ty * T + y < H; y++) for (let x = 0; x < T && t.tx * T + x < W; x++) px[(t.ty * T + y) * W + t.tx * T + x] = d[y * T + x] as number;
  }
  return px;
}

describe.skipIf(!HAS_CHROMIUM)('correcting an AI mask in the browser (AI-04)', () => {
  it('a brush stroke on the corrected layer is counted pixel for pixel in the run\'s report', async () => {
    expect(slide).not.toBe('');
    const run = (await post(`/api/slides/${slide}/model-runs`, JSON.stringify({ model: { name: 'segnet', version: '1' } }), 'application/json')).body['id'] as string;
    const w = Math.ceil(W / 4);
    const h = Math.ceil(H / 4);
    // the model says Stroma (id 2) everywhere
    const imported = await post(`/api/slides/${slide}/model-runs/${run}/mask?downsample=4`, new Uint8Array(pngBytes(w, h, 1, new Uint8Array(w * h).fill(2))), 'image/png');
    expect(imported.status, JSON.stringify(imported.body)).toBe(201);
    expect((await post(`/api/slides/${slide}/model-runs/${run}/mask/corrected`, undefined, null)).status).toBe(201);
    const model = await layer(`@model:${run}`);

    const page = await openViewer(rig, slide);
    // the viewer shows the corrected layer: the model's Stroma is there before any stroke
    await page.waitForFunction(`(${VIEWER}).annotationSession.mask.store.size > 0`, undefined, { timeout: 30_000 });
    await viewAt(page, 1000, 800, 1);
    await page.locator('wsi-viewer').press('b');
    await page.locator('wsi-viewer').press('t');
    await dragPath(page, [[700, 700], [1100, 720], [1300, 900]]);
    await waitMaskSaved(page);

    const final = await layer(srv.admin?.id ?? '');
    let changed = 0;
    let tumour = 0;
    for (let i = 0; i < final.length; i++) {
      if (final[i] !== model[i]) changed++;
      if (model[i] === 2 && final[i] === 1) tumour++;
    }
    expect(changed).toBeGreaterThan(100);
    expect(tumour).toBe(changed);
    const res = await fetch(`${srv.url}/api/slides/${slide}/model-runs/${run}/report`);
    const mask = ((await res.json()) as { mask: { corrections: Array<{ slide: { pixels: number; changed: number; matrix: Record<string, Record<string, number>> } }> } }).mask;
    const c = mask.corrections[0]?.slide;
    expect(c?.pixels).toBe(W * H);
    expect(c?.changed).toBe(changed);
    expect(c?.matrix['2']?.['1']).toBe(tumour);
    // the model's layer is as imported
    expect(Buffer.from(await layer(`@model:${run}`)).equals(Buffer.from(model))).toBe(true);
  });
});
