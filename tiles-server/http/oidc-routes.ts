/**
 * OIDC sign-in routes: `start` sends the browser to the provider, and
 * `callback` (OIDC_REDIRECT_URL) brings it back signed in. Both are browser
 * navigations, so every failure is a redirect to the sign-in page with a
 * short code it explains (`/signin.html?oidc=state`), never a 500 and never
 * the provider's text. Every outcome is audited: sign-in, failure (with its
 * code), and an account made for a new identity.
 */
import type { ServerResponse } from 'node:http';
import { WsiError } from '../../src/core/errors.js';
import { OIDC_CALLBACK_PATH } from '../config.js';
import { accountForOidc } from '../identity/oidc-accounts.js';
import { OIDC_COOKIE, OidcFailure, type OidcSignIn } from '../identity/oidc-sign-in.js';
import type { AuthRoutesOptions } from './auth-routes.js';
import { setSessionCookies } from './auth-routes.js';
import { clientAddress, readCookie } from './authorize.js';
import type { Route, RouteContext } from './routes.js';

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** A page of this site to return to: a path, never `//host` or `/\host` (no open redirect). */
export function safeNext(v: string | null): string {
  return v && v.length <= 1024 && /^\/(?![/\\])/.test(v) && !/[\r\n]/.test(v) ? v : '/';
}

function pendingCookie(value: string, maxAge: number, secure: boolean): string {
  return `${OIDC_COOKIE}=${value}; HttpOnly; Path=/api/auth/oidc/; Max-Age=${maxAge}; SameSite=Lax${secure ? '; Secure' : ''}`;
}

/** Adds a cookie to those the response sets already (the session's). */
function addCookie(res: ServerResponse, cookie: string): void {
  const prev = res.getHeader('Set-Cookie');
  res.setHeader('Set-Cookie', [...(Array.isArray(prev) ? prev : typeof prev === 'string' ? [prev] : []), cookie]);
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(303, { Location: location, 'Cache-Control': 'no-store', 'Content-Length': 0 });
  res.end();
}

function configured(o: AuthRoutesOptions): OidcSignIn {
  if (!o.oidc) throw new WsiError('NOT_FOUND', 'OIDC sign-in is not configured on this server (OIDC_ISSUER and friends)');
  return o.oidc;
}

export function oidcRoutes(o: AuthRoutesOptions): Route[] {
  const ip = (ctx: RouteContext): string => clientAddress(ctx.req, o.trustProxy);
  const failed = (ctx: RouteContext, err: OidcFailure, actor: string | null = null): void => {
    // the operator needs to know of a provider that is down or not the one configured
    if (err.code === 'unreachable' || err.reason.startsWith('discovery')) o.log?.(`OIDC provider ${o.oidc?.settings.issuer ?? ''} could not be used: ${err.reason}`);
    o.audit({ actor, action: 'auth.login', outcome: 'failed', ip: ip(ctx), detail: { method: 'oidc', code: err.code, reason: err.reason } });
    redirect(ctx.res, `/signin.html?oidc=${err.code}`);
  };
  return [
    {
      method: 'GET',
      pattern: /^\/api\/auth\/oidc\/start$/,
      access: { public: 'starts an OIDC sign-in: sends the browser to the provider, grants nothing by itself' },
      handler: async (ctx) => {
        const oidc = configured(o);
        try {
          const { url, cookie } = await oidc.start(safeNext(ctx.url.searchParams.get('next')));
          addCookie(ctx.res, pendingCookie(cookie, 600, o.secureCookies));
          redirect(ctx.res, url);
        } catch (err) {
          if (!(err instanceof OidcFailure)) throw err;
          failed(ctx, err);
        }
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^${escape(OIDC_CALLBACK_PATH)}$`),
      access: { public: 'the OIDC callback: signs in only with a code the provider issued for this browser’s sign-in (state, PKCE, nonce)' },
      handler: async (ctx) => {
        const oidc = configured(o);
        // the sign-in in flight is over, whatever happens next
        const over = pendingCookie('', 0, o.secureCookies);
        let actor: string | null = null;
        try {
          const { identity, next } = await oidc.finish(ctx.url.searchParams, readCookie(ctx.req, OIDC_COOKIE));
          const { user, created } = await accountForOidc(o.auth, identity);
          actor = user.id;
          if (created) o.audit({ actor: user.id, action: 'user.create', target: user.id, ip: ip(ctx), detail: { globalRole: user.globalRole, via: 'oidc' } });
          if (user.disabled || user.legacy) throw new OidcFailure('disabled', 'account disabled');
          const s = await o.auth.openSession(user, 'oidc');
          setSessionCookies(ctx.res, s, o.secureCookies);
          addCookie(ctx.res, over);
          o.audit({ actor: user.id, action: 'auth.login', ip: ip(ctx), detail: { method: 'oidc', newAccount: created } });
          redirect(ctx.res, next);
        } catch (err) {
          if (!(err instanceof OidcFailure)) throw err;
          addCookie(ctx.res, over);
          failed(ctx, err, actor);
        }
      },
    },
  ];
}
