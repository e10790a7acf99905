/**
 * Sign-in routes: the session (sign in, sign out, who am I), the first
 * admin's setup (one-time token, loopback only), a password change, the
 * TOTP second factor, API tokens and short-lived embed tokens for portals.
 * OIDC sign-in's own routes are in oidc-routes.ts.
 * Every attempt is audited; secrets are shown once and never logged.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { WsiError } from '../../src/core/errors.js';
import type { AuditEvent } from '../audit/audit-log.js';
import type { AccessService } from '../identity/access-service.js';
import { normalizeUsername, SESSION_COOKIE, type AuthService, type Principal, type SignIn } from '../identity/auth-service.js';
import { checkTotp, newTotpSecret, totpUri } from '../identity/totp.js';
import type { OidcSignIn } from '../identity/oidc-sign-in.js';
import type { User } from '../store/identity-store.js';
import { clientAddress } from './authorize.js';
import { readJson } from './body.js';
import { sendJson } from './respond.js';
import type { Route, RouteContext } from './routes.js';

export const CSRF_COOKIE = 'wsi_csrf';
const MAX_BODY = 64 * 1024;

export interface AuthRoutesOptions {
  auth: AuthService;
  access: AccessService;
  audit: (e: AuditEvent) => void;
  /** Cookies get `Secure` when the server is reached over TLS. */
  secureCookies: boolean;
  trustProxy: boolean;
  /** OIDC sign-in, when configured (OIDC_*). */
  oidc: OidcSignIn | null;
  /** The server's own log (operator messages such as an unreachable identity provider). */
  log?: (line: string) => void;
}

/** What a client may know about an account. */
export function publicUser(u: User): Record<string, unknown> {
  return { id: u.id, username: u.username, displayName: u.displayName, globalRole: u.globalRole, totp: u.totpSecret !== null, oidc: u.oidcIssuer !== null };
}

function field(body: unknown, name: string, max = 1024): string {
  const v = (body as Record<string, unknown> | null)?.[name];
  if (typeof v !== 'string' || v.length > max) throw new WsiError('BAD_REQUEST', `send "${name}" as a string`);
  return v;
}

function optionalField(body: unknown, name: string): string | null {
  const v = (body as Record<string, unknown> | null)?.[name];
  return typeof v === 'string' && v.length > 0 && v.length <= 64 ? v : null;
}

/** Sets the session cookie (HttpOnly) and the CSRF cookie (readable by our own scripts only). */
export function setSessionCookies(res: ServerResponse, s: SignIn, secure: boolean): void {
  const maxAge = Math.max(0, Math.floor((Date.parse(s.expiresAt) - Date.now()) / 1000));
  const flags = `Path=/; Max-Age=${maxAge}; SameSite=Lax${secure ? '; Secure' : ''}`;
  res.setHeader('Set-Cookie', [`${SESSION_COOKIE}=${s.sessionId}; HttpOnly; ${flags}`, `${CSRF_COOKIE}=${s.csrfToken}; ${flags}`]);
}

function clearSessionCookies(res: ServerResponse, secure: boolean): void {
  const flags = `Path=/; Max-Age=0; SameSite=Lax${secure ? '; Secure' : ''}`;
  res.setHeader('Set-Cookie', [`${SESSION_COOKIE}=; HttpOnly; ${flags}`, `${CSRF_COOKIE}=; ${flags}`]);
}

/**
 * Whether a request comes from the server machine itself, not through a
 * proxy on it (a proxy's requests arrive from loopback too, but carry
 * X-Forwarded-For or Forwarded).
 */
function isLoopback(req: IncomingMessage): boolean {
  const a = req.socket.remoteAddress ?? '';
  const direct = req.headers['x-forwarded-for'] === undefined && req.headers['forwarded'] === undefined;
  return direct && (a === '127.0.0.1' || a === '::1' || a === '::ffff:127.0.0.1');
}

const me = (ctx: RouteContext): Principal => {
  const p = ctx.auth.principal;
  if (!p) throw new WsiError('UNAUTHENTICATED', 'sign in to continue');
  return p;
};

export function authRoutes(o: AuthRoutesOptions): Route[] {
  const ip = (ctx: RouteContext): string => clientAddress(ctx.req, o.trustProxy);
  return [
    {
      method: 'GET',
      pattern: /^\/api\/auth\/status$/,
      access: { public: 'says only whether someone is signed in and whether setup or OIDC is available' },
      handler: async (ctx) => {
        const p = ctx.auth.principal;
        sendJson(ctx.res, 200, {
          signedIn: p !== null,
          user: p ? publicUser(p.user) : null,
          setupNeeded: (await o.auth.store.countAdmins()) === 0,
          oidc: o.oidc !== null,
          oidcName: o.oidc?.name ?? null,
        });
      },
    },
    {
      method: 'POST',
      pattern: /^\/api\/auth\/session$/,
      access: { public: 'sign-in: checks the password itself, rate-limited and audited' },
      handler: async (ctx) => {
        const body = await readJson(ctx.req, MAX_BODY, ctx.signal);
        const username = field(body, 'username', 128);
        try {
          const s = await o.auth.signIn(username, field(body, 'password'), optionalField(body, 'totp'), ip(ctx));
          setSessionCookies(ctx.res, s, o.secureCookies);
          o.audit({ actor: s.user.id, action: 'auth.login', ip: ip(ctx), detail: { method: 'password' } });
          sendJson(ctx.res, 200, { user: publicUser(s.user), expiresAt: s.expiresAt });
        } catch (err) {
          if (err instanceof WsiError && err.code !== 'TOTP_REQUIRED') {
            // nobody is known to have acted: the account the attempt names (if one exists) is its object, never
            // the name typed (it may be someone's password by mistake); the answer was the same either way
            const target = await accountNamed(o.auth, username);
            o.audit({ actor: null, action: 'auth.login', outcome: 'failed', target, ip: ip(ctx), detail: { code: err.code } });
          }
          throw err;
        }
      },
    },
    {
      method: 'DELETE',
      pattern: /^\/api\/auth\/session$/,
      access: { signedIn: true },
      handler: async (ctx) => {
        const p = me(ctx);
        if (p.sessionHash) await o.auth.signOut(p.sessionHash);
        clearSessionCookies(ctx.res, o.secureCookies);
        o.audit({ actor: p.user.id, action: 'auth.logout', ip: ip(ctx) });
        // an OIDC account's browser goes on to end its session at the provider too (SEC-09, docs/identity.md)
        const endSessionUrl = o.oidc?.isIssuer(p.user.oidcIssuer) ? await o.oidc.endSessionUrl() : null;
        sendJson(ctx.res, 200, { signedOut: true, endSessionUrl });
      },
    },
    {
      method: 'GET',
      pattern: /^\/api\/auth\/me$/,
      access: { signedIn: true },
      handler: async (ctx) => {
        const p = me(ctx);
        const projects = await o.access.projectsOf(p);
        sendJson(ctx.res, 200, {
          user: publicUser(p.user),
          via: p.via,
          scope: p.scope,
          projects: projects.map(({ project, role }) => ({ id: project.id, name: project.name, role, editingMode: project.editingMode, blind: project.blind })),
        });
      },
    },
    {
      method: 'POST',
      pattern: /^\/api\/auth\/setup$/,
      access: { public: 'creates the first admin: needs the one-time token printed at start, from loopback only' },
      handler: async (ctx) => {
        if (!isLoopback(ctx.req)) throw new WsiError('FORBIDDEN', 'setup works only from the server machine itself (loopback)');
        const body = await readJson(ctx.req, MAX_BODY, ctx.signal);
        const user = await o.auth.completeSetup(field(body, 'token'), {
          username: field(body, 'username', 128),
          password: field(body, 'password'),
          ...(optionalField(body, 'displayName') ? { displayName: optionalField(body, 'displayName') as string } : {}),
        });
        o.audit({ actor: user.id, action: 'user.create', target: user.id, ip: ip(ctx), detail: { globalRole: 'admin', via: 'setup' } });
        const s = await o.auth.openSession(user, 'setup');
        setSessionCookies(ctx.res, s, o.secureCookies);
        sendJson(ctx.res, 201, { user: publicUser(user) });
      },
    },
    {
      method: 'PUT',
      pattern: /^\/api\/auth\/password$/,
      access: { signedIn: true },
      handler: async (ctx) => {
        const p = me(ctx);
        if (p.via !== 'session') throw new WsiError('FORBIDDEN', 'change a password from a signed-in session, not with a token');
        const body = await readJson(ctx.req, MAX_BODY, ctx.signal);
        // the current password is checked as a sign-in would (throttled, same answers)
        await o.auth.checkCredentials(p.user.username, field(body, 'current'), optionalField(body, 'totp'), ip(ctx));
        await o.auth.setPassword(p.user.id, field(body, 'password'));
        const s = await o.auth.openSession(p.user, 'password');
        setSessionCookies(ctx.res, s, o.secureCookies);
        o.audit({ actor: p.user.id, action: 'auth.password', target: p.user.id, ip: ip(ctx) });
        sendJson(ctx.res, 200, { changed: true });
      },
    },
    {
      method: 'POST',
      pattern: /^\/api\/auth\/totp$/,
      access: { signedIn: true },
      handler: async (ctx) => {
        const p = me(ctx);
        if (p.via !== 'session') throw new WsiError('FORBIDDEN', 'enrol a second factor from a signed-in session');
        const body = await readJson(ctx.req, MAX_BODY, ctx.signal);
        const secret = optionalField(body, 'secret');
        const code = optionalField(body, 'code');
        if (!secret || !code) {
          // step 1: a new secret to scan; nothing is stored until a code proves it was
          const fresh = newTotpSecret();
          sendJson(ctx.res, 200, { secret: fresh, uri: totpUri(fresh, p.user.username) });
          return;
        }
        const step = await checkTotp(secret, code, 0);
        if (step === null) throw new WsiError('BAD_REQUEST', 'that code does not match; check the time on your device and try again');
        await o.auth.store.updateUser(p.user.id, { totpSecret: secret, totpLastStep: step });
        await o.auth.revokeUser(p.user.id);
        const s = await o.auth.openSession({ ...p.user, totpSecret: secret }, 'password+totp');
        setSessionCookies(ctx.res, s, o.secureCookies);
        o.audit({ actor: p.user.id, action: 'auth.totp', target: p.user.id, ip: ip(ctx), detail: { enabled: true } });
        sendJson(ctx.res, 200, { enabled: true });
      },
    },
    {
      method: 'GET',
      pattern: /^\/api\/auth\/tokens$/,
      access: { signedIn: true },
      handler: async (ctx) => {
        const p = me(ctx);
        const tokens = await o.auth.store.tokensOf(p.user.id);
        sendJson(ctx.res, 200, {
          tokens: tokens.map((t) => ({ id: t.id, name: t.name, scope: t.scope, createdAt: t.createdAt, expiresAt: t.expiresAt, lastUsedAt: t.lastUsedAt, revokedAt: t.revokedAt })),
        });
      },
    },
    {
      method: 'POST',
      pattern: /^\/api\/auth\/tokens$/,
      access: { signedIn: true },
      handler: async (ctx) => {
        const p = me(ctx);
        if (p.via !== 'session') throw new WsiError('FORBIDDEN', 'create tokens from a signed-in session');
        const body = (await readJson(ctx.req, MAX_BODY, ctx.signal)) as Record<string, unknown>;
        const name = field(body, 'name', 128);
        const scope = body['scope'] === 'write' ? 'write' : body['scope'] === 'read' ? 'read' : null;
        if (!scope) throw new WsiError('BAD_REQUEST', 'scope must be "read" or "write"');
        const days = typeof body['expiresInDays'] === 'number' ? body['expiresInDays'] : 90;
        if (!Number.isFinite(days) || days <= 0 || days > 366) throw new WsiError('BAD_REQUEST', 'expiresInDays must be between 1 and 366');
        const { token, record } = await o.auth.createToken(p.user, { name, kind: 'api', scope, expiresInMs: days * 86_400_000 });
        o.audit({ actor: p.user.id, action: 'token.create', target: record.id, ip: ip(ctx), detail: { scope } });
        sendJson(ctx.res, 201, { token, id: record.id, name: record.name, scope, expiresAt: record.expiresAt });
      },
    },
    {
      method: 'DELETE',
      pattern: /^\/api\/auth\/tokens\/([A-Za-z0-9-]{8,64})$/,
      access: { signedIn: true },
      handler: async (ctx) => {
        const p = me(ctx);
        const id = ctx.params[0] as string;
        await o.auth.revokeToken(p.user.id, id, p.user.globalRole === 'admin');
        o.audit({ actor: p.user.id, action: 'token.revoke', target: id, ip: ip(ctx) });
        sendJson(ctx.res, 200, { revoked: id });
      },
    },
    {
      method: 'POST',
      pattern: /^\/api\/auth\/embed-token$/,
      access: { signedIn: true },
      handler: async (ctx) => {
        const p = me(ctx);
        if (p.via !== 'session') throw new WsiError('FORBIDDEN', 'embed tokens are made from a signed-in session');
        const body = (await readJson(ctx.req, MAX_BODY, ctx.signal)) as Record<string, unknown>;
        const scope = body['scope'] === 'write' ? 'write' : 'read';
        const { token, record } = await o.auth.createToken(p.user, { name: 'embed', kind: 'embed', scope, expiresInMs: o.auth.embedLifetimeMs() });
        o.audit({ actor: p.user.id, action: 'token.embed', target: record.id, ip: ip(ctx), detail: { scope } });
        sendJson(ctx.res, 201, { token, expiresAt: record.expiresAt, scope });
      },
    },
  ];
}

/** The id of the account a typed login name names, or null (no such account, or not a valid name). */
async function accountNamed(auth: AuthService, typed: string): Promise<string | null> {
  try {
    return (await auth.store.userByName(normalizeUsername(typed)))?.id ?? null;
  } catch {
    return null;
  }
}
