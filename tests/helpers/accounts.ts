/**
 * Accounts for tests, on scripts/credentials.ts: the first admin made with
 * the test password, more users made by that admin, sign-in, JSON calls
 * from a cookie session, and a browser signed in. `anonymous` is the plain
 * fetch, for tests of requests without a credential.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { anonymous, browserCookies, cookiesOf, sessionHeaders, setupAdmin, type Session } from '../../scripts/credentials.js';

export { anonymous, bearer, createToken, installCredentials, sessionHeaders, setupTokenIn, type Session } from '../../scripts/credentials.js';

export const TEST_PASSWORD = 'correct horse battery staple';

export interface TestUser {
  id: string;
  username: string;
  password: string;
}

/** Creates the first admin with the setup token and the test password; returns it and its session. */
export async function setupTestAdmin(base: string, token: string, username = 'admin'): Promise<{ user: TestUser; session: Session }> {
  const { id, session } = await setupAdmin(base, token, username, TEST_PASSWORD);
  return { user: { id, username, password: TEST_PASSWORD }, session };
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

/** An admin creates a user with the test password. */
export async function createUser(base: string, admin: Session, username: string, globalRole: 'user' | 'admin' | 'auditor' = 'user'): Promise<TestUser> {
  const r = await asSession(base, admin, 'POST', '/api/admin/users', { username, password: TEST_PASSWORD, globalRole });
  if (r.status !== 201) throw new Error(`user ${username}: ${r.status} ${JSON.stringify(r.body)}`);
  return { id: (r.body['user'] as { id: string }).id, username, password: TEST_PASSWORD };
}

/** Gives a browser context (or a page's context) a server's session cookies, as signing in on the page would. */
export async function signInBrowser(target: BrowserContext | Page, server: { url: string; session: Session | null }): Promise<void> {
  const s = server.session;
  if (!s) throw new Error('the test server was started without signing in');
  const context = 'context' in target ? target.context() : target;
  await context.addCookies(browserCookies(server.url, s));
}
