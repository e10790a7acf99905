/**
 * A real OpenID provider for tests: `oidc-provider` (npm) on loopback with
 * its own login and consent pages (devInteractions: any login name is
 * accepted as the account's `sub`), RP-initiated logout, and one
 * confidential client with PKCE. `browserless` drives its pages over HTTP
 * with a cookie jar, as a browser would, for the integration tests.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

export interface TestProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  provider: Provider;
  /** Stops answering (connections refused) until `resume`: an identity provider that is down. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  close(): Promise<void>;
}

export interface ProviderOptions {
  /** Our server's callback and sign-in page (registered redirect and post-logout URIs). */
  redirectUri: string;
  postLogoutRedirectUri: string;
  /** The issuer the provider names itself by (default: its own loopback address). */
  issuerOf?: (port: number) => string;
}

/** A loopback port free now: our server's, which the provider must know (its redirect URI) before our server starts. */
export async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** People the provider knows: `sub` → claims; any other login name signs in with only its sub. */
const PEOPLE: Record<string, Record<string, string>> = {
  'ada-sub': { preferred_username: 'ada', name: 'Ada Lovelace', email: 'ada@example.org' },
  'admin-sub': { preferred_username: 'admin', name: 'Not the local admin', email: 'admin@example.org' },
};

export async function startProvider(o: ProviderOptions): Promise<TestProvider> {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end();
  const open = async (port: number): Promise<Server> => {
    const server = createServer((req, res) => handler(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return server;
  };
  let server = await open(0);
  const port = (server.address() as AddressInfo).port;
  const issuer = o.issuerOf ? o.issuerOf(port) : `http://127.0.0.1:${port}`;
  const clientId = 'wsi-annotate';
  const clientSecret = 'a-test-client-secret-of-enough-length';
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [o.redirectUri],
        post_logout_redirect_uris: [o.postLogoutRedirectUri],
        response_types: ['code'],
        grant_types: ['authorization_code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    async findAccount(_ctx, sub) {
      return { accountId: sub, claims: () => ({ sub, ...(PEOPLE[sub] ?? {}) }) };
    },
    claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email'] },
    scopes: ['openid', 'profile', 'email'],
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    pkce: { required: () => true },
    cookies: { keys: ['a-cookie-key-for-the-test-provider'] },
  });
  // its development-only warnings are not test output
  provider.on('server_error', (_ctx, err) => process.stderr.write(`test provider: ${err.message}\n`));
  handler = provider.callback();
  return {
    issuer,
    clientId,
    clientSecret,
    provider,
    async pause() {
      await close(server);
    },
    async resume() {
      server = await open(port);
    },
    async close() {
      await close(server);
    },
  };
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** A cookie jar per origin, enough for our server's and the provider's cookies. */
export class Jar {
  private readonly jars = new Map<string, Map<string, string>>();

  store(url: string, res: Response): void {
    const origin = new URL(url).origin;
    const jar = this.jars.get(origin) ?? new Map<string, string>();
    this.jars.set(origin, jar);
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = (pair ?? '').indexOf('=');
      if (eq <= 0) continue;
      const name = (pair as string).slice(0, eq).trim();
      const value = (pair as string).slice(eq + 1).trim();
      if (value === '' || /max-age=0/i.test(line) || /expires=Thu, 01 Jan 1970/i.test(line)) jar.delete(name);
      else jar.set(name, value);
    }
  }

  header(url: string): string {
    return [...(this.jars.get(new URL(url).origin) ?? new Map<string, string>())].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  get(url: string, name: string): string | null {
    return this.jars.get(new URL(url).origin)?.get(name) ?? null;
  }

  set(url: string, name: string, value: string): void {
    const origin = new URL(url).origin;
    const jar = this.jars.get(origin) ?? new Map<string, string>();
    this.jars.set(origin, jar);
    jar.set(name, value);
  }

  forget(url: string): void {
    this.jars.delete(new URL(url).origin);
  }
}

/** One request as a browser would send it (cookies from the jar, no redirect followed). */
export async function visit(jar: Jar, url: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<{ status: number; location: string | null; text: string; url: string }> {
  const headers: Record<string, string> = { Cookie: jar.header(url) };
  let body: string | undefined;
  if (init.form) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(init.form).toString();
  }
  const res = await fetch(url, { method: init.method ?? (init.form ? 'POST' : 'GET'), headers, redirect: 'manual', ...(body ? { body } : {}) });
  jar.store(url, res);
  const location = res.headers.get('location');
  return { status: res.status, location: location ? new URL(location, url).href : null, text: await res.text(), url };
}

/**
 * Follows redirects from `url` the way a browser does, filling the
 * provider's login form with `login` and confirming consent, until a page
 * of `stopAt`'s origin is reached (not requested): that URL is returned.
 */
export async function browserless(jar: Jar, url: string, stopAt: string, login: string | null): Promise<{ url: string; interactions: string[] }> {
  const stop = new URL(stopAt).origin;
  const interactions: string[] = [];
  let next = url;
  for (let hops = 0; hops < 20; hops++) {
    const r = await visit(jar, next);
    if (r.location) {
      if (new URL(r.location).origin === stop) return { url: r.location, interactions };
      next = r.location;
      continue;
    }
    if (r.status !== 200) throw new Error(`provider answered ${r.status} at ${next}: ${r.text.slice(0, 300)}`);
    const action = /<form[^>]*action="([^"]+)"/.exec(r.text)?.[1];
    const prompt = /name="prompt" value="([a-z]+)"/.exec(r.text)?.[1];
    if (!action || !prompt) throw new Error(`no interaction form at ${next}: ${r.text.slice(0, 300)}`);
    interactions.push(prompt);
    if (prompt === 'login' && login === null) throw new Error('the provider asked for a login');
    const form: Record<string, string> = prompt === 'login' ? { prompt, login: login as string, password: 'any password' } : { prompt };
    const posted = await visit(jar, new URL(action, next).href, { form });
    if (!posted.location) throw new Error(`interaction ${prompt} answered ${posted.status}: ${posted.text.slice(0, 300)}`);
    next = posted.location;
  }
  throw new Error('too many redirects');
}

/** Ends the provider's session of this jar, as its logout page's "Yes, sign me out" does; returns where it sends the browser. */
export async function providerLogout(jar: Jar, endSessionUrl: string): Promise<string | null> {
  const page = await visit(jar, endSessionUrl);
  const action = /<form id="op.logoutForm" method="post" action="([^"]+)"/.exec(page.text)?.[1];
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(page.text)?.[1];
  if (!action || !xsrf) throw new Error(`no logout form at ${endSessionUrl} (${page.status}): ${page.text.slice(0, 300)}`);
  const done = await visit(jar, new URL(action, endSessionUrl).href, { form: { xsrf, logout: 'yes' } });
  return done.location;
}
