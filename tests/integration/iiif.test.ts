/**
 * IIIF as real clients use it, against the built server: CORS preflight
 * for info.json and tiles (a JSON-LD Accept header makes browsers ask first),
 * `^max` scaling up to the advertised limits, 304 for image requests whose
 * ETags hold commas, and the Presentation 3 manifest (with no file name).
 * The browser side (OpenSeadragon's IIIF source) is tests/browser/iiif.test.ts.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

const PORTAL = 'http://portal.example';
const JSON_LD = 'application/ld+json;profile="http://iiif.io/api/image/3/context.json"';
const SLIDE = 'slides/aperio-jpeg-240-x4.svs'; // 2400×1800

let server: TestServer;
let sid = '';

beforeAll(async () => {
  server = await startTestServer(FIXTURES, { CORS_ORIGINS: PORTAL });
  const { body } = await getJson<{ slides: Array<{ id: string; name: string }> }>(`${server.url}/api/slides`);
  sid = body.slides.find((s) => s.name === SLIDE)?.id ?? '';
  expect(sid).not.toBe('');
});

afterAll(async () => {
  await server?.stop();
});

function preflight(path: string, origin: string, method = 'GET', headers = 'accept'): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method: 'OPTIONS',
    headers: { Origin: origin, 'Access-Control-Request-Method': method, 'Access-Control-Request-Headers': headers },
  });
}

describe('CORS preflight', () => {
  it.each([
    ['info.json', () => `/iiif/${sid}/info.json`],
    ['an image request', () => `/iiif/${sid}/0,0,240,240/240,/0/default.jpg`],
    ['the manifest', () => `/iiif/${sid}/manifest.json`],
    ['a DZI descriptor', () => `/dzi/${sid}.dzi`],
    ['a DZI tile', () => `/dzi/${sid}_files/8/0_0.jpeg`],
    ['the slide list', () => '/api/slides'],
  ])('answers a preflight for %s from an allowed origin', async (_what, path) => {
    const res = await preflight(path(), PORTAL, 'GET', 'accept, if-none-match');
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(PORTAL);
    expect(res.headers.get('access-control-allow-methods')).toBe('GET, HEAD');
    const allowHeaders = (res.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/,\s*/);
    expect(allowHeaders).toEqual(expect.arrayContaining(['accept', 'if-none-match']));
    expect(Number(res.headers.get('access-control-max-age'))).toBeGreaterThan(0);
    expect(res.headers.get('vary')).toMatch(/Origin/);
  });

  it('then serves the JSON-LD info.json to that origin', async () => {
    const res = await fetch(`${server.url}/iiif/${sid}/info.json`, { headers: { Origin: PORTAL, Accept: JSON_LD } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(PORTAL);
    expect(res.headers.get('content-type')).toBe(JSON_LD);
    expect(((await res.json()) as { type: string }).type).toBe('ImageService3');
  });

  it('refuses a preflight from an origin CORS_ORIGINS does not list, without CORS headers', async () => {
    const res = await preflight(`/iiif/${sid}/info.json`, 'http://evil.example');
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(((await res.json()) as { code: string }).code).toBe('FORBIDDEN');
    const get = await fetch(`${server.url}/iiif/${sid}/info.json`, { headers: { Origin: 'http://evil.example' } });
    expect(get.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('keeps writes same-origin: a preflight for a POST is refused', async () => {
    const res = await preflight(`/api/slides/${sid}/annotations`, PORTAL, 'POST', 'content-type');
    expect(res.status).toBe(403);
    expect(((await res.json()) as { code: string }).code).toBe('FORBIDDEN');
  });

  it('answers a plain OPTIONS with Allow, and 404 where there is no route', async () => {
    const res = await fetch(`${server.url}/iiif/${sid}/info.json`, { method: 'OPTIONS' });
    expect(res.status).toBe(204);
    expect(res.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
    const none = await fetch(`${server.url}/iiif/${sid}/nothing/here`, { method: 'OPTIONS', headers: { Origin: PORTAL, 'Access-Control-Request-Method': 'GET' } });
    expect(none.status).toBe(404);
  });
});

describe('^max', () => {
  it('scales a region up to the advertised maxWidth (and max alone does not)', async () => {
    const { body: info } = await getJson<{ maxWidth: number; maxHeight: number; maxArea: number }>(`${server.url}/iiif/${sid}/info.json`);
    const up = await fetch(`${server.url}/iiif/${sid}/0,0,1000,10/^max/0/default.png`);
    expect(up.status).toBe(200);
    const meta = await sharp(Buffer.from(await up.arrayBuffer())).metadata();
    const scale = Math.min(info.maxWidth / 1000, info.maxHeight / 10, Math.sqrt(info.maxArea / 10_000));
    expect([meta.width, meta.height]).toEqual([Math.floor(1000 * scale), Math.floor(10 * scale)]);
    expect(meta.width).toBe(info.maxWidth);
    const plain = await fetch(`${server.url}/iiif/${sid}/0,0,1000,10/max/0/default.png`);
    const pm = await sharp(Buffer.from(await plain.arrayBuffer())).metadata();
    expect([pm.width, pm.height]).toEqual([1000, 10]);
  });
});

describe('conditional image requests', () => {
  it.each([
    ['a tile-aligned region', () => `/iiif/${sid}/240,240,240,240/240,/0/default.jpg`],
    ['a scaled region', () => `/iiif/${sid}/0,0,1000,700/500,350/0/default.png`],
    ['a percent region', () => `/iiif/${sid}/pct:10,10,20,20/max/0/gray.webp`],
    ['the thumbnail', () => `/api/slides/${sid}/thumbnail?size=128`],
  ])('%s answers 304 to its own ETag, weak or in a list', async (_what, path) => {
    const url = `${server.url}${path()}`;
    const first = await fetch(url);
    await first.arrayBuffer();
    const etag = first.headers.get('etag') as string;
    expect(etag).toMatch(/^".*"$/);
    for (const inm of [etag, `W/${etag}`, `"other", ${etag}`]) {
      const again = await fetch(url, { headers: { 'If-None-Match': inm } });
      expect(again.status, inm).toBe(304);
      expect(again.headers.get('etag')).toBe(etag);
    }
    const changed = await fetch(url, { headers: { 'If-None-Match': '"something-else"' } });
    expect(changed.status).toBe(200);
  });

  it('IIIF ETags hold commas (the case a comma split broke)', async () => {
    const res = await fetch(`${server.url}/iiif/${sid}/0,0,1000,700/500,350/0/default.png`);
    expect(res.headers.get('etag')).toContain(',');
  });
});

describe('Presentation 3 manifest', () => {
  interface Manifest {
    '@context': string;
    id: string;
    type: string;
    label: Record<string, string[]>;
    items: Array<{
      id: string;
      type: string;
      width: number;
      height: number;
      items: Array<{ type: string; items: Array<{ type: string; motivation: string; target: string; body: { id: string; type: string; width: number; height: number; service: Array<{ id: string; type: string }> } }> }>;
    }>;
  }

  it('describes one canvas painted by the slide image service, named by its id only', async () => {
    const res = await fetch(`${server.url}/iiif/${sid}/manifest.json`, { headers: { Accept: 'application/ld+json' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/ld+json;profile="http://iiif.io/api/presentation/3/context.json"');
    const text = await res.text();
    const m = JSON.parse(text) as Manifest;
    expect(m['@context']).toBe('http://iiif.io/api/presentation/3/context.json');
    expect(m.type).toBe('Manifest');
    expect(m.id).toBe(`${server.url}/iiif/${sid}/manifest.json`);
    expect(m.label).toEqual({ none: [`Slide ${sid}`] });
    const canvas = m.items[0];
    expect(canvas?.type).toBe('Canvas');
    expect([canvas?.width, canvas?.height]).toEqual([2400, 1800]);
    const anno = canvas?.items[0]?.items[0];
    expect(canvas?.items[0]?.type).toBe('AnnotationPage');
    expect(anno?.motivation).toBe('painting');
    expect(anno?.target).toBe(canvas?.id);
    expect(anno?.body.service[0]).toEqual({ id: `${server.url}/iiif/${sid}`, type: 'ImageService3', profile: 'level1' });
    // the service it names is the one info.json describes, and its body URL answers at the stated size
    const { body: info } = await getJson<{ id: string }>(`${server.url}/iiif/${sid}/info.json`);
    expect(anno?.body.service[0]?.id).toBe(info.id);
    const img = await fetch(anno?.body.id as string);
    const meta = await sharp(Buffer.from(await img.arrayBuffer())).metadata();
    expect([meta.width, meta.height]).toEqual([anno?.body.width, anno?.body.height]);
    // no file name (a possible patient identifier) anywhere in it
    expect(text).not.toContain('aperio');
    expect(text).not.toContain('.svs');
  });

  it('is 404 for an unknown slide', async () => {
    const res = await getJson<{ code: string }>(`${server.url}/iiif/0123456789abcdef01234567/manifest.json`);
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('SLIDE_NOT_FOUND');
  });
});
