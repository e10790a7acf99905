/**
 * QPTIFF through the built server: every channel listed with its name,
 * colour and biomarker (XML in UTF-8 and in real UTF-16), the fluorescence
 * composite pixel-exact against the planes the fixture was written from, at
 * every level, the `channels` selection (one channel, a subset, errors,
 * caching), brightfield served as RGB, and the associated images.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fluorescencePlanes, OPAL_CHANNELS } from '../../scripts/fixtures/qptiff.js';
import { tissueRaster } from '../../scripts/fixtures/encode.js';
import { halve } from '../../tiles-server/sample/pyramid.js';
import { FIXTURES } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

interface Channel {
  name: string;
  color: [number, number, number];
  biomarker?: string;
}

interface Detail {
  status: string;
  vendor: string;
  width: number;
  height: number;
  levels: number;
  mpp: number;
  objectivePower: number;
  channels: Channel[] | null;
  levelDimensions: Array<{ width: number; height: number }>;
  associatedImages: Array<{ kind: string; width: number; height: number }>;
  warnings: string[];
}

const SIX = 'slides/qptiff-fluorescence-6ch.qptiff';
const UTF16 = 'slides/qptiff-fluorescence-utf16.qptiff';
const BRIGHT = 'slides/qptiff-brightfield.qptiff';

let server: TestServer;
const ids = new Map<string, string>();

beforeAll(async () => {
  server = await startTestServer(FIXTURES);
  const { body } = await getJson<{ slides: Array<{ id: string; name: string }> }>(`${server.url}/api/slides`);
  for (const s of body.slides) ids.set(s.name, s.id);
});

afterAll(async () => {
  await server?.stop();
});

async function detail(name: string): Promise<Detail> {
  return (await getJson<Detail>(`${server.url}/api/slides/${ids.get(name) as string}`)).body;
}

async function png(path: string): Promise<{ status: number; raw: Buffer; width: number; height: number; etag: string | null; body: string }> {
  const res = await fetch(`${server.url}${path}`);
  const buf = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) return { status: res.status, raw: Buffer.alloc(0), width: 0, height: 0, etag: null, body: buf.toString() };
  const { data, info } = await sharp(buf).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { status: 200, raw: data, width: info.width, height: info.height, etag: res.headers.get('etag'), body: '' };
}

/** The planes of each level as the fixture wrote them (2×2 reductions of level 0). */
function levelsOf(width: number, height: number, channels: number, seed: number, count: number): Array<{ width: number; height: number; planes: Uint8Array[] }> {
  const out = [{ width, height, planes: fluorescencePlanes(width, height, channels, seed) }];
  while (out.length < count) {
    const prev = out[out.length - 1] as (typeof out)[number];
    const halves = prev.planes.map((p) => halve(p, prev.width, prev.height, 1));
    out.push({ width: halves[0]?.width as number, height: halves[0]?.height as number, planes: halves.map((h) => h.data) });
  }
  return out;
}

/** The composite the server documents: each chosen channel scaled by its colour, added, clipped. */
function composite(planes: Uint8Array[], colors: Array<[number, number, number]>, pick: number[]): Buffer {
  const n = (planes[0] as Uint8Array).length;
  const out = Buffer.alloc(n * 3);
  for (const c of pick) {
    const p = planes[c] as Uint8Array;
    const col = colors[c] as [number, number, number];
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < 3; k++) out[i * 3 + k] = Math.min(255, (out[i * 3 + k] as number) + ((((p[i] as number) * col[k] + 127) / 255) | 0));
    }
  }
  return out;
}

function differing(a: Buffer, b: Buffer): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n + Math.abs(a.length - b.length);
}

describe('QPTIFF metadata', () => {
  it('lists every channel with its name, colour and biomarker (XML written as UTF-8 and as real UTF-16)', async () => {
    for (const [name, count] of [
      [SIX, 6],
      [UTF16, 5],
    ] as const) {
      const d = await detail(name);
      expect(d.status, name).toBe('ok');
      expect(d.vendor).toBe('qptiff');
      expect(d.warnings, name).toEqual([]);
      expect(d.channels, name).toEqual(
        OPAL_CHANNELS.slice(0, count).map((c) => ({
          name: c.name,
          color: c.color.split(',').map(Number),
          ...(c.biomarker ? { biomarker: c.biomarker } : {}),
        })),
      );
    }
  });

  it('reads the pyramid from the ReducedResolution pages and the associated images from the rest', async () => {
    const d = await detail(SIX);
    expect(d.levelDimensions.map((l) => [l.width, l.height])).toEqual([
      [1024, 768],
      [512, 384],
      [256, 192],
      [128, 96],
    ]);
    expect(d.associatedImages).toEqual([
      { kind: 'thumbnail', width: 256, height: 192 },
      { kind: 'macro', width: 480, height: 160 },
      { kind: 'label', width: 200, height: 160 },
    ]);
    // MPP from the resolution tags, or from the scan profile when the tags are absent
    expect([d.mpp, d.objectivePower]).toEqual([0.5, 20]);
    const u = await detail(UTF16);
    expect([u.mpp, u.objectivePower, u.levels]).toEqual([0.325, 40, 3]);
  });

  it('opens brightfield QPTIFF as RGB with no channels', async () => {
    const d = await detail(BRIGHT);
    expect([d.status, d.vendor, d.channels, d.levels, d.mpp, d.objectivePower]).toEqual(['ok', 'qptiff', null, 3, 0.25, 40]);
  });
});

describe('QPTIFF pixels', () => {
  it('composites every channel in its colour, pixel-exact, at every level', async () => {
    const sid = ids.get(SIX) as string;
    const colors = OPAL_CHANNELS.map((c) => c.color.split(',').map(Number) as [number, number, number]);
    const levels = levelsOf(1024, 768, 6, 31, 4);
    for (const [k, level] of levels.entries()) {
      const got = await png(`/iiif/${sid}/full/${level.width},${level.height}/0/default.png`);
      expect([got.status, got.width, got.height], `level ${k} ${got.body}`).toEqual([200, level.width, level.height]);
      expect(differing(got.raw, composite(level.planes, colors, [0, 1, 2, 3, 4, 5])), `level ${k}`).toBe(0);
    }
  });

  it('shows only the chosen channels (?channels=) on IIIF, DZI and thumbnails', async () => {
    const sid = ids.get(UTF16) as string;
    const colors = OPAL_CHANNELS.map((c) => c.color.split(',').map(Number) as [number, number, number]);
    const l0 = levelsOf(700, 500, 5, 37, 1)[0] as { planes: Uint8Array[] };
    const crop = (b: Buffer, x: number, y: number, w: number, h: number): Buffer => {
      const out = Buffer.alloc(w * h * 3);
      for (let j = 0; j < h; j++) b.copy(out, j * w * 3, ((y + j) * 700 + x) * 3, ((y + j) * 700 + x + w) * 3);
      return out;
    };
    for (const pick of [[3], [0, 4], [1, 2, 3]]) {
      const got = await png(`/iiif/${sid}/100,50,300,200/300,200/0/default.png?channels=${pick.join(',')}`);
      expect(got.status, got.body).toBe(200);
      expect(differing(got.raw, crop(composite(l0.planes, colors, pick), 100, 50, 300, 200)), `channels ${pick.join(',')}`).toBe(0);
    }
    // order and repeats do not matter; all channels is the default composite
    const a = await png(`/iiif/${sid}/0,0,256,256/256,256/0/default.png?channels=4,0,4`);
    const b = await png(`/iiif/${sid}/0,0,256,256/256,256/0/default.png?channels=0,4`);
    expect(a.etag).toBe(b.etag);
    expect(differing(a.raw, b.raw)).toBe(0);
    const all = await png(`/iiif/${sid}/0,0,256,256/256,256/0/default.png?channels=0,1,2,3,4`);
    const plain = await png(`/iiif/${sid}/0,0,256,256/256,256/0/default.png`);
    expect(all.etag).toBe(plain.etag);
    expect(a.etag).not.toBe(plain.etag);
    // DZI tiles and the thumbnail take the same parameter
    const dzi = await fetch(`${server.url}/dzi/${sid}_files/10/0_0.jpeg?channels=0`);
    const dziAll = await fetch(`${server.url}/dzi/${sid}_files/10/0_0.jpeg`);
    expect([dzi.status, dziAll.status]).toEqual([200, 200]);
    expect(dzi.headers.get('etag')).not.toBe(dziAll.headers.get('etag'));
    const again = await fetch(`${server.url}/dzi/${sid}_files/10/0_0.jpeg?channels=0`, { headers: { 'If-None-Match': dzi.headers.get('etag') as string } });
    expect(again.status).toBe(304);
    const thumb = await fetch(`${server.url}/api/slides/${sid}/thumbnail?size=128&channels=0`);
    expect(thumb.status).toBe(200);
    // DAPI alone is blue: red and green only as JPEG noise
    const { data } = await sharp(Buffer.from(await thumb.arrayBuffer())).raw().toBuffer({ resolveWithObject: true });
    const mean = [0, 0, 0];
    for (let i = 0; i < data.length; i++) (mean[i % 3] as number) += (data[i] as number) / (data.length / 3);
    expect(mean[2]).toBeGreaterThan(5 * Math.max(mean[0] as number, mean[1] as number, 0.5));
  });

  it.each([
    ['a channel that does not exist', UTF16, '5'],
    ['a malformed list', UTF16, '1;2'],
    ['an empty list', UTF16, ''],
    ['a slide without channels', BRIGHT, '0'],
  ])('refuses %s with 400', async (_what, name, param) => {
    const sid = ids.get(name) as string;
    for (const path of [`/iiif/${sid}/full/128,/0/default.jpg?channels=${param}`, `/dzi/${sid}_files/8/0_0.jpeg?channels=${param}`, `/api/slides/${sid}/thumbnail?channels=${param}`]) {
      const res = await getJson<{ code: string; message: string }>(`${server.url}${path}`);
      expect(res.status, path).toBe(400);
      expect(res.body.code).toBe('BAD_REQUEST');
    }
  });

  it('serves brightfield pixels as RGB, close to the raster it was written from (JPEG q85)', async () => {
    const sid = ids.get(BRIGHT) as string;
    const got = await png(`/iiif/${sid}/200,100,400,300/400,300/0/default.png`);
    const src = tissueRaster(1200, 900, 23, 0.25);
    const ref = Buffer.alloc(400 * 300 * 3);
    for (let j = 0; j < 300; j++) ref.set(src.data.subarray(((100 + j) * 1200 + 200) * 3, ((100 + j) * 1200 + 600) * 3), j * 400 * 3);
    let sum = 0;
    for (let i = 0; i < ref.length; i++) sum += Math.abs((got.raw[i] as number) - (ref[i] as number));
    expect(sum / ref.length).toBeLessThan(8);
    const tile = await fetch(`${server.url}/dzi/${sid}_files/11/1_1.jpeg`);
    expect(tile.headers.get('x-tile-source')).toBe('passthrough');
  });
});
