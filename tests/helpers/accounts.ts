/**
 * Accounts for tests: the first admin made through the one-time setup link
 * a new server prints, more users made by that admin, sign-in (a session
 * cookie with its CSRF token) and API tokens. `installCredentials` makes
 * the test process's `fetch` carry a server's API token, so tests written
 * before accounts keep calling the API as a signed-in admin; `anonymous`
 * is the plain fetch, for tests of requests without a credential.
 */
import type { BrowserContext, Page } from 'playwright-core';

/** The fetch of the process, before any credential is added. */
export const anonymous: typeof fetch = globalThis.fetch.bind(globalThis);

export const TEST_PASSWORD = 'correct horse battery staple';

export interface Session {
  cookie: string;
  csrf: string;
  sessionId: string;
}

export interface TestUser {
  id: string;
  username: string;
  password: string;
}

/** Headers of a state-changing request from a cookie session on `base` (cookie, CSRF token, same origin). */
export function sessionHeaders(base: string, s: Session, extra: Record<string, string> = {}): Record<string, string> {
  return { Cookie: s.cookie, 'X-CSRF-Token': s.csrf, Origin: new URL(base).origin, ...extra };
}

function cookiesOf(res: Response): Session {
  const jar = new Map<string, string>();
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const eq = (pair ?? '').indexOf('=');
    if (eq > 0) jar.set((pair as string).slice(0, eq), (pair as string).slice(eq + 1));
  }
  const sessionId = jar.get('wsi_session');
  const csrf = jar.get('wsi_csrf');
  if (!sessionId || !csrf) throw new Error(`no session cookies in the answer (${res.status})`);
  return { sessionId, csrf, cookie: `wsi_session=${sessionId}; wsi_csrf=${csrf}` };
}

async function expectOk(res: Response, what: string): Promise<Record<string, unknown>> {
  const text = await res.text();
  if (!res.ok) throw new Error(`${what}: ${res.status} ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
}

/** The setup token of the link a server printed at its first start, or null. */
export function setupTokenIn(output: string): string | null {
  return /#setup=([A-Za-z0-9_-]{20,})/.exec(output)?.[1] ?? null;
}

/** Creates the first admin with the setup token; returns it and its session. */
export async function setupAdmin(base: string, token: string, username = 'admin'): Promise<{ user: TestUser; session: Session }> {
  const res = await anonymous(`${base}/api/auth/setup`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ token, username, password: TEST_PASSWORD }),
  });
  const session = cookiesOf(res);
  const body = await expectOk(res, 'setup');
  return { user: { id: (body['user'] as { id: string }).id, username, password: TEST_PASSWORD }, session };
}

export async function signIn(base: string, username: string, password = TEST_PASSWORD): Promise<Session> {
  const res = await anonymous(`${base}/api/auth/session`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!res.ok) throw new Error(`sign-in of ${username}: ${res.status} ${await res.text()}`);
  return cookiesOf(res);
}

/** A JSON call from a cookie session (with the CSRF token and Origin on changes). */
export async function asSession(
  base: string,
  s: Session,
  method: string,
  path: string,
  body?: unknown,
  extra: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers = sessionHeaders(base, s, { ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...extra });
  const res = await anonymous(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed };
}

export async function createToken(base: string, s: Session, scope: 'read' | 'write' = 'write', name = 'tests'): Promise<string> {
  const r = await asSession(base, s, 'POST', '/api/auth/tokens', { name, scope, expiresInDays: 1 });
  if (r.status !== 201) throw new Error(`token: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body['token'] as string;
}

/** An admin creates a user with the test password. */
export async function createUser(base: string, admin: Session, username: string, globalRole: 'user' | 'admin' | 'auditor' = 'user'): Promise<TestUser> {
  const r = await asSession(base, admin, 'POST', '/api/admin/users', { username, password: TEST_PASSWORD, globalRole });
  if (r.status !== 201) throw new Error(`user ${username}: ${r.status} ${JSON.stringify(r.body)}`);
  return { id: (r.body['user'] as { id: string }).id, username, password: TEST_PASSWORD };
}

const tokens = new Map<string, string>();
let installed = false;

/**
 * From now on, `fetch` to `base` carries `Authorization: Bearer <token>`
 * unless the request sets its own Authorization or Cookie header.
 */
export function installCredentials(base: string, token: string): void {
  tokens.set(new URL(base).origin, token);
  if (installed) return;
  installed = true;
  globalThis.fetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    let token: string | undefined;
    try {
      token = tokens.get(new URL(url).origin);
    } catch {
      token = undefined;
    }
    if (!token) return anonymous(input, init);
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    if (!headers.has('authorization') && !headers.has('cookie')) headers.set('Authorization', `Bearer ${token}`);
    return anonymous(input, { ...init, headers });
  };
}

/** The Authorization header fetch adds for `base` (for requests made with node:http or a raw socket). */
export function bearer(base: string): Record<string, string> {
  const token = tokens.get(new URL(base).origin);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

export function forgetCredentials(base: string): void {
  tokens.delete(new URL(base).origin);
}

/** Gives a browser context (or a page's context) a server's session cookies, as signing in on the page would. */
export async function signInBrowser(target: BrowserContext | Page, server: { url: string; session: Session | null }): Promise<void> {
  const s = server.session;
  if (!s) throw new Error('the test server was started without signing in');
  const context = 'context' in target ? target.context() : target;
  await context.addCookies([
    { name: 'wsi_session', value: s.sessionId, url: server.url, httpOnly: true, sameSite: 'Lax' },
    { name: 'wsi_csrf', value: s.csrf, url: server.url, sameSite: 'Lax' },
  ]);
}
