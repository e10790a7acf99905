/**
 * The server's own TLS (TLS_CERT, TLS_KEY), with a self-signed certificate
 * made at test time by openssl (no key is committed): HTTPS only on the
 * port, plain HTTP refused (SEC-14), HSTS and `Secure` cookies, a network
 * bind allowed without TRUST_PROXY (SEC-15), and a missing, unreadable,
 * malformed or mismatched certificate or key stops the start with a message
 * naming the file and the fault.
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupTokenIn, TEST_PASSWORD } from '../helpers/accounts.js';
import { FIXTURES } from '../helpers/paths.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let dir = '';
let cert = '';
let key = '';
let otherKey = '';
let ca: Buffer;

function selfSigned(name: string): { cert: string; key: string } {
  const out = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', out.key, '-out', out.cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  return out;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function https(url: string, init: { method?: string; body?: unknown } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const text = init.body === undefined ? undefined : JSON.stringify(init.body);
    const req = httpsRequest(url, { method: init.method ?? 'GET', ca, headers: text ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(text);
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wsi-tls-'));
  ({ cert, key } = selfSigned('server'));
  otherKey = selfSigned('other').key;
  ca = readFileSync(cert);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('HTTPS of its own (TLS_CERT, TLS_KEY)', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(join(FIXTURES, 'slides'), { TLS_CERT: cert, TLS_KEY: key }, { signIn: false });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('serves HTTPS with HSTS, and prints https links', async () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(server.output()).toMatch(/signin\.html#setup=/);
    expect(server.output()).toContain(`${server.url}/signin.html#setup=`);
    const r = await https(`${server.url}/api/auth/status`);
    expect(r.status).toBe(200);
    expect(r.headers['strict-transport-security']).toBe('max-age=31536000');
  });

  it('sets Secure session cookies (SEC-14)', async () => {
    const token = setupTokenIn(server.output()) as string;
    const r = await https(`${server.url}/api/auth/setup`, { method: 'POST', body: { token, username: 'admin', password: TEST_PASSWORD } });
    expect(r.status, r.body).toBe(201);
    const cookies = (r.headers['set-cookie'] ?? []) as string[];
    expect(cookies.length).toBe(2);
    for (const c of cookies) expect(c).toMatch(/; Secure/);
    expect(cookies.find((c) => c.startsWith('wsi_session='))).toMatch(/HttpOnly/);
  });

  it('refuses plain HTTP on its port: no answer is given in the clear (SEC-14)', async () => {
    const port = new URL(server.url).port;
    const outcome = await new Promise<string>((resolve) => {
      const req = httpRequest(`http://127.0.0.1:${port}/api/auth/status`, (res) => resolve(`answered ${res.statusCode}`));
      req.on('error', (err: NodeJS.ErrnoException) => resolve(`refused: ${err.code}`));
      req.end();
    });
    expect(outcome).toMatch(/^refused: (ECONNRESET|EPIPE)$/);
  });

  it('may bind to the network without TRUST_PROXY (SEC-15)', async () => {
    const net = await startTestServer(join(FIXTURES, 'slides'), { TLS_CERT: cert, TLS_KEY: key, HOST: '0.0.0.0', PUBLIC_URL: 'https://127.0.0.1' }, { signIn: false });
    try {
      expect(net.url).toMatch(/^https:/);
      const r = await https(`https://127.0.0.1:${new URL(net.url).port}/api/auth/status`);
      expect(r.status).toBe(200);
    } finally {
      await net.stop();
    }
  });
});

describe('a bad certificate or key stops the start with a clear message', () => {
  const refused = (env: Record<string, string>): Promise<TestServer> => startTestServer(join(FIXTURES, 'slides'), env, { signIn: false });

  it('only one of the two', async () => {
    await expect(refused({ TLS_CERT: cert })).rejects.toThrow(/TLS needs both TLS_CERT and TLS_KEY/);
    await expect(refused({ TLS_KEY: key })).rejects.toThrow(/TLS needs both TLS_CERT and TLS_KEY/);
  });

  it('a missing file', async () => {
    await expect(refused({ TLS_CERT: join(dir, 'absent.crt'), TLS_KEY: key })).rejects.toThrow(/TLS_CERT=.*absent\.crt does not exist/);
    await expect(refused({ TLS_CERT: cert, TLS_KEY: join(dir, 'absent.key') })).rejects.toThrow(/TLS_KEY=.*absent\.key does not exist/);
  });

  it.skipIf(process.getuid?.() === 0)('an unreadable file', async () => {
    const locked = join(dir, 'locked.key');
    await writeFile(locked, readFileSync(key));
    await chmod(locked, 0o000);
    await expect(refused({ TLS_CERT: cert, TLS_KEY: locked })).rejects.toThrow(/TLS_KEY=.*locked\.key cannot be read by this user/);
  });

  it('a folder, and a file that is not PEM', async () => {
    await expect(refused({ TLS_CERT: dir, TLS_KEY: key })).rejects.toThrow(/TLS_CERT=.* is a folder/);
    const junk = join(dir, 'junk.crt');
    await writeFile(junk, 'not a certificate\n');
    await expect(refused({ TLS_CERT: junk, TLS_KEY: key })).rejects.toThrow(/TLS_CERT=.*junk\.crt is not a PEM file/);
    const swapped = join(dir, 'swapped.crt');
    await writeFile(swapped, readFileSync(key));
    await expect(refused({ TLS_CERT: swapped, TLS_KEY: key })).rejects.toThrow(/TLS_CERT=.*swapped\.crt holds no readable certificate/);
  });

  it('a key that is not the certificate’s', async () => {
    await expect(refused({ TLS_CERT: cert, TLS_KEY: otherKey })).rejects.toThrow(/TLS_KEY=.*other\.key is not the key of the certificate in TLS_CERT=.*server\.crt/);
  });
});
