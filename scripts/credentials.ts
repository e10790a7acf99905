/**
 * Signing in to the tiles-server from scripts (tests and benchmarks): the
 * first admin made through the setup link a new server prints, sign-in
 * (a session cookie and its CSRF token), API tokens, and `installCredentials`,
 * which makes this process's `fetch` carry a server's API token (so clients
 * written before accounts call the API as a signed-in user). `bearer` gives
 * the same header to requests made with node:http.
 */

/** The fetch of the process, before any credential is added. */
export const anonymous: typeof fetch = globalThis.fetch.bind(globalThis);

export interface Session {
  cookie: string;
  csrf: string;
  sessionId: string;
}

/** The setup token of the link a server printed at its first start, or null. */
export function setupTokenIn(output: string): string | null {
  return /#setup=([A-Za-z0-9_-]{20,})/.exec(output)?.[1] ?? null;
}

/** Headers of a state-changing request from a cookie session on `base` (cookie, CSRF token, same origin). */
export function sessionHeaders(base: string, s: Session, extra: Record<string, string> = {}): Record<string, string> {
  return { Cookie: s.cookie, 'X-CSRF-Token': s.csrf, Origin: new URL(base).origin, ...extra };
}

export function cookiesOf(res: Response): Session {
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

/** Creates the first admin with the setup token; its user id and session. */
export async function setupAdmin(base: string, token: string, username: string, password: string): Promise<{ id: string; session: Session }> {
  const res = await anonymous(`${base}/api/auth/setup`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ token, username, password }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`setup: ${res.status} ${text}`);
  return { id: (JSON.parse(text) as { user: { id: string } }).user.id, session: cookiesOf(res) };
}

/** A new API token of a cookie session. */
export async function createToken(base: string, s: Session, scope: 'read' | 'write' = 'write', name = 'scripts'): Promise<string> {
  const res = await anonymous(`${base}/api/auth/tokens`, {
    method: 'POST',
    headers: sessionHeaders(base, s, { 'Content-Type': 'application/json' }),
    body: JSON.stringify({ name, scope, expiresInDays: 1 }),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`token: ${res.status} ${text}`);
  return (JSON.parse(text) as { token: string }).token;
}

/** The cookies a browser context needs to be signed in as `s` (for playwright's addCookies). */
export function browserCookies(base: string, s: Session): Array<{ name: string; value: string; url: string; httpOnly: boolean; sameSite: 'Lax' }> {
  return [
    { name: 'wsi_session', value: s.sessionId, url: base, httpOnly: true, sameSite: 'Lax' },
    { name: 'wsi_csrf', value: s.csrf, url: base, httpOnly: false, sameSite: 'Lax' },
  ];
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
