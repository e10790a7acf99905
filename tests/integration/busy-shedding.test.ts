/**
 * Shedding on a busy event loop, end to end (issue 10; LOAD-06 in the small:
 * 503 + Retry-After past the bounds; /api/health within 50 ms needs the
 * loop to keep slack). With SHED_BUSY_PCT set low enough that a stream of
 * requests makes the server "busy", a tile that is not cached is refused
 * with 503 OVERLOADED and Retry-After, while /api/health and an annotation
 * write made meanwhile are answered (they are never shed); /api/health
 * reports the loop's business and the sheds, and once the stream stops the
 * same tile is served. The same server reads its slides synchronously from
 * the page cache (SLIDE_READ_SYNC_KB=256, which the test turns on; the folder is local), which
 * /api/health counts. Starting requests is bounded to 1 ms a turn
 * (TURN_BUDGET_MS): a crowd of API requests is answered in full, some of
 * them started in later turns.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, square } from '../helpers/annotations.js';
import { FIXTURES } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let sid: string;

beforeAll(async () => {
  // 5%: an idle server stays far below it (a few timers), eight request loops keep it above
  server = await startTestServer(FIXTURES, { SHED_BUSY_PCT: '5', MAX_LAG_MS: '0', DECODE_WORKERS: '1', SLIDE_READ_SYNC_KB: '256', TURN_BUDGET_MS: '1' });
  const { body } = await getJson<{ slides: Array<{ id: string; name: string }> }>(`${server.url}/api/slides`);
  sid = (body.slides.find((s) => s.name === 'slides/generic-deflate-256.tif') as { id: string }).id;
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

interface Health {
  eventLoop: { busy: number; shed: number; shedBusy: number; deferredStarts: number };
}

describe('slide reads from the page cache (SLIDE_READ_SYNC_KB, LOAD-06)', () => {
  it('reads a local slide folder synchronously, and /api/health counts the reads', { timeout: 30_000 }, async () => {
    // the server's own start keeps its loop over SHED_BUSY_PCT=5% for a moment: asked again until idle
    let status = 0;
    for (let i = 0; i < 30 && status !== 200; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 300));
      const tile = await fetch(`${server.url}/dzi/${sid}_files/8/0_0.jpeg`);
      await tile.arrayBuffer();
      status = tile.status;
      if (status !== 200) expect(status).toBe(503);
    }
    expect(status).toBe(200);
    const { body } = await getJson<{ slideReads: { sync: number; pool: number; slow: number; allowed: boolean } | null }>(`${server.url}/api/health`);
    expect(body.slideReads?.allowed).toBe(true);
    expect(body.slideReads?.sync).toBeGreaterThan(0);
  });
});

describe('shedding on a busy event loop (SHED_BUSY_PCT)', () => {
  it('refuses uncached tiles with 503 OVERLOADED and Retry-After while busy, never /api/health or a write, and serves again once idle', async () => {
    let stop = false;
    let healthAnswers = 0;
    let healthFailures = 0;
    const loops = Array.from({ length: 8 }, async () => {
      while (!stop) {
        const r = await fetch(`${server.url}/api/health`);
        await r.arrayBuffer();
        if (r.status === 200) healthAnswers++;
        else healthFailures++;
      }
    });
    try {
      // two windows of 500 ms over the bound, and some slack for a loaded machine
      let refused: Response | null = null;
      for (let i = 0; i < 40 && !refused; i++) {
        await new Promise((r) => setTimeout(r, 250));
        const tile = await fetch(`${server.url}/dzi/${sid}_files/9/${i % 4}_${Math.floor(i / 4) % 2}.jpeg`);
        if (tile.status === 503) refused = tile;
        else await tile.arrayBuffer();
      }
      expect(refused, 'no tile was refused while the loop was busy').not.toBeNull();
      expect(refused?.headers.get('retry-after')).toBe('1');
      const problem = (await refused?.json()) as { code: string; detail: { busy: number } };
      expect(problem.code).toBe('OVERLOADED');
      expect(problem.detail.busy).toBeGreaterThanOrEqual(0.05);
      // a write made while tiles are shed is answered
      const write = await call(server.url, 'POST', `/api/slides/${sid}/annotations`, { body: square(10, 10, 20) });
      expect(write.status).toBe(201);
      const { body } = await getJson<Health>(`${server.url}/api/health`);
      expect(body.eventLoop.shedBusy).toBeGreaterThanOrEqual(1);
      expect(body.eventLoop.busy).toBeGreaterThanOrEqual(0.05);
    } finally {
      stop = true;
      await Promise.all(loops);
    }
    expect(healthAnswers).toBeGreaterThan(0);
    expect(healthFailures).toBe(0);
    // idle again: the windows clear and the tile is served
    let served = 0;
    for (let i = 0; i < 20 && served === 0; i++) {
      await new Promise((r) => setTimeout(r, 300));
      const tile = await fetch(`${server.url}/dzi/${sid}_files/9/0_0.jpeg`);
      await tile.arrayBuffer();
      if (tile.status === 200) served++;
      else expect(tile.status).toBe(503);
    }
    expect(served).toBe(1);
  }, 60_000);
});

describe('request starts bounded per turn (TURN_BUDGET_MS)', () => {
  it('answers 200 API requests sent at once, each with its own answer, starting some in later turns', { timeout: 60_000 }, async () => {
    const before = (await getJson<Health>(`${server.url}/api/health`)).body.eventLoop.deferredStarts;
    const answers = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const r = await fetch(`${server.url}/api/slides/${sid}`);
        return { i, status: r.status, id: ((await r.json()) as { id?: string }).id };
      }),
    );
    expect(answers.filter((a) => a.status !== 200 || a.id !== sid)).toEqual([]);
    const after = (await getJson<Health>(`${server.url}/api/health`)).body.eventLoop.deferredStarts;
    expect(after).toBeGreaterThan(before);
  });
});
