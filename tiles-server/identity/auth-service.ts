/**
 * Who is asking: sign-in with a password (and TOTP when enrolled), the
 * first admin through a one-time setup token, sessions (cookie, idle and
 * absolute limits, revocation), API and embed tokens. A resolved credential
 * is trusted for at most `cacheMs` (5 s), so a disabled account or a revoked
 * session stops working within that, even on another replica; this process
 * forgets revoked credentials at once.
 */
import { WsiError } from '../../src/core/errors.js';
import type { ApiToken, IdentityStore, Session, TokenKind, TokenScope, User } from '../store/identity-store.js';
import { adoptExistingData } from './adopt.js';
import { checkPasswordPolicy, hashPassword, verifyPassword } from './passwords.js';
import { FailureLimiter } from './rate-limit.js';
import { digest, newId, newSecret, sameDigest, SECRET_PREFIX } from './secrets.js';
import { checkTotp } from './totp.js';

export interface Principal {
  user: User;
  via: 'session' | 'api-token' | 'embed-token';
  /** Tokens may be read-only; sessions can write. */
  scope: TokenScope;
  /** SHA-256 of the session id (sessions only): the key of its audit counts and CSRF check. */
  sessionHash: string | null;
  csrfHash: string | null;
  tokenId: string | null;
}

export interface AuthOptions {
  idleMs: number;
  maxMs: number;
  cacheMs: number;
  /** Embed tokens' lifetime. */
  embedMs: number;
}

export interface SignIn {
  sessionId: string;
  csrfToken: string;
  user: User;
  expiresAt: string;
}

export const SESSION_COOKIE = 'wsi_session';

const iso = (ms: number): string => new Date(ms).toISOString();

export class AuthService {
  private readonly cache = new Map<string, { principal: Principal | null; until: number }>();
  /** Moves on whenever a credential or an account is revoked or changed here: what was remembered of it is stale. */
  generation = 0;
  readonly byAccount = new FailureLimiter({ maxFailures: 5, windowMs: 15 * 60_000, lockoutMs: 15 * 60_000 });
  readonly byAddress = new FailureLimiter({ maxFailures: 30, windowMs: 15 * 60_000, lockoutMs: 15 * 60_000 });
  private readonly touched = new Map<string, number>();

  constructor(
    readonly store: IdentityStore,
    private readonly opts: AuthOptions,
  ) {}

  // ---- users

  async createUser(input: { username: string; displayName?: string; password?: string | null; globalRole?: User['globalRole']; oidc?: { issuer: string; sub: string } }): Promise<User> {
    const username = normalizeUsername(input.username);
    if (await this.store.userByName(username)) throw new WsiError('USER_EXISTS', 'that login name is taken');
    let passwordHash: string | null = null;
    if (input.password !== undefined && input.password !== null) {
      checkPasswordPolicy(input.password, username);
      passwordHash = await hashPassword(input.password);
    }
    return this.store.createUser({
      id: newId(),
      username,
      displayName: (input.displayName ?? username).slice(0, 128),
      globalRole: input.globalRole ?? 'user',
      disabled: false,
      passwordHash,
      totpSecret: null,
      totpLastStep: 0,
      oidcIssuer: input.oidc?.issuer ?? null,
      oidcSub: input.oidc?.sub ?? null,
      legacy: false,
      createdAt: iso(Date.now()),
    });
  }

  async setPassword(userId: string, password: string): Promise<void> {
    const user = await this.store.userById(userId);
    if (!user) throw new WsiError('USER_NOT_FOUND', 'no such user');
    checkPasswordPolicy(password, user.username);
    await this.store.updateUser(userId, { passwordHash: await hashPassword(password) });
    await this.revokeUser(userId);
  }

  /** Disables an account (or enables it again); its sessions and tokens stop working. */
  async setDisabled(userId: string, disabled: boolean): Promise<void> {
    await this.store.updateUser(userId, { disabled });
    if (disabled) await this.revokeUser(userId);
    this.forgetUser(userId);
  }

  async revokeUser(userId: string): Promise<void> {
    await this.store.revokeUserSessions(userId, iso(Date.now()));
    this.forgetUser(userId);
  }

  private forgetUser(userId: string): void {
    for (const [k, v] of this.cache) if (v.principal?.user.id === userId) this.cache.delete(k);
    this.generation++;
  }

  // ---- the first admin

  /** A one-time setup token when no admin exists yet (null otherwise). */
  async setupToken(validMs = 60 * 60_000): Promise<string | null> {
    if ((await this.store.countAdmins()) > 0) return null;
    const token = newSecret();
    await this.store.createSetupToken(digest(token), iso(Date.now() + validMs));
    return token;
  }

  async completeSetup(token: string, input: { username: string; password: string; displayName?: string }): Promise<User> {
    if ((await this.store.countAdmins()) > 0) throw new WsiError('FORBIDDEN', 'setup is already done');
    // a name or password the policy refuses must not spend the one-time link
    checkPasswordPolicy(input.password, normalizeUsername(input.username));
    if (typeof token !== 'string' || !(await this.store.useSetupToken(digest(token), iso(Date.now())))) {
      throw new WsiError('FORBIDDEN', 'the setup link is invalid, used or expired; restart the server for a new one');
    }
    const admin = await this.createUser({ ...input, globalRole: 'admin' });
    await adoptExistingData(this.store, admin);
    return admin;
  }

  // ---- sign-in

  /**
   * Checks a password (and a TOTP code when the account has one) and opens
   * a session. Every failure, whatever its reason, is the same 401.
   */
  async signIn(username: string, password: string, totp: string | null, address: string): Promise<SignIn> {
    return this.openSession(await this.checkCredentials(username, password, totp, address), totp ? 'password+totp' : 'password');
  }

  /** Checks a password and TOTP code (throttled, audited by the caller) without opening a session. */
  async checkCredentials(username: string, password: string, totp: string | null, address: string): Promise<User> {
    const name = typeof username === 'string' ? username.trim().toLowerCase().slice(0, 128) : '';
    this.byAddress.check(address);
    this.byAccount.check(name);
    const user = name ? await this.store.userByName(name) : null;
    const usable = user && !user.disabled && !user.legacy ? user : null;
    const passwordOk = await verifyPassword(usable?.passwordHash ?? null, password);
    let ok = passwordOk && usable !== null;
    if (ok && usable?.totpSecret) {
      if (!totp) throw new WsiError('TOTP_REQUIRED', 'enter the code from your authenticator app');
      const step = await checkTotp(usable.totpSecret, totp, usable.totpLastStep);
      if (step === null) ok = false;
      else await this.store.updateUser(usable.id, { totpLastStep: step });
    }
    if (!ok || !usable) {
      this.byAccount.fail(name);
      this.byAddress.fail(address);
      throw new WsiError('SIGN_IN_FAILED', 'the login name or password is wrong');
    }
    this.byAccount.succeed(name);
    return usable;
  }

  /** Opens a session for a user whose identity was established (password, OIDC). */
  async openSession(user: User, method: string): Promise<SignIn> {
    const sessionId = newSecret();
    const csrfToken = newSecret();
    const now = Date.now();
    const session: Session = {
      idHash: digest(sessionId),
      userId: user.id,
      csrfHash: digest(csrfToken),
      method,
      createdAt: iso(now),
      lastSeenAt: iso(now),
      expiresAt: iso(now + this.opts.maxMs),
      revokedAt: null,
    };
    await this.store.createSession(session);
    await this.store.updateUser(user.id, { lastLoginAt: iso(now) });
    return { sessionId, csrfToken, user, expiresAt: session.expiresAt };
  }

  async signOut(sessionHash: string): Promise<void> {
    await this.store.revokeSession(sessionHash, iso(Date.now()));
    this.cache.delete(`s:${sessionHash}`);
    this.generation++;
  }

  // ---- tokens

  async createToken(user: User, input: { name: string; kind: TokenKind; scope: TokenScope; expiresInMs: number }): Promise<{ token: string; record: ApiToken }> {
    const token = newSecret(input.kind === 'embed' ? SECRET_PREFIX.embedToken : SECRET_PREFIX.apiToken);
    const now = Date.now();
    const record: ApiToken = {
      id: newId(),
      userId: user.id,
      name: input.name.slice(0, 128),
      kind: input.kind,
      scope: input.scope,
      tokenHash: digest(token),
      createdAt: iso(now),
      expiresAt: iso(now + input.expiresInMs),
      lastUsedAt: null,
      revokedAt: null,
    };
    await this.store.createToken(record);
    return { token, record };
  }

  async revokeToken(userId: string, tokenId: string, asAdmin: boolean): Promise<void> {
    const mine = await this.store.tokensOf(userId);
    if (!asAdmin && !mine.some((t) => t.id === tokenId)) throw new WsiError('NOT_FOUND', 'no such token');
    await this.store.revokeToken(tokenId, iso(Date.now()));
    for (const [k, v] of this.cache) if (v.principal?.tokenId === tokenId) this.cache.delete(k);
    this.generation++;
  }

  embedLifetimeMs(): number {
    return this.opts.embedMs;
  }

  // ---- resolving a request's credential

  /** The principal of a session cookie value, or null (unknown, revoked, expired, idle, disabled). */
  async fromSession(sessionId: string): Promise<Principal | null> {
    const idHash = digest(sessionId);
    return this.cached(`s:${idHash}`, async () => {
      const s = await this.store.sessionByHash(idHash);
      const now = Date.now();
      if (!s || s.revokedAt || Date.parse(s.expiresAt) <= now || Date.parse(s.lastSeenAt) + this.opts.idleMs <= now) return null;
      const user = await this.store.userById(s.userId);
      if (!user || user.disabled) return null;
      return { user, via: 'session', scope: 'write', sessionHash: idHash, csrfHash: s.csrfHash, tokenId: null };
    });
  }

  /** The principal of a bearer token, or null. */
  async fromToken(token: string): Promise<Principal | null> {
    if (!token.startsWith(SECRET_PREFIX.apiToken) && !token.startsWith(SECRET_PREFIX.embedToken)) return null;
    const tokenHash = digest(token);
    return this.cached(`t:${tokenHash}`, async () => {
      const t = await this.store.tokenByHash(tokenHash);
      if (!t || t.revokedAt || Date.parse(t.expiresAt) <= Date.now()) return null;
      const user = await this.store.userById(t.userId);
      if (!user || user.disabled) return null;
      return { user, via: t.kind === 'embed' ? 'embed-token' : 'api-token', scope: t.scope, sessionHash: null, csrfHash: null, tokenId: t.id };
    });
  }

  private async cached(key: string, load: () => Promise<Principal | null>): Promise<Principal | null> {
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && hit.until > now) return hit.principal;
    const principal = await load();
    this.cache.set(key, { principal, until: now + this.opts.cacheMs });
    if (this.cache.size > 50_000) this.cache.clear();
    return principal;
  }

  /** Records activity on a session or token (at most once a minute per credential: not a write per tile; never throws). */
  touch(p: Principal): void {
    const key = p.sessionHash ?? p.tokenId;
    if (!key) return;
    const now = Date.now();
    if ((this.touched.get(key) ?? 0) > now - 60_000) return;
    this.touched.set(key, now);
    // best effort: a busy or damaged store must not fail the request, nor crash the process
    try {
      const write = p.sessionHash ? this.store.touchSession(p.sessionHash, iso(now)) : this.store.touchToken(p.tokenId as string, iso(now));
      write.catch(() => undefined);
    } catch {
      // the store refused at once (busy, read-only): the next request after a minute tries again
    }
  }

  /** Whether a request's CSRF token belongs to its session. */
  csrfMatches(p: Principal, token: string | undefined): boolean {
    return !!token && !!p.csrfHash && sameDigest(digest(token), p.csrfHash);
  }
}

export function normalizeUsername(name: unknown): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$/.test(name.trim())) {
    throw new WsiError('BAD_REQUEST', 'a login name is 2–64 letters, digits, . _ @ - (starting with a letter or digit)');
  }
  return name.trim().toLowerCase();
}
