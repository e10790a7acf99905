/**
 * The authorizer remembers what a keep-alive connection's credential
 * resolved to (for a second), so a tile costs accounts only a string
 * comparison. This checks that the memory never lends one credential's
 * rights to another request on the same connection, and that a revocation
 * takes effect on that connection at once (SEC-01, SEC-06, SEC-07).
 */
import { Agent, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asSession, createToken, createUser, signIn, type Session } from '../helpers/accounts.js';
import { FIXTURES } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let slide = '';
let adminToken = '';
let outsiderToken = '';
let admin: Session;

beforeAll(async () => {
  server = await startTestServer(`${FIXTURES}/slides`);
  admin = server.session as Session;
  await createUser(server.url, admin, 'outsider');
  outsiderToken = await createToken(server.url, await signIn(server.url, 'outsider'), 'read', 'outsider');
  adminToken = await createToken(server.url, admin, 'read', 'admin-reader');
  const { body } = await getJson<{ slides: Array<{ id: string; status: string }> }>(`${server.url}/api/slides`);
  slide = body.slides.find((s) => s.status === 'ok')?.id ?? '';
});

afterAll(async () => {
  await server?.stop();
});

/** GETs `path` on the one connection of `agent`; its status and the local port it went from. */
function get(agent: Agent, path: string, token: string | null): Promise<{ status: number; port: number }> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, agent, headers: token ? { Authorization: `Bearer ${token}` } : {} }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, port: res.socket?.localPort ?? req.socket?.localPort ?? 0 }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe("a connection's remembered credential", () => {
  it('is used only for the same credential: another token, or none, on the same connection gets its own answer', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const tile = `/dzi/${slide}_files/0/0_0.jpeg`;
      const a = await get(agent, tile, adminToken);
      const b = await get(agent, tile, outsiderToken);
      const c = await get(agent, tile, null);
      const d = await get(agent, tile, adminToken);
      expect([a.status, b.status, c.status, d.status]).toEqual([200, 404, 401, 200]);
      expect(new Set([a.port, b.port, c.port, d.port]).size, 'all four went over one connection').toBe(1);
    } finally {
      agent.destroy();
    }
  });

  it('forgets a revoked token at once on the connection that used it', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const token = await createToken(server.url, admin, 'read', 'short-lived');
      const tile = `/dzi/${slide}_files/0/0_0.jpeg`;
      expect((await get(agent, tile, token)).status).toBe(200);
      const tokens = (await asSession(server.url, admin, 'GET', '/api/auth/tokens')).body['tokens'] as Array<{ id: string; name: string }>;
      const id = tokens.find((t) => t.name === 'short-lived')?.id ?? '';
      expect((await asSession(server.url, admin, 'DELETE', `/api/auth/tokens/${id}`)).status).toBeLessThan(300);
      expect((await get(agent, tile, token)).status).toBe(401);
    } finally {
      agent.destroy();
    }
  });
});
