/**
 * AI masks of model runs (issue 13; TEST-CATALOGUE AI-04), through HTTP: a
 * generated label image is imported as a model run's mask (the real route,
 * at a downsample), the annotator derives their corrected layer and paints
 * corrections through the ordinary tile route, and the corrections report's
 * mask confusion (model class × final class, per slide and per checked
 * area), pixels changed and error rates must equal a count made here by a
 * plain loop over every decoded pixel of both layers; the totals equal the
 * slide's area. Probability maps are turned into the argmax the test
 * computes itself. Bad input gets its code and leaves nothing behind:
 * values outside the palette, a size that does not cover the slide, maps
 * of unequal sizes or missing classes, painting the model's layer, a second
 * import while one runs, a decompression bomb of a few bytes (LOAD-05).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pngBytes } from '../../scripts/fixtures/label-images.js';
import { b64, inflate, postTiles, readPack, T, zlib } from '../helpers/masks.js';
import { FIXTURES } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

type Json = Record<string, unknown>;
interface Confusion {
  pixels: number;
  changed: number;
  matrix: Record<string, Record<string, number>>;
  perClass: Record<string, { model: number; final: number; kept: number; changedFrom: number; changedTo: number; errorRate: number | null }>;
}

let server: TestServer;
let USER = '';
let slide = '';
let W = 0;
let H = 0;
const D = 2;

beforeAll(async () => {
  server = await startTestServer(FIXTURES);
  USER = server.admin?.id ?? '';
  const { body } = await getJson<{ slides: Array<{ id: string; status: string; width: number; height: number }> }>(`${server.url}/api/slides`);
  const s = body.slides.find((x) => x.status === 'ok' && x.width >= 1000 && x.height >= 700 && x.width * x.height <= 12e6);
  slide = s?.id ?? '';
  W = s?.width ?? 0;
  H = s?.height ?? 0;
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

async function call(method: string, path: string, body?: unknown, key: string | null = randomUUID()): Promise<{ status: number; body: Json }> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (key !== null && method !== 'GET') headers['Idempotency-Key'] = key;
  const res = await fetch(`${server.url}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Json) : {} };
}

async function newRun(): Promise<string> {
  const r = await call('POST', `/api/slides/${slide}/model-runs`, { model: { name: 'segnet', version: '1.0' }, parameters: { tile: 512 } });
  expect(r.status).toBe(201);
  return r.body['id'] as string;
}

async function postMask(run: string, query: string, body: Uint8Array | FormData | ReadableStream<Uint8Array>, type: string | null = 'image/png', key = randomUUID()): Promise<{ status: number; body: Json }> {
  const headers: Record<string, string> = { 'Idempotency-Key': key };
  if (type) headers['Content-Type'] = type;
  const init: RequestInit & { duplex?: 'half' } = { method: 'POST', headers, body: body as BodyInit };
  if (body instanceof ReadableStream) init.duplex = 'half';
  const res = await fetch(`${server.url}/api/slides/${slide}/model-runs/${run}/mask${query ? `?${query}` : ''}`, init);
  return { status: res.status, body: (await res.json()) as Json };
}

/** A layer's level-0 pixels, decoded from its tiles (unpainted: 0). */
async function layer(annotator: string): Promise<Uint8Array> {
  const px = new Uint8Array(W * H);
  for (const t of (await readPack(server.url, slide, annotator)).tiles) {
    const data = inflate(t.data);
    for (let y = 0; y < T; y++) {
      const Y = t.ty * T + y;
      if (Y >= H) break;
      for (let x = 0; x < T; x++) {
        const X = t.tx * T + x;
        if (X >= W) break;
        px[Y * W + X] = data[y * T + x] as number;
      }
    }
  }
  return px;
}

/** The label codes of the model: blocks of classes 0–3 (0: unlabelled), at a downsample. */
function labelImage(w: number, h: number): Uint8Array {
  const px = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px[y * w + x] = ((x >> 5) + 3 * (y >> 6)) % 4;
  return px;
}

/** The confusion counted by hand: every pixel (x, y) for which `inside` holds, model class × final class. */
function count(model: Uint8Array, final: Uint8Array, inside: (x: number, y: number) => boolean = () => true): { matrix: Record<string, Record<string, number>>; pixels: number; changed: number } {
  const m = new Float64Array(256 * 256);
  let pixels = 0;
  let changed = 0;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (!inside(x, y)) continue;
      const a = model[y * W + x] as number;
      const b = final[y * W + x] as number;
      m[a * 256 + b]!++;
      pixels++;
      if (a !== b) changed++;
    }
  }
  const matrix: Record<string, Record<string, number>> = {};
  for (let i = 0; i < m.length; i++) if ((m[i] as number) > 0) (matrix[String(Math.floor(i / 256))] ??= {})[String(i % 256)] = m[i] as number;
  return { matrix, pixels, changed };
}

/** Paints `fill(X, Y, old)` over the level-0 box through the ordinary tile route (one batch, per-tile ifMatch). */
async function paint(box: [number, number, number, number], fill: (X: number, Y: number, old: number) => number): Promise<void> {
  const pack = new Map((await readPack(server.url, slide, USER)).tiles.map((t) => [`${t.tx},${t.ty}`, t]));
  const ops: Array<{ tx: number; ty: number; ifMatch: number; data: string }> = [];
  for (let ty = Math.floor(box[1] / T); ty * T < box[3]; ty++) {
    for (let tx = Math.floor(box[0] / T); tx * T < box[2]; tx++) {
      const t = pack.get(`${tx},${ty}`);
      const data = t ? inflate(t.data) : new Uint8Array(T * T);
      for (let y = 0; y < T; y++) {
        for (let x = 0; x < T; x++) {
          const X = tx * T + x;
          const Y = ty * T + y;
          if (X >= box[0] && X < box[2] && Y >= box[1] && Y < box[3] && X < W && Y < H) data[y * T + x] = fill(X, Y, data[y * T + x] as number);
        }
      }
      ops.push({ tx, ty, ifMatch: t?.version ?? 0, data: b64(zlib(data)) });
    }
  }
  const r = await postTiles(server.url, slide, USER, { ops });
  expect(r.status).toBe(200);
}

describe('AI masks: a label image, painted corrections and the per-pixel confusion (AI-04)', () => {
  let run = '';
  let model: Uint8Array;

  it('imports a label image as the run\'s read-only layer, at a downsample', async () => {
    expect(slide).not.toBe('');
    run = await newRun();
    const w = Math.ceil(W / D);
    const h = Math.ceil(H / D);
    const codes = labelImage(w, h);
    const key = randomUUID();
    const r = await postMask(run, `downsample=${D}`, pngBytes(w, h, 1, codes), 'image/png', key);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body).toMatchObject({ run, layer: `@model:${run}`, form: 'label-image', downsample: D });
    // the model's layer, decoded, is the image at level 0
    model = await layer(`@model:${run}`);
    let wrong = 0;
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (model[y * W + x] !== codes[Math.floor(y / D) * w + Math.floor(x / D)]) wrong++;
    expect(wrong).toBe(0);
    // the run is filled, and says so
    const got = await call('GET', `/api/slides/${slide}/model-runs/${run}`);
    expect(got.body).toMatchObject({ state: 'imported', format: 'label-image' });
    const rec = await call('GET', `/api/slides/${slide}/model-runs/${run}/mask`);
    expect(rec.body).toMatchObject({ form: 'label-image', downsample: D, minProbability: null, image: { width: w, height: h }, corrected: [] });
    // a retry of the same request replays the answer
    const again = await postMask(run, `downsample=${D}`, pngBytes(w, h, 1, codes), 'image/png', key);
    expect([again.status, again.body['replayed']]).toEqual([200, true]);
  });

  it('refuses painting the model\'s layer (MODEL_MASK_READ_ONLY), a second file, and predictions into the run', async () => {
    const before = (await readPack(server.url, slide, `@model:${run}`)).raw;
    const paintIt = await postTiles(server.url, slide, `@model:${run}`, { ops: [{ tx: 0, ty: 0, ifMatch: 1, data: b64(zlib(new Uint8Array(T * T).fill(5))) }] });
    expect([paintIt.status, (paintIt.body as Json)['code']]).toEqual([409, 'MODEL_MASK_READ_ONLY']);
    const second = await postMask(run, `downsample=${D}`, pngBytes(Math.ceil(W / D), Math.ceil(H / D), 1, new Uint8Array(Math.ceil(W / D) * Math.ceil(H / D)).fill(1)));
    expect([second.status, second.body['code']]).toEqual([409, 'MODEL_RUN_HAS_PREDICTIONS']);
    const res = await fetch(`${server.url}/api/slides/${slide}/model-runs/${run}/predictions?format=qupath-geojson`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Idempotency-Key': randomUUID() }, body: JSON.stringify({ type: 'FeatureCollection', features: [] }) });
    expect(res.status).toBe(409);
    expect((await readPack(server.url, slide, `@model:${run}`)).raw.equals(before)).toBe(true);
  });

  it('derives the corrected layer, counts painted corrections pixel by pixel, per slide and per checked area', async () => {
    const derived = await call('POST', `/api/slides/${slide}/model-runs/${run}/mask/corrected`);
    expect(derived.status, JSON.stringify(derived.body)).toBe(201);
    expect(derived.body).toMatchObject({ run, annotator: USER, from: `@model:${run}` });
    // the corrected layer starts as the model's
    expect(Buffer.from(await layer(USER)).equals(Buffer.from(model))).toBe(true);
    const twice = await call('POST', `/api/slides/${slide}/model-runs/${run}/mask/corrected`);
    expect([twice.status, twice.body['code']]).toEqual([409, 'MODEL_MASK_LAYER_NOT_EMPTY']);

    // corrections through the ordinary paint path: a new class across a tile corner, an erased band, a relabel of 1 → 2
    await paint([T - 40, T - 30, T + 50, T + 70], () => 5);
    await paint([0, 100, Math.min(W, 700), 140], () => 0);
    await paint([200, 0, 600, 400], (_x, _y, old) => (old === 1 ? 2 : old));
    const area: [number, number, number, number] = [100, 50, 650, 380];
    const a = await call('POST', `/api/slides/${slide}/model-runs/${run}/checked-areas`, {
      geometry: { type: 'Polygon', coordinates: [[[area[0], area[1]], [area[2], area[1]], [area[2], area[3]], [area[0], area[3]], [area[0], area[1]]]] },
    });
    expect(a.status).toBe(201);

    const final = await layer(USER);
    const whole = count(model, final);
    expect(whole.pixels).toBe(W * H);
    expect(whole.changed).toBeGreaterThan(1000);
    const inArea = count(model, final, (x, y) => x >= area[0] && x < area[2] && y >= area[1] && y < area[3]);

    const rep = await call('GET', `/api/slides/${slide}/model-runs/${run}/report`);
    expect(rep.status, JSON.stringify(rep.body).slice(0, 300)).toBe(200);
    const mask = rep.body['mask'] as { layer: string; corrections: Array<{ annotator: string; slide: Confusion; checkedAreas: Array<{ id: string; confusion: Confusion }> }>; modelPixels: Record<string, number> };
    expect(mask.layer).toBe(`@model:${run}`);
    expect(mask.corrections.map((c) => c.annotator)).toEqual([USER]);
    const c = mask.corrections[0] as (typeof mask.corrections)[number];
    expect(c.slide.matrix).toEqual(whole.matrix);
    expect([c.slide.pixels, c.slide.changed]).toEqual([W * H, whole.changed]);
    expect(c.checkedAreas.map((x) => x.id)).toEqual([a.body['id']]);
    expect((c.checkedAreas[0] as { confusion: Confusion }).confusion.matrix).toEqual(inArea.matrix);
    expect((c.checkedAreas[0] as { confusion: Confusion }).confusion.pixels).toBe((area[2] - area[0]) * (area[3] - area[1]));
    // per class: pixels the model gave it, pixels changed away from it, and the error rate
    for (const [cls, row] of Object.entries(whole.matrix)) {
      const modelN = Object.values(row).reduce((s, n) => s + n, 0);
      const kept = row[cls] ?? 0;
      expect(c.slide.perClass[cls]).toMatchObject({ model: modelN, kept, changedFrom: modelN - kept, errorRate: (modelN - kept) / modelN });
    }
    // the model's own pixels per class (unlabelled left out), as the import wrote them
    const labelled: Record<string, number> = {};
    for (const v of model) if (v !== 0) labelled[v] = (labelled[v] ?? 0) + 1;
    expect(mask.modelPixels).toEqual(labelled);
  });
});

describe('AI masks: probability maps', () => {
  it('takes the most probable class per pixel when it reaches minProbability, ties to the smaller class id', async () => {
    const run = await newRun();
    const w = Math.ceil(W / 4);
    const h = Math.ceil(H / 4);
    // three classes; values chosen so that ties and the threshold both occur
    const names = ['Tumour', 'Stroma', 'Necrosis'];
    const maps = names.map((_n, k) => {
      const px = new Uint8Array(w * h);
      // every 11th pixel: the same high probability in every map (a tie: the smaller class id wins)
      for (let i = 0; i < px.length; i++) px[i] = i % 11 === 0 ? 200 : ((i * (k + 3)) % 7) * 40 + ((i >> 4) % 2) * 10;
      return px;
    });
    const form = new FormData();
    // sent out of palette order: the part's name says the class
    for (const k of [2, 0, 1]) form.append(names[k] as string, new Blob([new Uint8Array(pngBytes(w, h, 1, maps[k] as Uint8Array))], { type: 'image/png' }), `${names[k]}.png`);
    const r = await postMask(run, `form=probability-maps&downsample=4&minProbability=0.5&classes=${encodeURIComponent(JSON.stringify(names))}`, form, null);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    // the argmax by hand: class ids 1, 2, 3 are Tumour, Stroma, Necrosis in the default palette
    const expected = new Uint8Array(w * h);
    for (let i = 0; i < expected.length; i++) {
      let best = -1;
      let cls = 0;
      for (let k = 0; k < 3; k++) {
        const v = (maps[k] as Uint8Array)[i] as number;
        if (v > best) {
          best = v;
          cls = k + 1;
        }
      }
      expected[i] = best / 255 >= 0.5 ? cls : 0;
    }
    const model = await layer(`@model:${run}`);
    let wrong = 0;
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (model[y * W + x] !== expected[Math.floor(y / 4) * w + Math.floor(x / 4)]) wrong++;
    expect(wrong).toBe(0);
    expect((await call('GET', `/api/slides/${slide}/model-runs/${run}/mask`)).body).toMatchObject({ form: 'probability-maps', minProbability: 0.5, downsample: 4 });
  });

  it.each([
    ['maps of unequal sizes', (w: number, h: number) => [['Tumour', pngBytes(w, h, 1, null)], ['Stroma', pngBytes(w + 1, h, 1, null)]], 422, 'MODEL_MASK_SIZE_MISMATCH', /differ in size/],
    ['a missing class', (w: number, h: number) => [['Tumour', pngBytes(w, h, 1, null)]], 400, 'MODEL_MASK_CLASSES', /no probability map for "Stroma"/],
    ['a class not in the palette', (w: number, h: number) => [['Tumour', pngBytes(w, h, 1, null)], ['Stroma', pngBytes(w, h, 1, null)], ['Cytoplasm', pngBytes(w, h, 1, null)]], 400, 'MODEL_MASK_CLASSES', /"Cytoplasm"/],
    ['maps that do not cover the slide', (w: number, h: number) => [['Tumour', pngBytes(w - 1, h, 1, null)], ['Stroma', pngBytes(w - 1, h, 1, null)]], 422, 'MODEL_MASK_SIZE_MISMATCH', /covers the whole slide/],
    ['a map that is a decompression bomb', (w: number, h: number) => [['Tumour', pngBytes(w, h, 1, null)], ['Stroma', pngBytes(20_000, 20_000, 1, null, new Uint8Array(10))]], 413, 'IMAGE_TOO_LARGE', /Stroma.*20000 × 20000/],
  ])('refuses %s, writing nothing', async (_n, make, status, code, message) => {
    const run = await newRun();
    const w = Math.ceil(W / 4);
    const h = Math.ceil(H / 4);
    const form = new FormData();
    for (const [name, bytes] of make(w, h) as Array<[string, Buffer]>) form.append(name, new Blob([new Uint8Array(bytes)], { type: 'image/png' }), `${name}.png`);
    const r = await postMask(run, `form=probability-maps&downsample=4&classes=${encodeURIComponent(JSON.stringify(['Tumour', 'Stroma']))}`, form, null);
    expect([r.status, r.body['code']], JSON.stringify(r.body)).toEqual([status, code]);
    expect(String(r.body['message'])).toMatch(message);
    expect((await call('GET', `/api/slides/${slide}/model-runs/${run}`)).body['state']).toBe('pending');
    expect((await readPack(server.url, slide, `@model:${run}`)).tiles).toEqual([]);
  });
});

describe('AI masks: bad label images', () => {
  it.each([
    ['values outside the palette', () => { const w = Math.ceil(W / D); const h = Math.ceil(H / D); const px = new Uint8Array(w * h).fill(1); px[5] = 77; return pngBytes(w, h, 1, px); }, 400, 'INVALID_MASK', /value 77/],
    ['dimensions that do not match the slide', () => pngBytes(Math.ceil(W / D) + 1, Math.ceil(H / D), 1, null), 422, 'MODEL_MASK_SIZE_MISMATCH', /at downsample 2 it is/],
    ['a decompression bomb of a few bytes', () => pngBytes(20_000, 20_000, 1, null, new Uint8Array(10)), 413, 'IMAGE_TOO_LARGE', /20000 × 20000 pixels.*MASK_IMPORT_MAX_PIXELS/],
  ])('refuses %s, writing nothing (LOAD-05)', async (_n, make, status, code, message) => {
    const run = await newRun();
    const r = await postMask(run, `downsample=${D}`, make());
    expect([r.status, r.body['code']], JSON.stringify(r.body)).toEqual([status, code]);
    expect(String(r.body['message'])).toMatch(message);
    expect((await call('GET', `/api/slides/${slide}/model-runs/${run}`)).body['state']).toBe('pending');
    expect((await readPack(server.url, slide, `@model:${run}`)).tiles).toEqual([]);
    expect((await call('GET', `/api/slides/${slide}/model-runs/${run}/mask`)).body['code']).toBe('MODEL_MASK_NOT_FOUND');
  });

  it('answers a second import into the same run while the first is still uploading with 409 MODEL_MASK_IMPORT_IN_PROGRESS', async () => {
    const run = await newRun();
    const w = Math.ceil(W / D);
    const h = Math.ceil(H / D);
    const bytes = pngBytes(w, h, 1, labelImage(w, h));
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    let sentFirstHalf: () => void = () => undefined;
    const started = new Promise<void>((r) => (sentFirstHalf = r));
    const slow = new ReadableStream<Uint8Array>({
      async start(c) {
        c.enqueue(new Uint8Array(bytes.subarray(0, bytes.length >> 1)));
        sentFirstHalf();
        await held;
        c.enqueue(new Uint8Array(bytes.subarray(bytes.length >> 1)));
        c.close();
      },
    });
    const first = postMask(run, `downsample=${D}`, slow);
    await started;
    // the second sends an image the server refuses (a value outside the palette): until the first holds the run,
    // the second is decoded and refused (400, nothing written); once the first holds it, the answer is 409
    const bad = new Uint8Array(w * h).fill(1);
    bad[0] = 77;
    const badBytes = pngBytes(w, h, 1, bad);
    let second = await postMask(run, `downsample=${D}`, badBytes);
    for (let i = 0; i < 100 && second.status === 400; i++) {
      await new Promise((r) => setTimeout(r, 50));
      second = await postMask(run, `downsample=${D}`, badBytes);
    }
    expect([second.status, second.body['code']]).toEqual([409, 'MODEL_MASK_IMPORT_IN_PROGRESS']);
    release();
    const r = await first;
    expect(r.status, JSON.stringify(r.body)).toBe(201);
  });
});

describe('AI masks in the regulatory report', () => {
  it("reports each corrected layer's pixels changed and per-class error rates, as the run's report counts them", async () => {
    const project = ((await call('POST', '/api/projects', { name: 'AI mask study' })).body['project'] as { id: string }).id;
    const added = await call('POST', `/api/projects/${project}/slides`, { slideId: slide, studyCode: 'AM-001' });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    const ps = added.body['id'] as string;
    const run = ((await call('POST', `/api/slides/${ps}/model-runs`, { model: { name: 'segnet', version: '2' } })).body['id'] as string) ?? '';
    const w = Math.ceil(W / 8);
    const h = Math.ceil(H / 8);
    const res = await fetch(`${server.url}/api/slides/${ps}/model-runs/${run}/mask?downsample=8`, { method: 'POST', headers: { 'Content-Type': 'image/png', 'Idempotency-Key': randomUUID() }, body: new Uint8Array(pngBytes(w, h, 1, labelImage(w, h))) });
    expect(res.status).toBe(201);
    expect((await call('POST', `/api/slides/${ps}/model-runs/${run}/mask/corrected`)).status).toBe(201);
    // one tile repainted as class 4
    const t0 = (await readPack(server.url, ps, USER)).tiles.find((t) => t.tx === 0 && t.ty === 0);
    expect((await postTiles(server.url, ps, USER, { ops: [{ tx: 0, ty: 0, ifMatch: t0?.version ?? 0, data: b64(zlib(new Uint8Array(T * T).fill(4))) }] })).status).toBe(200);
    const own = (await call('GET', `/api/slides/${ps}/model-runs/${run}/report`)).body['mask'] as { corrections: Array<{ slide: Confusion }> };
    const c = (own.corrections[0] as { slide: Confusion }).slide;
    const rep = await call('GET', `/api/projects/${project}/report`);
    expect(rep.status).toBe(200);
    const runs = ((rep.body['body'] as Json)['aiCorrections'] as Json)['runs'] as Array<Json>;
    const row = runs.find((r) => r['run'] === run) as Json;
    const mask = row['mask'] as { form: string; corrections: Array<{ annotator: string; pixels: number; changed: number; errorRate: Record<string, number | null> }> };
    expect(mask.form).toBe('label-image');
    expect(mask.corrections).toHaveLength(1);
    expect(mask.corrections[0]).toMatchObject({ annotator: USER, pixels: W * H, changed: c.changed });
    expect(c.changed).toBeGreaterThan(0);
    // Tumour, Stroma, Necrosis are ids 1–3 in the default palette
    expect(mask.corrections[0]?.errorRate).toEqual({ Tumour: c.perClass['1']?.errorRate, Stroma: c.perClass['2']?.errorRate, Necrosis: c.perClass['3']?.errorRate });
  });
});
