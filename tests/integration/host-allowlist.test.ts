/**
 * DNS rebinding (issue 10, finding 6; TEST-CATALOGUE SEC-15 secure
 * defaults): a request whose Host header names another site is refused
 * with 421 HOST_NOT_ALLOWED on every kind of route, the loopback names and
 * the bound host are served with and without a port, ALLOWED_HOSTS and
 * PUBLIC_URL add names, and IIIF ids come from PUBLIC_URL (by default
 * http://HOST:PORT), never from the Host header.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../helpers/paths.js';
import { bearer } from '../helpers/accounts.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let configured: TestServer;
let slide = '';

/** A GET with a chosen Host header (fetch does not let a caller set Host). */
function getWithHost(base: string, path: string, host: string): Promise<{ status: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET', headers: { Host: host, ...bearer(base) } }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  server = await startTestServer(FIXTURES);
  configured = await startTestServer(FIXTURES, { ALLOWED_HOSTS: 'wsi.lab.internal, 10.1.2.3:9000', PUBLIC_URL: 'https://slides.example.org/wsi/' });
  const { body } = await getJson<{ slides: Array<{ id: string; name: string }> }>(`${server.url}/api/slides`);
  slide = body.slides.find((s) => s.name === 'slides/aperio-jpeg-240-x4.svs')?.id ?? '';
  expect(slide).not.toBe('');
});

afterAll(async () => {
  await server?.stop();
  await configured?.stop();
});

describe('Host allowlist (DNS rebinding)', () => {
  it('refuses another site’s Host with 421 HOST_NOT_ALLOWED on API, tile, IIIF and app routes', async () => {
    const paths = ['/api/slides', `/api/slides/${slide}/annotations`, `/dzi/${slide}.dzi`, `/iiif/${slide}/info.json`, '/api/health', '/'];
    for (const host of ['attacker.example', 'attacker.example:8080', `attacker.example:${new URL(server.url).port}`, 'localhost.attacker.example', '127.0.0.1.nip.io', 'a b']) {
      for (const p of paths) {
        const r = await getWithHost(server.url, p, host);
        expect(r.status, `${host} ${p}`).toBe(421);
        expect(JSON.parse(r.body), `${host} ${p}`).toMatchObject({ code: 'HOST_NOT_ALLOWED' });
        // the refused name is not echoed back
        expect(r.body).not.toContain('attacker');
      }
    }
  });

  it('serves the loopback names and the bound host, with and without a port', async () => {
    const port = new URL(server.url).port;
    for (const host of ['localhost', `localhost:${port}`, 'LOCALHOST:5173', '127.0.0.1', `127.0.0.1:${port}`, '[::1]', `[::1]:${port}`, 'localhost.']) {
      const r = await getWithHost(server.url, `/api/slides/${slide}/annotations`, host);
      expect(r.status, host).toBe(200);
    }
  });

  it('builds IIIF ids from the server’s own address, whatever Host says', async () => {
    const r = await getWithHost(server.url, `/iiif/${slide}/info.json`, 'localhost');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)['id']).toBe(`${server.url}/iiif/${slide}`);
  });

  it('adds ALLOWED_HOSTS and PUBLIC_URL’s host, and takes IIIF ids from PUBLIC_URL', async () => {
    const { body } = await getJson<{ slides: Array<{ id: string; name: string }> }>(`${configured.url}/api/slides`);
    const sid = body.slides.find((s) => s.name === 'slides/aperio-jpeg-240-x4.svs')?.id ?? '';
    for (const host of ['wsi.lab.internal', 'wsi.lab.internal:8443', '10.1.2.3:9000', 'slides.example.org', 'localhost']) {
      expect((await getWithHost(configured.url, '/api/slides', host)).status, host).toBe(200);
    }
    for (const host of ['10.1.2.3', '10.1.2.3:9001', 'example.org', 'attacker.example']) {
      expect((await getWithHost(configured.url, '/api/slides', host)).status, host).toBe(421);
    }
    const info = await getWithHost(configured.url, `/iiif/${sid}/info.json`, 'wsi.lab.internal');
    expect(JSON.parse(info.body)['id']).toBe(`https://slides.example.org/wsi/iiif/${sid}`);
  });

  it('refuses to start with a malformed ALLOWED_HOSTS or PUBLIC_URL', async () => {
    await expect(startTestServer(FIXTURES, { ALLOWED_HOSTS: 'http://x.org/' })).rejects.toThrow(/ALLOWED_HOSTS/);
    await expect(startTestServer(FIXTURES, { PUBLIC_URL: 'slides.example.org' })).rejects.toThrow(/PUBLIC_URL/);
  });
});
