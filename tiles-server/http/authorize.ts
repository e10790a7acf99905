/**
 * Every request's identity and permission, decided before its handler
 * runs: the credential (session cookie, or a bearer API/embed token) is
 * resolved to a principal, a cookie session's state-changing request must
 * come from our own origin with its CSRF token, and the route's access rule
 * is checked — resolving the project slide or project it names. Refusals
 * are audited. Handlers receive the principal and the resolved scope and
 * never decide permissions themselves.
 *
 * A viewer's keep-alive connection sends the same credential with every
 * tile: what it resolved to (the principal, and the slide scopes asked for)
 * is remembered on the connection for at most a second, and forgotten at
 * once when the credential differs or an account, credential, membership
 * or project changes in this process. That keeps accounts' cost per tile to
 * a string comparison, and revocations still take effect within the caches'
 * 5 s plus this second.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { WsiError } from '../../src/core/errors.js';
import type { AuditEvent } from '../audit/audit-log.js';
import type { AccessService, ProjectScope, SlideScope } from '../identity/access-service.js';
import { SESSION_COOKIE, type AuthService, type Principal } from '../identity/auth-service.js';
import type { Action } from '../identity/permissions.js';
import type { GlobalRole } from '../store/identity-store.js';

/** A route's access rule. Every route has exactly one (a test walks the table, SEC-01). */
export type Access =
  /** Anyone, signed in or not; `why` says why that is safe. */
  | { public: string }
  | { signedIn: true }
  | { global: readonly GlobalRole[] }
  /** The project slide whose id is path parameter `param`, for `action`. */
  | { slide: number; action: Action }
  /** The project whose id is path parameter `param`, for `action`. */
  | { project: number; action: Action };

export interface Authorized {
  principal: Principal | null;
  slide: SlideScope | null;
  project: ProjectScope | null;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** How long a connection's resolved credential and scopes are reused. */
const REUSE_MS = 1000;

interface Remembered {
  authorization: string | undefined;
  cookie: string | undefined;
  principal: Principal | null;
  at: number;
  authGeneration: number;
  accessGeneration: number;
  /** `${project-slide id}|${action}` → its scope. */
  slides: Map<string, SlideScope>;
}

export function readCookie(req: IncomingMessage, name: string): string | null {
  const header = req.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || null;
  }
  return null;
}

export function clientAddress(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const fwd = req.headers['x-forwarded-for'];
    const first = (Array.isArray(fwd) ? fwd[0] : fwd)?.split(',')[0]?.trim();
    if (first) return first.slice(0, 64);
  }
  return (req.socket.remoteAddress ?? 'unknown').slice(0, 64);
}

export class Authorizer {
  private readonly remembered = new WeakMap<Socket, Remembered>();

  constructor(
    private readonly auth: AuthService,
    private readonly access: AccessService,
    private readonly audit: (e: AuditEvent) => void,
    /** Our own origin(s) for this request (its allowed Host, PUBLIC_URL), for the same-origin check. */
    private readonly ownOrigins: (req: IncomingMessage) => readonly string[],
    private readonly trustProxy: boolean,
  ) {}

  /** The principal of a request's credential, or null when it carries none; a bad credential is null too. */
  async identify(req: IncomingMessage): Promise<Principal | null> {
    const authz = req.headers.authorization;
    if (typeof authz === 'string' && /^Bearer\s+/i.test(authz)) {
      const p = await this.auth.fromToken(authz.replace(/^Bearer\s+/i, '').trim());
      if (!p) throw new WsiError('UNAUTHENTICATED', 'the token is unknown, expired or revoked');
      return p;
    }
    const sid = readCookie(req, SESSION_COOKIE);
    return sid ? this.auth.fromSession(sid) : null;
  }

  /** Same-origin and CSRF token for a cookie session's state-changing request. */
  private checkCsrf(req: IncomingMessage, p: Principal): void {
    if (p.via !== 'session' || SAFE_METHODS.has(req.method ?? 'GET')) return;
    const origin = req.headers.origin ?? (typeof req.headers.referer === 'string' ? safeOrigin(req.headers.referer) : undefined);
    if (!origin || !this.ownOrigins(req).includes(origin)) throw new WsiError('CSRF_FAILED', 'a change must come from this site (Origin check failed)');
    const token = req.headers['x-csrf-token'];
    if (!this.auth.csrfMatches(p, typeof token === 'string' ? token : undefined)) throw new WsiError('CSRF_FAILED', 'the CSRF token is missing or wrong; reload the page');
  }

  /** Authenticates and authorises one request against its route's rule. */
  async authorize(req: IncomingMessage, rule: Access, params: readonly string[], action: string): Promise<Authorized> {
    // only refusals need the address
    const ip = (): string => clientAddress(req, this.trustProxy);
    let memo = this.recall(req);
    if (!memo) {
      // the generations before resolving: a revocation while it runs makes what it found stale
      const generations = { auth: this.auth.generation, access: this.access.generation };
      let identified: Principal | null;
      try {
        identified = await this.identify(req);
      } catch (err) {
        this.audit({ actor: null, action: 'auth.token', outcome: 'denied', ip: ip(), detail: { route: action } });
        throw err;
      }
      memo = this.remember(req, identified, generations);
    }
    const principal = memo.principal;
    if ('public' in rule) return { principal, slide: null, project: null };
    if (!principal) throw new WsiError('UNAUTHENTICATED', 'sign in to continue');
    try {
      this.checkCsrf(req, principal);
      if ('signedIn' in rule) return { principal, slide: null, project: null };
      if ('global' in rule) {
        if (!rule.global.includes(principal.user.globalRole)) throw new WsiError('FORBIDDEN', 'your account does not have this role');
        return { principal, slide: null, project: null };
      }
      if ('slide' in rule) {
        const id = params[rule.slide];
        if (id === undefined) throw new WsiError('INTERNAL', 'route rule names a missing parameter');
        const key = `${id}|${rule.action}`;
        let scope = memo.slides.get(key);
        if (!scope) {
          const generation = this.access.generation;
          scope = await this.access.slide(principal, id, rule.action);
          // not kept if access changed while it was worked out
          if (memo.slides.size < 64 && generation === memo.accessGeneration && generation === this.access.generation) memo.slides.set(key, scope);
        }
        return { principal, slide: scope, project: null };
      }
      const id = params[rule.project];
      if (id === undefined) throw new WsiError('INTERNAL', 'route rule names a missing parameter');
      return { principal, slide: null, project: await this.access.project(principal, id, rule.action) };
    } catch (err) {
      if (err instanceof WsiError && (err.code === 'FORBIDDEN' || err.code === 'CSRF_FAILED' || err.code === 'SLIDE_NOT_FOUND' || err.code === 'NOT_FOUND')) {
        this.audit({ actor: principal.user.id, action: 'access.denied', outcome: 'denied', ip: ip(), target: params[0] ?? null, detail: { route: action, code: err.code } });
      }
      throw err;
    } finally {
      this.auth.touch(principal);
    }
  }

  /** What this request's connection resolved the same credential to within the last second, if nothing changed since. */
  private recall(req: IncomingMessage): Remembered | null {
    const m = this.remembered.get(req.socket);
    if (!m) return null;
    const fresh =
      m.authorization === req.headers.authorization &&
      m.cookie === req.headers.cookie &&
      Date.now() - m.at < REUSE_MS &&
      m.authGeneration === this.auth.generation &&
      m.accessGeneration === this.access.generation;
    return fresh ? m : null;
  }

  private remember(req: IncomingMessage, principal: Principal | null, generations: { auth: number; access: number }): Remembered {
    const m: Remembered = {
      authorization: req.headers.authorization,
      cookie: req.headers.cookie,
      principal,
      at: Date.now(),
      authGeneration: generations.auth,
      accessGeneration: generations.access,
      slides: new Map(),
    };
    this.remembered.set(req.socket, m);
    return m;
  }
}

function safeOrigin(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}
