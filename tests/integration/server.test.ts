/**
 * The built tiles-server against the generated fixtures: metadata, DZI and
 * IIIF geometry, pixel exactness for lossless codecs, passthrough, the
 * broken-file corpus (READ-01…19), hostile requests (READ-21) and overload.
 */
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_STATUS, type ErrorCode } from '../../src/core/errors.js';
import { dziLevelSize, dziMaxLevel } from '../../src/core/tile-grid.js';
import type { Manifest } from '../../scripts/fixtures/generate.js';
import { tissueRaster } from '../../scripts/fixtures/encode.js';
import { orientRaster } from '../../tiles-server/render/orientation.js';
import { FIXTURES } from '../helpers/paths.js';
import { bearer } from '../helpers/accounts.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

interface Listed {
  id: string;
  name: string;
  status: string;
  width: number | null;
  height: number | null;
  levels: number;
  mpp: number | null;
  objectivePower: number | null;
  vendor: string | null;
  error?: { code: string; message: string };
}

let server: TestServer;
let manifest: Manifest;
let slides: Map<string, Listed>;

const id = (name: string): string => {
  const s = slides.get(name);
  if (!s) throw new Error(`slide ${name} not listed`);
  return s.id;
};

async function fetchImage(url: string): Promise<{ status: number; raw?: Buffer; width?: number; height?: number; headers: Headers; body?: Record<string, unknown> }> {
  const res = await fetch(url);
  const buf = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) return { status: res.status, headers: res.headers, body: JSON.parse(buf.toString()) as Record<string, unknown> };
  const { data, info } = await sharp(buf).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { status: 200, raw: data, width: info.width, height: info.height, headers: res.headers };
}

function crop(r: { data: Uint8Array; width: number }, x: number, y: number, w: number, h: number): Buffer {
  const out = Buffer.alloc(w * h * 3);
  for (let j = 0; j < h; j++) out.set(r.data.subarray(((y + j) * r.width + x) * 3, ((y + j) * r.width + x + w) * 3), j * w * 3);
  return out;
}

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs((a[i] as number) - (b[i] as number));
  return s / a.length;
}

beforeAll(async () => {
  manifest = JSON.parse(await readFile(join(FIXTURES, 'manifest.json'), 'utf8')) as Manifest;
  server = await startTestServer(FIXTURES);
  const { body } = await getJson<{ slides: Listed[] }>(`${server.url}/api/slides`);
  slides = new Map(body.slides.map((s) => [s.name, s]));
});

afterAll(async () => {
  await server?.stop();
});

describe('slide list', () => {
  it('lists every generated slide with size, levels, MPP, objective and vendor', async () => {
    for (const f of manifest.valid) {
      const s = slides.get(`slides/${f.file}`);
      expect(s, f.file).toBeDefined();
      expect(s?.status, `${f.file}: ${JSON.stringify(s?.error)}`).toBe('ok');
      expect({ width: s?.width, height: s?.height, levels: s?.levels, objectivePower: s?.objectivePower, vendor: s?.vendor }, f.file).toEqual({
        width: f.expect.width,
        height: f.expect.height,
        levels: f.expect.levels,
        objectivePower: f.expect.objectivePower,
        vendor: f.expect.vendor,
      });
      if (f.expect.mpp === null) expect(s?.mpp, f.file).toBeNull();
      else expect(s?.mpp, f.file).toBeCloseTo(f.expect.mpp, 4);
    }
  });

  it('gives details: tile size, label/macro/thumbnail, orientation, channels', async () => {
    for (const f of manifest.valid) {
      const { body } = await getJson<Record<string, unknown>>(`${server.url}/api/slides/${id(`slides/${f.file}`)}`);
      expect(body['tileSize'], f.file).toBe(f.expect.tileSize);
      expect((body['associatedImages'] as Array<{ kind: string }>).map((a) => a.kind).sort(), f.file).toEqual([...f.expect.associated].sort());
      expect(body['orientation'], f.file).toBe(f.expect.orientation ?? 1);
      if (f.expect.channels) expect((body['channels'] as unknown[]).length).toBe(f.expect.channels);
    }
  });

  it('keeps file names out of ids and URLs', () => {
    for (const s of slides.values()) {
      expect(s.id).toMatch(/^[0-9a-f]{24}$/);
      expect(s.name.toLowerCase()).not.toContain(s.id);
    }
  });
});

describe('DZI', () => {
  it('describes each slide and serves the first and last tile of every level at the right size', async () => {
    for (const f of manifest.valid) {
      const sid = id(`slides/${f.file}`);
      const xml = await (await fetch(`${server.url}/dzi/${sid}.dzi`)).text();
      expect(xml).toContain(`TileSize="${f.expect.tileSize}"`);
      expect(xml).toContain(`Width="${f.expect.width}" Height="${f.expect.height}"`);
      const max = dziMaxLevel(f.expect.width, f.expect.height);
      const ts = f.expect.tileSize;
      for (let level = max; level >= 0; level--) {
        const size = dziLevelSize(f.expect.width, f.expect.height, level);
        const cols = Math.ceil(size.width / ts);
        const rows = Math.ceil(size.height / ts);
        for (const [c, r] of [
          [0, 0],
          [cols - 1, rows - 1],
        ] as const) {
          const img = await fetchImage(`${server.url}/dzi/${sid}_files/${level}/${c}_${r}.jpeg`);
          expect(img.status, `${f.file} ${level}/${c}_${r} ${JSON.stringify(img.body)}`).toBe(200);
          expect(img.width, `${f.file} level ${level}`).toBe(Math.min(ts, size.width - c * ts));
          expect(img.height, `${f.file} level ${level}`).toBe(Math.min(ts, size.height - r * ts));
        }
      }
    }
  });

  it('passes aligned stored JPEG tiles through and renders edge tiles', async () => {
    const sid = id('slides/aperio-jpeg-256-x2.svs');
    const max = dziMaxLevel(3000, 2000);
    const inner = await fetch(`${server.url}/dzi/${sid}_files/${max}/3_2.jpeg`);
    expect(inner.headers.get('x-tile-source')).toBe('passthrough');
    const bytes = Buffer.from(await inner.arrayBuffer());
    expect(bytes.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    expect((await sharp(bytes).metadata()).width).toBe(256);
    const edge = await fetch(`${server.url}/dzi/${sid}_files/${max}/11_7.jpeg`);
    expect(edge.headers.get('x-tile-source')).toBe('rendered');
    expect((await sharp(Buffer.from(await edge.arrayBuffer())).metadata()).width).toBe(3000 - 11 * 256);
  });

  it('answers with ETag and 304, and private caching', async () => {
    const sid = id('slides/generic-deflate-256.tif');
    const url = `${server.url}/dzi/${sid}_files/10/1_1.jpeg`;
    const first = await fetch(url);
    await first.arrayBuffer();
    const etag = first.headers.get('etag');
    expect(etag).toBeTruthy();
    expect(first.headers.get('cache-control')).toMatch(/^private/);
    const again = await fetch(url, { headers: { 'If-None-Match': etag as string } });
    expect(again.status).toBe(304);
  });
});

describe('pixels', () => {
  const lossless: Array<[string, number, number]> = [
    ['generic-deflate-256.tif', 1500, 1100],
    ['generic-deflate-predictor.tif', 610, 430],
    ['generic-lzw-predictor.tif', 700, 500],
    ['generic-packbits.tif', 600, 400],
    ['generic-none-bigendian.tif', 500, 300],
    ['generic-zstd.tif', 520, 380],
    ['generic-webp.tif', 520, 380],
  ];

  it.each(lossless)('%s decodes exactly (IIIF PNG at full resolution)', async (file, w, h) => {
    const raster = tissueRaster(w, h, 5, 0.5);
    const x = Math.min(200, w - 300);
    const img = await fetchImage(`${server.url}/iiif/${id(`slides/${file}`)}/${x},100,300,200/300,200/0/default.png`);
    expect(img.status).toBe(200);
    expect(Buffer.compare(img.raw as Buffer, crop(raster, x, 100, 300, 200))).toBe(0);
  });

  it('Aperio JPEG 2000 (33005, RGB, lossless) decodes exactly; 33003 (YCbCr) within the colour conversion\'s rounding', async () => {
    const raster = tissueRaster(1100, 800, 5, 0.5);
    const want = crop(raster, 300, 200, 300, 200);
    const rgb = await fetchImage(`${server.url}/iiif/${id('slides/aperio-jp2k-rgb-33005.svs')}/300,200,300,200/300,200/0/default.png`);
    expect(rgb.status).toBe(200);
    expect(Buffer.compare(rgb.raw as Buffer, want)).toBe(0);
    const ycc = await fetchImage(`${server.url}/iiif/${id('slides/aperio-jp2k-ycbcr-33003.svs')}/300,200,300,200/300,200/0/default.png`);
    expect(ycc.status).toBe(200);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs((ycc.raw as Buffer)[i] as number - (want[i] as number)));
    expect(worst).toBeLessThanOrEqual(2);
  });

  it('stripped LZW decodes exactly', async () => {
    const raster = tissueRaster(900, 700, 17, 0.5);
    const img = await fetchImage(`${server.url}/iiif/${id('slides/stripped-lzw.tif')}/100,50,400,300/max/0/default.png`);
    expect(Buffer.compare(img.raw as Buffer, crop(raster, 100, 50, 400, 300))).toBe(0);
  });

  it('applies the Orientation tag (6: rotate 90° clockwise)', async () => {
    const stored = tissueRaster(640, 400, 5, 0.5);
    const shown = orientRaster(6, stored.data, 640, 400);
    const img = await fetchImage(`${server.url}/iiif/${id('slides/orientation-6.tif')}/full/max/0/default.png`);
    expect([img.width, img.height]).toEqual([400, 640]);
    expect(Buffer.compare(img.raw as Buffer, Buffer.from(shown.data))).toBe(0);
  });

  it('composites a 3-channel OME-TIFF with its channel colours', async () => {
    // channels were cut from an RGB raster and coloured red, green and (default) blue
    const raster = tissueRaster(800, 600, 13, 0.325);
    const img = await fetchImage(`${server.url}/iiif/${id('slides/ome-3channel-subifd.ome.tif')}/0,0,512,512/512,512/0/default.png`);
    expect(meanAbsDiff(img.raw as Buffer, crop(raster, 0, 0, 512, 512))).toBeLessThan(0.01);
  });

  it('JPEG slides match their source within the error of their own JPEG (q85) encoding', async () => {
    const raster = tissueRaster(1200, 800, 9, 0.65);
    const img = await fetchImage(`${server.url}/iiif/${id('slides/ome-rgb-subifd.ome.tif')}/256,256,256,256/256,256/0/default.png`);
    expect(meanAbsDiff(img.raw as Buffer, crop(raster, 256, 256, 256, 256))).toBeLessThan(8);
  });

  it('tiles are not blank', async () => {
    const sid = id('slides/aperio-jpeg-240-x4.svs');
    const img = await fetchImage(`${server.url}/api/slides/${sid}/thumbnail?size=256`);
    const data = img.raw as Buffer;
    let min = 255;
    let max = 0;
    for (const v of data) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect(max - min).toBeGreaterThan(100);
  });
});

describe('IIIF Image API 3.0', () => {
  it('publishes info.json at level 1 with tiles and sizes', async () => {
    const sid = id('slides/aperio-jpeg-240-x4.svs');
    const { status, body } = await getJson<Record<string, unknown>>(`${server.url}/iiif/${sid}/info.json`);
    expect(status).toBe(200);
    expect(body['@context']).toBe('http://iiif.io/api/image/3/context.json');
    expect(body['type']).toBe('ImageService3');
    expect(body['profile']).toBe('level1');
    expect(body['id']).toBe(`${server.url}/iiif/${sid}`);
    expect([body['width'], body['height']]).toEqual([2400, 1800]);
    expect(body['tiles']).toEqual([{ width: 240, height: 240, scaleFactors: [1, 2, 4, 8, 16] }]);
    const redirect = await fetch(`${server.url}/iiif/${sid}`, { redirect: 'manual' });
    expect(redirect.status).toBe(303);
  });

  it.each([
    ['full/max/0/default.jpg', 2400, 1800],
    ['full/600,/0/default.jpg', 600, 450],
    ['full/,450/0/color.png', 600, 450],
    ['full/pct:10/0/gray.jpg', 240, 180],
    ['square/100,100/0/default.webp', 100, 100],
    ['0,0,480,480/240,240/0/default.jpg', 240, 240],
    ['2300,1700,500,500/!50,50/0/default.png', 50, 50],
    ['pct:50,50,50,50/300,/0/bitonal.png', 300, 225],
  ])('%s', async (path, w, h) => {
    const img = await fetchImage(`${server.url}/iiif/${id('slides/aperio-jpeg-240-x4.svs')}/${path}`);
    expect(img.status, JSON.stringify(img.body)).toBe(200);
    expect([img.width, img.height]).toEqual([w, h]);
  });

  it('a tile-aligned IIIF request is the same passthrough as DZI', async () => {
    const sid = id('slides/aperio-jpeg-240-x4.svs');
    const res = await fetch(`${server.url}/iiif/${sid}/240,240,240,240/240,/0/default.jpg`);
    expect(res.headers.get('x-tile-source')).toBe('passthrough');
    const low = await fetch(`${server.url}/iiif/${sid}/960,0,960,960/240,/0/default.jpg`);
    expect(low.headers.get('x-tile-source')).toBe('passthrough');
  });

  it.each([
    ['full/max/90/default.jpg', 400],
    ['full/max/0/default.gif', 400],
    ['full/5000,/0/default.jpg', 400],
    ['9999,0,10,10/max/0/default.jpg', 400],
    ['full/0,/0/default.jpg', 400],
    ['full/%E0%A4%A/0/default.jpg', 400],
  ])('%s -> %i', async (path, status) => {
    const res = await fetch(`${server.url}/iiif/${id('slides/aperio-jpeg-240-x4.svs')}/${path}`);
    expect(res.status).toBe(status);
    const body = (await res.json()) as { code: string; message: string };
    expect(body.code).toBe('BAD_REQUEST');
    expect(body.message).not.toMatch(/at .*\.js:\d+/);
  });
});

describe('broken files (READ corpus)', () => {
  it('every broken file gives its exact outcome and the server lives', async () => {
    for (const c of manifest.broken) {
      const label = `${c.id} ${c.name}`;
      const s = slides.get(`broken/${c.file}`);
      expect(s, label).toBeDefined();
      const sid = (s as Listed).id;
      const o = c.outcome;
      if ('open' in o) {
        expect(s?.status, label).toBe('error');
        expect(s?.error?.code, label).toBe(o.open);
        const tile = await getJson<{ code: string; message: string }>(`${server.url}/dzi/${sid}_files/0/0_0.jpeg`);
        expect(tile.status, label).toBe(ERROR_STATUS[o.open as ErrorCode]);
        expect(tile.body.code, label).toBe(o.open);
        expect(tile.body.message, label).not.toMatch(/\n\s+at /);
      } else if ('tile' in o) {
        expect(s?.status, `${label}: ${JSON.stringify(s?.error)}`).toBe('ok');
        const [l, cc, r] = o.dzi;
        const bad = await getJson<{ code: string; message: string; detail?: Record<string, unknown> }>(`${server.url}/dzi/${sid}_files/${l}/${cc}_${r}.jpeg`);
        expect(bad.status, label).toBe(422);
        expect(bad.body.code, `${label}: ${bad.body.message}`).toBe(o.tile);
        if (o.tile === 'TIFF_TRUNCATED') expect(bad.body.detail, label).toMatchObject({ level: 0, byteCount: expect.any(Number) as number });
        const [il, ic, ir] = o.intact;
        const good = await fetchImage(`${server.url}/dzi/${sid}_files/${il}/${ic}_${ir}.jpeg`);
        expect(good.status, `${label} intact tile`).toBe(200);
      } else {
        expect(s?.status, `${label}: ${JSON.stringify(s?.error)}`).toBe('ok');
        if (o.mpp !== undefined) {
          if (o.mpp === null) expect(s?.mpp, label).toBeNull();
          else expect(s?.mpp, label).toBeCloseTo(o.mpp, 4);
        }
        if (o.levels !== undefined) expect(s?.levels, label).toBe(o.levels);
        if (o.served) {
          const [l, cc, r] = o.served;
          expect((await fetchImage(`${server.url}/dzi/${sid}_files/${l}/${cc}_${r}.jpeg`)).status, label).toBe(200);
        }
        if (o.warning) {
          const { body } = await getJson<{ warnings: string[] }>(`${server.url}/api/slides/${sid}`);
          expect(body.warnings.join('\n'), label).toMatch(new RegExp(o.warning));
        }
        if (o.whiteTile) {
          const [l, cc, r] = o.whiteTile;
          const img = await fetchImage(`${server.url}/dzi/${sid}_files/${l}/${cc}_${r}.jpeg`);
          expect(img.status, label).toBe(200);
          expect((img.raw as Buffer).reduce((m, v) => Math.min(m, v), 255), label).toBeGreaterThan(245);
        }
      }
    }
    const health = await getJson<{ ok: boolean }>(`${server.url}/api/health`);
    expect(health.body.ok).toBe(true);
    const ok = await fetchImage(`${server.url}/dzi/${id('slides/generic-deflate-256.tif')}_files/11/0_0.jpeg`);
    expect(ok.status).toBe(200);
  });

  it('50 concurrent requests for a decompression bomb decode one tile each or are turned away, and healthy slides still serve (READ-23)', async () => {
    const bomb = id('broken/read-12-deflate-bomb-256mib.tif');
    const statuses = await Promise.all(Array.from({ length: 50 }, () => fetch(`${server.url}/dzi/${bomb}_files/9/0_0.jpeg`).then(async (r) => (await r.arrayBuffer(), r.status))));
    // the bomb inflates only to its tile's size (as libtiff does); past the queue bound: 503
    expect(statuses.every((st) => st === 200 || st === 503)).toBe(true);
    const healthy = await fetchImage(`${server.url}/dzi/${id('slides/generic-packbits.tif')}_files/10/1_0.jpeg`);
    expect(healthy.status).toBe(200);
  });
});

describe('hostile requests (READ-21)', () => {
  it.each([
    ['/dzi/SID_files/99/0_0.jpeg', 404, 'TILE_OUT_OF_RANGE'],
    ['/dzi/SID_files/12/9999_0.jpeg', 404, 'TILE_OUT_OF_RANGE'],
    ['/dzi/SID_files/-1/0_0.jpeg', 400, 'BAD_REQUEST'],
    ['/dzi/SID_files/1.5/0_0.jpeg', 400, 'BAD_REQUEST'],
    ['/dzi/SID_files/1e308/0_0.jpeg', 400, 'BAD_REQUEST'],
    ['/dzi/SID_files/__proto__/0_0.jpeg', 400, 'BAD_REQUEST'],
    ['/dzi/SID_files/12/0_99999999999.jpeg', 400, 'BAD_REQUEST'],
    ['/dzi/0123456789abcdef01234567_files/0/0_0.jpeg', 404, 'SLIDE_NOT_FOUND'],
    ['/api/slides/__proto__', 404, 'NOT_FOUND'],
    ['/api/slides/constructor', 404, 'SLIDE_NOT_FOUND'],
    ['/api/slides/SID/thumbnail?size=99999', 400, 'BAD_REQUEST'],
    ['/api/slides/SID/thumbnail?size=abc', 400, 'BAD_REQUEST'],
    ['/dzi/..%2F..%2Fetc%2Fpasswd', 404, 'NOT_FOUND'],
    ['/api/nothing', 404, 'NOT_FOUND'],
    [`/api/slides?x=${'a'.repeat(5000)}`, 400, 'BAD_REQUEST'],
  ])('%s -> %i %s', async (path, status, code) => {
    const res = await getJson<{ code: string }>(`${server.url}${path.replace('SID', id('slides/aperio-jpeg-256-x2.svs'))}`);
    expect(res.status).toBe(status);
    expect(res.body.code).toBe(code);
  });

  it('refuses other methods and path traversal into the app folder', async () => {
    const post = await fetch(`${server.url}/api/slides`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    const traversal = await new Promise<number>((resolve, reject) => {
      const req = request({ host: new URL(server.url).hostname, port: new URL(server.url).port, path: '/../../../../etc/passwd', method: 'GET' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect([200, 404]).toContain(traversal);
    if (traversal === 200) {
      const body = await (await fetch(`${server.url}/../../../../etc/passwd`)).text();
      expect(body).not.toContain('root:');
    }
  });

  it('a client that goes away aborts its render', async () => {
    const sid = id('slides/generic-deflate-256.tif');
    const before = (await getJson<{ tiles: { aborted: number } }>(`${server.url}/api/health`)).body.tiles.aborted;
    const u = new URL(`${server.url}/iiif/${sid}/full/^4000,/0/default.png`);
    await new Promise<void>((resolve) => {
      const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'GET', headers: bearer(server.url) });
      req.on('error', () => resolve());
      req.end();
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 30);
    });
    let aborted = before;
    for (let i = 0; i < 100 && aborted === before; i++) {
      await new Promise((r) => setTimeout(r, 50));
      aborted = (await getJson<{ tiles: { aborted: number } }>(`${server.url}/api/health`)).body.tiles.aborted;
    }
    expect(aborted).toBeGreaterThan(before);
  });
});
