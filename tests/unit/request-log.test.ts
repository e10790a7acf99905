/**
 * Pieces of the request log (issue 10, finding 9; DEID-10): the logged
 * path keeps only opaque ids and numbers of the matched route, and a
 * request read right after the event loop was stalled carries that stall
 * (the time its client may have waited before the server could see it).
 */
import { describe, expect, it } from 'vitest';
import { loggedPath, StallClock } from '../../tiles-server/http/request-log.js';

describe('loggedPath', () => {
  const slide = '0123456789abcdef01234567';
  const uuid = '2f1c6e0a-8d3b-4c55-9a1e-77b0c1d2e3f4';
  it('keeps opaque ids and numbers, and turns every other parameter into *', () => {
    expect(loggedPath(`/api/slides/${slide}/annotations/${uuid}`, /^\/api\/slides\/([A-Za-z0-9]{1,64})\/annotations\/([0-9a-f-]{36})$/)).toBe(`/api/slides/${slide}/annotations/${uuid}`);
    expect(loggedPath(`/api/slides/${slide}/masks/Doe_Jane/tiles/3/4/history`, /^\/api\/slides\/([A-Za-z0-9]{1,64})\/masks\/([^/]{1,200})\/tiles\/([^/]{1,12})\/([^/]{1,12})\/history$/)).toBe(
      `/api/slides/${slide}/masks/*/tiles/3/4/history`,
    );
    expect(loggedPath('/api/slides/DoeJaneMRN123', /^\/api\/slides\/([A-Za-z0-9]{1,64})$/)).toBe('/api/slides/*');
    expect(loggedPath(`/dzi/${slide}_files/12/3_4.jpeg`, /^\/dzi\/([A-Za-z0-9]{1,64})_files\/([^/]{1,20})\/([^/_]{1,20})_([^/.]{1,20})\.(jpeg|jpg)$/)).toBe(`/dzi/${slide}_files/12/3_4.*`);
    expect(loggedPath('/anything/Doe_Jane.svs', null)).toBe('(no route)');
  });
});

describe('StallClock', () => {
  it('reports a stall the loop has just come out of, and no long one on a quiet loop', async () => {
    const clock = new StallClock();
    try {
      await new Promise((r) => setTimeout(r, 100));
      // (a busy machine may delay a tick somewhat: only a long stall counts here)
      expect(clock.recent()).toBeLessThan(200);
      const until = performance.now() + 300;
      while (performance.now() < until) {
        // the event loop is stalled
      }
      // read while the timer is still overdue (as a request read in the same turn would be)
      expect(clock.recent()).toBeGreaterThanOrEqual(250);
      // and just after the timer noticed
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setTimeout(r, 0));
      expect(clock.recent()).toBeGreaterThanOrEqual(250);
      await new Promise((r) => setTimeout(r, 300));
      expect(clock.recent()).toBeLessThan(200);
    } finally {
      clock.close();
    }
  });
});
