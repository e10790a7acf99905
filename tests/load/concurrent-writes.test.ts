/**
 * LOAD-04 in the small, for CI: 50 annotators making one edit a second each
 * (creates, vertex moves, deletes, every one with an Idempotency-Key and
 * If-Match) for 15 s against one server. Nothing acknowledged is lost,
 * stale or duplicated (checked against the clients' oracle), no write fails
 * for good, and SQLITE_BUSY never reaches a client. Latency is measured by
 * `npm run bench -- load`, not here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkOracle, runEditors } from '../../scripts/bench/editors.js';
import { bearer } from '../helpers/accounts.js';
import { FIXTURES } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let sid: string;

beforeAll(async () => {
  server = await startTestServer(FIXTURES);
  const { body } = await getJson<{ slides: Array<{ id: string; name: string }> }>(`${server.url}/api/slides`);
  sid = (body.slides.find((s) => s.name === 'slides/generic-deflate-256.tif') as { id: string }).id;
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

describe('concurrent annotation writes (LOAD-04)', () => {
  it('50 annotators for 15 s: every acknowledged write is on the server, none busy, none lost', async () => {
    const r = await runEditors(server.url, sid, 50, 15, 42, performance.now(), bearer(server.url));
    expect(r.writes.length).toBeGreaterThan(500);
    expect(r.failed, r.firstFailure ?? '').toBe(0);
    expect(r.storeBusy).toBe(0);
    const oracle = await checkOracle(server.url, sid, r.oracle, bearer(server.url));
    expect(oracle.checked).toBeGreaterThan(200);
    expect(oracle).toMatchObject({ lost: 0, stale: 0, unexpected: 0 });
  }, 120_000);
});
