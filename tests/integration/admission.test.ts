/**
 * Admission control for expensive renders (issue 10, finding 2; LOAD-05/06
 * in the small): the IIIF size limits are configurable and enforced, large
 * renders run in their own bounded lane and are refused with 503 and
 * Retry-After past its queue, and a viewer's small tiles are answered while
 * large renders are in flight.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../helpers/paths.js';
import { anonymous } from '../helpers/accounts.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let sid: string;

beforeAll(async () => {
  server = await startTestServer(FIXTURES, { IIIF_MAX_WIDTH: '3000', IIIF_MAX_HEIGHT: '3000', IIIF_MAX_AREA: String(3000 * 2000), LARGE_RENDERS: '1', LARGE_RENDER_QUEUE: '1', DECODE_WORKERS: '1' });
  const { body } = await getJson<{ slides: Array<{ id: string; name: string }> }>(`${server.url}/api/slides`);
  sid = (body.slides.find((s) => s.name === 'slides/generic-deflate-256.tif') as { id: string }).id;
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

describe('admission control', () => {
  it('advertises the configured IIIF limits and refuses requests past them with 400', async () => {
    const { body } = await getJson<{ maxWidth: number; maxHeight: number; maxArea: number }>(`${server.url}/iiif/${sid}/info.json`);
    expect(body).toMatchObject({ maxWidth: 3000, maxHeight: 3000, maxArea: 6_000_000 });
    const over = await fetch(`${server.url}/iiif/${sid}/full/^3001,/0/default.jpg`);
    expect(over.status).toBe(400);
    expect(((await over.json()) as { code: string }).code).toBe('BAD_REQUEST');
    const area = await fetch(`${server.url}/iiif/${sid}/full/^2999,2999/0/default.jpg`);
    expect(area.status).toBe(400);
  });

  it('large renders beyond their lane answer 503 with Retry-After while small tiles keep being served', async () => {
    // each output is over a megapixel (a large render); sizes differ so no cache answers them
    const large = Array.from({ length: 6 }, (_, i) =>
      fetch(`${server.url}/iiif/${sid}/full/^${2400 + i * 10},/0/default.png`).then(async (r) => ({ status: r.status, retry: r.headers.get('retry-after'), body: r.status === 200 ? null : ((await r.json()) as { code: string }), done: performance.now() })),
    );
    await new Promise((r) => setTimeout(r, 50));
    const tile = await fetch(`${server.url}/dzi/${sid}_files/9/1_1.jpeg`);
    const tileDone = performance.now();
    expect(tile.status).toBe(200);
    const results = await Promise.all(large);
    const refused = results.filter((r) => r.status === 503);
    const served = results.filter((r) => r.status === 200);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(served.length).toBeGreaterThanOrEqual(2);
    expect(results.every((r) => r.status === 200 || r.status === 503)).toBe(true);
    for (const r of refused) {
      expect(r.retry).toBe('1');
      expect(r.body?.code).toBe('OVERLOADED');
    }
    // the small tile did not wait for the large renders to finish
    expect(tileDone).toBeLessThan(Math.max(...served.map((r) => r.done)));
    const { body: health } = await getJson<{ lanes: { largeRenders: { refused: number; admitted: number } } }>(`${server.url}/api/health`);
    expect(health.lanes.largeRenders.refused).toBe(refused.length);
  });
});

describe('the image queue (LOAD-06 in the small)', () => {
  let small: TestServer;
  let id: string;

  beforeAll(async () => {
    small = await startTestServer(FIXTURES, { IMAGE_REQUESTS: '1', IMAGE_QUEUE: '1', LARGE_RENDERS: '4', DECODE_WORKERS: '1' });
    const { body } = await getJson<{ slides: Array<{ id: string; name: string }> }>(`${small.url}/api/slides`);
    id = (body.slides.find((s) => s.name === 'slides/generic-deflate-256.tif') as { id: string }).id;
  }, 120_000);

  afterAll(async () => {
    await small?.stop();
  });

  it('refuses image requests past its bound with 503 and Retry-After at once, while /api/health (never queued) answers', async () => {
    const large = fetch(`${small.url}/iiif/${id}/full/^2400,/0/default.png`);
    await new Promise((r) => setTimeout(r, 50));
    // the large render holds the only place: one tile waits, the others are refused
    const tiles = await Promise.all(
      [1, 2, 3, 4, 5].map((c) => fetch(`${small.url}/dzi/${id}_files/9/${c}_0.jpeg`).then(async (r) => ({ status: r.status, retry: r.headers.get('retry-after'), code: r.status === 503 ? ((await r.json()) as { code: string }).code : null }))),
    );
    const health = await fetch(`${small.url}/api/health`);
    expect(health.status).toBe(200);
    expect((await large).status).toBe(200);
    const refused = tiles.filter((t) => t.status === 503);
    expect(tiles.filter((t) => t.status === 200).length).toBeGreaterThanOrEqual(1);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(tiles.every((t) => t.status === 200 || t.status === 503)).toBe(true);
    for (const r of refused) {
      expect(r.retry).toBe('1');
      expect(r.code).toBe('OVERLOADED');
    }
    const { body } = await getJson<{ lanes: { requests: { refused: number; active: number; queued: number } } }>(`${small.url}/api/health`);
    expect(body.lanes.requests).toMatchObject({ refused: refused.length, active: 0, queued: 0 });
  });

  it('answers /api/health without credentials ahead of the dispatcher (up or down only), and admins get the loop counts (issue 10)', async () => {
    const large = fetch(`${small.url}/iiif/${id}/full/^2400,/0/default.png`);
    await new Promise((r) => setTimeout(r, 50));
    const probe = await anonymous(`${small.url}/api/health`);
    expect(probe.status).toBe(200);
    expect(probe.headers.get('cache-control')).toBe('no-store');
    expect(probe.headers.get('content-security-policy')).toMatch(/^default-src 'none'; /);
    expect(await probe.json()).toEqual({ ok: true });
    const head = await anonymous(`${small.url}/api/health`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    // a query string or another method takes the ordinary way
    expect((await anonymous(`${small.url}/api/health?x=1`)).status).toBe(200);
    expect((await anonymous(`${small.url}/api/health`, { method: 'POST' })).status).toBe(405);
    expect((await large).status).toBe(200);
    const { body } = await getJson<{ ok: boolean; loop: { ticks: number; stallsOver50: number; gc: Record<string, { count: number }> } }>(`${small.url}/api/health`);
    expect(body.ok).toBe(true);
    expect(body.loop.ticks).toBeGreaterThan(0);
    expect(body.loop.gc['minor']?.count).toBeGreaterThan(0);
  });
});
