/**
 * OIDC sign-in end to end against a real OpenID provider (`oidc-provider`
 * on loopback, its own login and consent pages, driven over HTTP with a
 * cookie jar): a new identity gets an account with no project, a known one
 * signs in as itself, a provider user named like the local admin does not
 * become it, a disabled account cannot sign in; state, replayed callbacks
 * and codes, a missing or wrong nonce, a wrong issuer, error= from the
 * provider and a lost cookie are refused with a redirect that names the
 * fault, never a 500; the provider down stops new sign-ins with a clear
 * message while sessions and password sign-in go on (FAULT-05); logout
 * both ways (SEC-09: our logout revokes our session and offers the
 * provider's; the provider's logout does not end ours). Every outcome is
 * in the audit log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anonymous, asSession, signIn, type Session } from '../helpers/accounts.js';
import { FIXTURES } from '../helpers/paths.js';
import { Jar, browserless, freePort, providerLogout, startProvider, visit, type TestProvider } from '../helpers/oidc-provider.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { OidcSignIn } from '../../tiles-server/identity/oidc-sign-in.js';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

let idp: TestProvider;
let server: TestServer;
let base = '';
let admin: Session;


function oidcEnv(port: number, p: TestProvider, issuer = p.issuer): Record<string, string> {
  return {
    PORT: String(port),
    OIDC_ISSUER: issuer,
    OIDC_CLIENT_ID: p.clientId,
    OIDC_CLIENT_SECRET: p.clientSecret,
    OIDC_REDIRECT_URL: `http://127.0.0.1:${port}/api/auth/oidc/callback`,
    OIDC_NAME: 'Test IdP',
  };
}

/** Starts a sign-in at our server; returns the provider URL it sends the browser to. */
async function start(jar: Jar, next?: string): Promise<string> {
  const r = await visit(jar, `${base}/api/auth/oidc/start${next ? `?next=${encodeURIComponent(next)}` : ''}`);
  expect(r.status).toBe(303);
  expect(r.location).toMatch(new RegExp(`^${idp.issuer}/`));
  return r.location as string;
}

/** A whole sign-in as `login` at the provider; returns where our callback sends the browser. */
async function signInAs(jar: Jar, login: string | null, next?: string): Promise<{ landed: string; interactions: string[] }> {
  const { url: callback, interactions } = await browserless(jar, await start(jar, next), base, login);
  const r = await visit(jar, callback);
  expect(r.status).toBe(303);
  return { landed: r.location as string, interactions };
}

const problem = (landed: string): string | null => new URL(landed).searchParams.get('oidc');

async function me(jar: Jar): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await anonymous(`${base}/api/auth/me`, { headers: { Cookie: jar.header(base) } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function auditSince(seq: number): Promise<Array<Record<string, unknown>>> {
  const r = await asSession(base, admin, 'GET', `/api/audit?after=${seq}&limit=1000`);
  expect(r.status).toBe(200);
  return r.body['records'] as Array<Record<string, unknown>>;
}

async function lastSeq(): Promise<number> {
  const rows = await auditSince(0);
  return Number(rows[rows.length - 1]?.['seq'] ?? 0);
}

function sessionOf(jar: Jar): Session {
  const sessionId = jar.get(base, 'wsi_session') as string;
  const csrf = jar.get(base, 'wsi_csrf') as string;
  return { cookie: `wsi_session=${sessionId}; wsi_csrf=${csrf}`, csrf, sessionId };
}

beforeAll(async () => {
  const port = await freePort();
  idp = await startProvider({ redirectUri: `http://127.0.0.1:${port}/api/auth/oidc/callback`, postLogoutRedirectUri: `http://127.0.0.1:${port}/signin.html` });
  // request lines on: the byte scan below reads them too
  server = await startTestServer(join(FIXTURES, 'slides'), { ...oidcEnv(port, idp), LOG_REQUESTS: '1' });
  base = server.url;
  admin = server.session as Session;
});

afterAll(async () => {
  await server?.stop();
  await idp?.close();
});

describe('OIDC sign-in against a real provider', () => {
  it('says OIDC is available, with the provider’s name', async () => {
    const s = (await (await anonymous(`${base}/api/auth/status`)).json()) as Record<string, unknown>;
    expect(s['oidc']).toBe(true);
    expect(s['oidcName']).toBe('Test IdP');
  });

  it('sends the browser to the provider with PKCE (S256), state and nonce, remembered in a sealed HttpOnly cookie', async () => {
    const jar = new Jar();
    const url = new URL(await start(jar, '/?slide=abc'));
    const q = url.searchParams;
    expect(q.get('response_type')).toBe('code');
    expect(q.get('client_id')).toBe(idp.clientId);
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(q.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get('state')).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(q.get('nonce')).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    // the page to return to stays here: nothing of ours but the redirect URI goes to the provider
    expect(url.href).not.toContain('slide');
    const sealed = jar.get(base, 'wsi_oidc') as string;
    expect(sealed.length).toBeGreaterThan(40);
    for (const v of [q.get('state'), q.get('nonce')]) expect(Buffer.from(sealed, 'base64url').toString('latin1')).not.toContain(v);
  });

  it('makes an account with no project for a new identity, signs it in and audits both', async () => {
    const before = await lastSeq();
    const jar = new Jar();
    const { landed, interactions } = await signInAs(jar, 'ada-sub', '/index.html?x=1');
    expect(interactions).toEqual(['login', 'consent']);
    expect(landed).toBe(`${base}/index.html?x=1`);
    expect(jar.get(base, 'wsi_oidc')).toBeNull();
    const m = await me(jar);
    expect(m.status).toBe(200);
    const user = m.body['user'] as Record<string, unknown>;
    expect(user).toMatchObject({ username: 'ada', displayName: 'Ada Lovelace', globalRole: 'user', oidc: true });
    expect(m.body['projects']).toEqual([]);
    const rows = await auditSince(before);
    expect(rows.find((r) => r['action'] === 'user.create' && r['user'] === user['id'])?.['detail']).toMatchObject({ via: 'oidc' });
    expect(rows.find((r) => r['action'] === 'auth.login' && r['user'] === user['id'] && r['outcome'] === 'ok')?.['detail']).toMatchObject({ method: 'oidc', newAccount: true });
  });

  it('signs a known identity in as the same account (matched by issuer and sub), without asking again while the provider session lives', async () => {
    const jar = new Jar();
    await signInAs(jar, 'ada-sub');
    const first = (await me(jar)).body['user'] as Record<string, unknown>;
    const again = await signInAs(jar, null);
    expect(again.interactions).toEqual([]);
    expect(((await me(jar)).body['user'] as Record<string, unknown>)['id']).toBe(first['id']);
    const users = (await asSession(base, admin, 'GET', '/api/admin/users')).body['users'] as Array<Record<string, unknown>>;
    expect(users.filter((u) => u['displayName'] === 'Ada Lovelace')).toHaveLength(1);
  });

  it('never signs a provider user in as the local account of the same name', async () => {
    const jar = new Jar();
    await signInAs(jar, 'admin-sub');
    const u = (await me(jar)).body['user'] as Record<string, unknown>;
    expect(u['id']).not.toBe(server.admin?.id);
    expect(u['username']).toBe('admin-2');
    expect(u['globalRole']).toBe('user');
  });

  it('refuses a disabled account, and audits the refusal', async () => {
    const jar = new Jar();
    await signInAs(jar, 'disabled-sub');
    const id = ((await me(jar)).body['user'] as Record<string, unknown>)['id'] as string;
    expect((await asSession(base, admin, 'PATCH', `/api/admin/users/${id}`, { disabled: true })).status).toBe(200);
    expect((await me(jar)).status).toBe(401);
    const before = await lastSeq();
    const fresh = new Jar();
    const { landed } = await signInAs(fresh, 'disabled-sub');
    expect(problem(landed)).toBe('disabled');
    expect(fresh.get(base, 'wsi_session')).toBeNull();
    const rows = await auditSince(before);
    expect(rows.find((r) => r['action'] === 'auth.login' && r['outcome'] === 'failed' && r['user'] === id)?.['detail']).toMatchObject({ method: 'oidc', code: 'disabled' });
  });
});

describe('bad callbacks are refused with a message, never a 500', () => {
  /** Runs a sign-in at the provider up to the callback, without calling it. */
  async function upToCallback(jar: Jar, login = 'bad-case-sub', tamper?: (u: URL) => void): Promise<URL> {
    const authUrl = new URL(await start(jar));
    tamper?.(authUrl);
    return new URL((await browserless(jar, authUrl.href, base, login)).url);
  }

  async function callback(jar: Jar, url: URL | string): Promise<string | null> {
    const r = await visit(jar, String(url));
    expect(r.status, r.text).toBe(303);
    expect(jar.get(base, 'wsi_session')).toBeNull();
    return problem(r.location as string);
  }

  it('a wrong state', async () => {
    const jar = new Jar();
    const cb = await upToCallback(jar);
    cb.searchParams.set('state', 'not-the-state-of-this-sign-in');
    expect(await callback(jar, cb)).toBe('state');
  });

  it('no sign-in in flight: no cookie, or a forged one', async () => {
    const jar = new Jar();
    const cb = await upToCallback(jar);
    const other = new Jar();
    expect(await callback(other, cb)).toBe('expired');
    other.set(base, 'wsi_oidc', Buffer.alloc(80, 7).toString('base64url'));
    expect(await callback(other, cb)).toBe('expired');
    expect(await callback(new Jar(), `${base}/api/auth/oidc/callback`)).toBe('expired');
  });

  it('a replayed callback, and a replayed code under a new sign-in', async () => {
    const jar = new Jar();
    const cb = await upToCallback(jar);
    const cookie = jar.get(base, 'wsi_oidc') as string;
    const ok = await visit(jar, cb.href);
    expect(problem(ok.location as string)).toBeNull();
    jar.forget(base);
    // the same answer again, with the same cookie (the browser's back button, or a thief of both)
    jar.set(base, 'wsi_oidc', cookie);
    expect(await callback(jar, cb)).toBe('used');
    // the code again, under a sign-in of its own: the provider refuses it
    const thief = new Jar();
    const theirs = new URL(await start(thief));
    const replay = new URL(cb.href);
    replay.searchParams.set('state', theirs.searchParams.get('state') as string);
    expect(await callback(thief, replay)).toBe('code');
  });

  it('an ID token without the nonce, or with another one', async () => {
    const missing = new Jar();
    expect(await callback(missing, await upToCallback(missing, 'bad-case-sub', (u) => u.searchParams.delete('nonce')))).toBe('invalid');
    const wrong = new Jar();
    expect(await callback(wrong, await upToCallback(wrong, 'bad-case-sub', (u) => u.searchParams.set('nonce', 'a-nonce-of-someone-else')))).toBe('invalid');
  });

  it('an answer naming another issuer', async () => {
    const jar = new Jar();
    const cb = await upToCallback(jar);
    expect(cb.searchParams.get('iss')).toBe(idp.issuer);
    cb.searchParams.set('iss', 'http://127.0.0.1:9/evil');
    expect(await callback(jar, cb)).toBe('invalid');
  });

  it('error= from the provider (the user cancelled at its page)', async () => {
    const jar = new Jar();
    const page = await visit(jar, await start(jar));
    const interaction = page.location as string;
    const aborted = await visit(jar, `${interaction}/abort`);
    const cb = new URL((await browserless(jar, aborted.location as string, base, null)).url);
    expect(cb.searchParams.get('error')).toBe('access_denied');
    expect(await callback(jar, cb)).toBe('denied');
  });

  it('a next page elsewhere is not followed (no open redirect)', async () => {
    for (const next of ['//evil.example/x', '/\\evil.example', 'https://evil.example/']) {
      const jar = new Jar();
      const { landed } = await signInAs(jar, 'ada-sub', next);
      expect(landed).toBe(`${base}/`);
    }
  });

  it('audits each refusal with its code and no provider text', async () => {
    const rows = (await auditSince(0)).filter((r) => r['action'] === 'auth.login' && r['outcome'] === 'failed');
    const codes = new Set(rows.map((r) => (r['detail'] as Record<string, unknown>)['code']));
    for (const c of ['state', 'expired', 'used', 'code', 'invalid', 'denied']) expect(codes).toContain(c);
    expect(JSON.stringify(rows)).not.toContain('End-User aborted');
    const reasons = rows.map((r) => (r['detail'] as Record<string, unknown>)['reason']);
    // the provider's refusal of a used code, and openid-client's nonce check
    expect(reasons).toContain('invalid_grant');
    expect(reasons).toContain('token: OAUTH_JWT_CLAIM_COMPARISON_FAILED');
  });
});

describe('the sealed cookie of a sign-in in flight', () => {
  it('expires after 10 minutes, opens only under the server secret that sealed it, and is never served twice', async () => {
    let now = Date.now();
    const settings = { issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret, redirectUrl: `${base}/api/auth/oidc/callback`, name: 'Test IdP' };
    const oidc = new OidcSignIn(settings, 'f'.repeat(64), () => now);
    const { url, cookie } = await oidc.start('/after');
    const cb = new URL((await browserless(new Jar(), url, base, 'ada-sub')).url);
    now += 10 * 60_000 + 1;
    await expect(oidc.finish(cb.searchParams, cookie)).rejects.toMatchObject({ code: 'expired' });
    await expect(new OidcSignIn(settings, 'e'.repeat(64)).finish(cb.searchParams, cookie)).rejects.toMatchObject({ code: 'expired' });
    now -= 60_000;
    const done = await oidc.finish(cb.searchParams, cookie);
    expect(done.next).toBe('/after');
    expect(done.identity).toMatchObject({ issuer: idp.issuer, sub: 'ada-sub' });
    await expect(oidc.finish(cb.searchParams, cookie)).rejects.toMatchObject({ code: 'used' });
  });
});

describe('a provider that is not the one configured, and no provider', () => {
  it('refuses to sign in through a provider whose metadata names another issuer, and says so in the server log', async () => {
    const port = await freePort();
    // the same provider reached by another name: its metadata says it is http://127.0.0.1:…, not http://localhost:…
    const other = await startTestServer(join(FIXTURES, 'slides'), oidcEnv(port, idp, idp.issuer.replace('127.0.0.1', 'localhost')), { signIn: false });
    try {
      const r = await visit(new Jar(), `${other.url}/api/auth/oidc/start`);
      expect(r.status).toBe(303);
      expect(problem(r.location as string)).toBe('invalid');
      expect(other.output()).toMatch(/OIDC provider http:\/\/localhost:\d+ could not be used: discovery: /);
    } finally {
      await other.stop();
    }
  });

  it('answers 404 on the OIDC routes of a server without OIDC, and says so in its status', async () => {
    const plain = await startTestServer(join(FIXTURES, 'slides'), {}, { signIn: false });
    try {
      const status = (await (await anonymous(`${plain.url}/api/auth/status`)).json()) as Record<string, unknown>;
      expect(status['oidc']).toBe(false);
      for (const path of ['/api/auth/oidc/start', '/api/auth/oidc/callback?code=x&state=y']) {
        const res = await anonymous(`${plain.url}${path}`, { redirect: 'manual' });
        expect(res.status).toBe(404);
        expect(((await res.json()) as Record<string, unknown>)['message']).toMatch(/not configured/);
      }
    } finally {
      await plain.stop();
    }
  });
});

describe('the provider down (FAULT-05)', () => {
  it('stops new sign-ins with a clear message, while sessions and password sign-in go on; OIDC works again when it is back', async () => {
    const jar = new Jar();
    await signInAs(jar, 'ada-sub');
    // a sign-in started before the outage comes back after it began
    const pending = new Jar();
    const cb = new URL((await browserless(pending, await start(pending), base, 'ada-sub')).url);
    await idp.pause();
    try {
      expect((await me(jar)).status).toBe(200);
      const r = await visit(new Jar(), `${base}/api/auth/oidc/start`);
      expect(r.status).toBe(303);
      expect(problem(r.location as string)).toBe('unreachable');
      const late = await visit(pending, cb.href);
      expect(late.status).toBe(303);
      expect(problem(late.location as string)).toBe('unreachable');
      // local accounts still sign in with their passwords: the way in while the provider is down
      expect((await signIn(base, 'admin')).sessionId).toBeTruthy();
    } finally {
      await idp.resume();
    }
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const { landed } = await signInAs(new Jar(), 'ada-sub');
    expect(problem(landed)).toBeNull();
  });
});

describe('secrets stay out of the log and the database (SEC-12)', () => {
  it('holds neither the client secret nor a sign-in code nor a sealed cookie', async () => {
    const jar = new Jar();
    const authUrl = await start(jar);
    const sealed = jar.get(base, 'wsi_oidc') as string;
    const cb = new URL((await browserless(jar, authUrl, base, 'ada-sub')).url);
    const code = cb.searchParams.get('code') as string;
    expect((await visit(jar, cb.href)).status).toBe(303);
    const files = (await readdir(server.dataDir)).filter((f) => f.startsWith('wsi.db'));
    expect(files).toContain('wsi.db');
    expect(server.output()).toMatch(/"path":"\/api\/auth\/oidc\/callback"/);
    const haystacks = [Buffer.from(server.output()), ...(await Promise.all(files.map((f) => readFile(join(server.dataDir, f)))))];
    for (const needle of [idp.clientSecret, code, sealed]) {
      for (const h of haystacks) expect(h.includes(needle)).toBe(false);
    }
  });
});

describe('logout both ways (SEC-09)', () => {
  it('the provider’s logout elsewhere does not end our session; the next sign-in asks the provider again', async () => {
    const jar = new Jar();
    await signInAs(jar, 'ada-sub');
    const end = `${idp.issuer}/session/end?client_id=${idp.clientId}`;
    await providerLogout(jar, end);
    // documented: no back-channel logout, so ours lasts until its idle or absolute timeout or our logout
    expect((await me(jar)).status).toBe(200);
    const again = await signInAs(jar, 'ada-sub');
    expect(again.interactions).toContain('login');
  });

  it('our logout revokes our session and hands the browser the provider’s logout, which ends that one too', async () => {
    const jar = new Jar();
    await signInAs(jar, 'ada-sub');
    const s = sessionOf(jar);
    const out = await asSession(base, s, 'DELETE', '/api/auth/session');
    expect(out.status).toBe(200);
    const endSessionUrl = new URL(out.body['endSessionUrl'] as string);
    expect(endSessionUrl.href.startsWith(`${idp.issuer}/session/end`)).toBe(true);
    expect(endSessionUrl.searchParams.get('client_id')).toBe(idp.clientId);
    expect(endSessionUrl.searchParams.get('post_logout_redirect_uri')).toBe(`${base}/signin.html`);
    // the server session is gone, whatever the browser does next
    expect((await anonymous(`${base}/api/auth/me`, { headers: { Cookie: s.cookie } })).status).toBe(401);
    // until the browser follows it, the provider's session lives: a sign-in needs no password (documented)
    const silent = await signInAs(jar, null);
    expect(silent.interactions).toEqual([]);
    const s2 = sessionOf(jar);
    const out2 = await asSession(base, s2, 'DELETE', '/api/auth/session');
    expect((await providerLogout(jar, out2.body['endSessionUrl'] as string))?.startsWith(`${base}/signin.html`)).toBe(true);
    const after = await signInAs(jar, 'ada-sub');
    expect(after.interactions).toContain('login');
  });

  it('a local account’s logout offers no provider logout', async () => {
    const out = await asSession(base, server.session as Session, 'DELETE', '/api/auth/session');
    expect(out.status).toBe(200);
    expect(out.body['endSessionUrl']).toBeNull();
  });
});
