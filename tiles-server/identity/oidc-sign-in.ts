/**
 * OpenID Connect sign-in (authorization code flow with PKCE, state and
 * nonce) through `openid-client`. The provider's metadata is fetched when
 * first needed and kept; a provider that is down makes new OIDC sign-ins
 * fail with `unreachable` (retried on the next attempt), never the server's
 * start, and never a session that exists (FAULT-05).
 *
 * What a sign-in in flight must remember (state, nonce, PKCE verifier, the
 * page to return to) travels in a short-lived cookie sealed with AES-256-GCM
 * under a key derived from the server secret, so it works across restarts
 * and replicas and holds nothing a client can read or change. A used state
 * is remembered until it expires, so a replayed callback is refused here
 * before the provider refuses its code.
 *
 * Failures are `OidcFailure`s with a short code (the sign-in page says what
 * each means); the provider's own error text never reaches a URL or a log.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import * as client from 'openid-client';
import type { OidcConfig } from '../config.js';

/** Why an OIDC sign-in failed: the sign-in page's messages are keyed by these (public/signin.js). */
export type OidcFailureCode =
  /** The provider could not be reached (or answered garbage) while signing in. */
  | 'unreachable'
  /** No sign-in in flight in this browser (no cookie, expired, or sealed by another key). */
  | 'expired'
  /** The provider came back with another state than this browser's sign-in. */
  | 'state'
  /** This sign-in's answer was used already (a replayed callback). */
  | 'used'
  /** The provider said no (error=… in the callback: access_denied, login_required, …). */
  | 'denied'
  /** The provider refused the code (replayed, expired, or not this sign-in's PKCE verifier). */
  | 'code'
  /** The provider's answer did not check out: issuer, nonce, signature, audience, … */
  | 'invalid'
  /** The account is disabled. */
  | 'disabled';

export class OidcFailure extends Error {
  constructor(
    readonly code: OidcFailureCode,
    /** A short machine reason for the audit record (never provider text). */
    readonly reason: string,
  ) {
    super(`OIDC sign-in failed: ${code} (${reason})`);
    this.name = 'OidcFailure';
  }
}

export interface OidcIdentity {
  issuer: string;
  sub: string;
  /** Claims offered for a new account's names (preferred_username, email, name). */
  claims: Record<string, unknown>;
}

interface Pending {
  /** state, nonce, PKCE verifier, page to return to, expiry (ms) */
  s: string;
  n: string;
  v: string;
  next: string;
  exp: number;
}

export const OIDC_COOKIE = 'wsi_oidc';
/** A sign-in must come back from the provider within this. */
const PENDING_MS = 10 * 60_000;
/** The provider must answer each request within this. */
const TIMEOUT_S = 10;
/** A failed metadata fetch is retried after this (not on every click). */
const RETRY_MS = 2000;

const SCOPE = 'openid profile email';
/** Claims a new account's login and display names are made from (identity/oidc-accounts.ts). */
const NAME_CLAIMS = ['preferred_username', 'email', 'name'];

const b64 = (b: Buffer): string => b.toString('base64url');

export class OidcSignIn {
  private config: client.Configuration | null = null;
  private loading: Promise<client.Configuration> | null = null;
  private failedAt = 0;
  private readonly key: Buffer;
  /** SHA-256 of used states → expiry, so a callback is served once. */
  private readonly used = new Map<string, number>();

  constructor(
    readonly settings: OidcConfig,
    serverSecret: string,
    private readonly now: () => number = Date.now,
  ) {
    this.key = Buffer.from(hkdfSync('sha256', Buffer.from(serverSecret, 'utf8'), Buffer.alloc(0), 'wsi oidc pending sign-in', 32));
  }

  /** The name on the sign-in button. */
  get name(): string {
    return this.settings.name;
  }

  /** Whether an account's issuer is this provider (issuer URLs compared as URLs: a trailing slash aside). */
  isIssuer(issuer: string | null): boolean {
    if (!issuer) return false;
    try {
      return new URL(issuer).href === new URL(this.settings.issuer).href;
    } catch {
      return false;
    }
  }

  /** Where the provider sends a browser after its logout: our sign-in page (register it at the provider). */
  get postLogoutUrl(): string {
    return `${new URL(this.settings.redirectUrl).origin}/signin.html`;
  }

  /**
   * The provider's metadata and our client. `fresh` fetches it anew (each
   * sign-in's start does: a provider that went down is said so here, not by
   * a browser error page at its address); otherwise the last one is used.
   * A failed fetch is retried after RETRY_MS, not on every click.
   */
  private async configuration(fresh = false): Promise<client.Configuration> {
    if (this.config && !fresh) return this.config;
    if (this.loading) return this.loading;
    if (this.now() - this.failedAt < RETRY_MS) throw new OidcFailure('unreachable', 'discovery failed moments ago');
    const issuer = new URL(this.settings.issuer);
    // plain http only for a loopback issuer (config.ts refuses any other)
    const execute = issuer.protocol === 'http:' ? [client.allowInsecureRequests] : [];
    this.loading = client
      .discovery(issuer, this.settings.clientId, undefined, client.ClientSecretBasic(this.settings.clientSecret), { execute, timeout: TIMEOUT_S })
      .then(
        (c) => {
          this.config = c;
          return c;
        },
        (err: unknown) => {
          this.failedAt = this.now();
          throw classify(err, 'discovery');
        },
      )
      .finally(() => {
        this.loading = null;
      });
    return this.loading;
  }

  /** Starts a sign-in: the provider's authorization URL, and the sealed cookie value that remembers it. */
  async start(next: string): Promise<{ url: string; cookie: string }> {
    const config = await this.configuration(true);
    const pending: Pending = { s: client.randomState(), n: client.randomNonce(), v: client.randomPKCECodeVerifier(), next, exp: this.now() + PENDING_MS };
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.settings.redirectUrl,
      scope: SCOPE,
      code_challenge: await client.calculatePKCECodeChallenge(pending.v),
      code_challenge_method: 'S256',
      state: pending.s,
      nonce: pending.n,
    });
    return { url: url.href, cookie: this.seal(pending) };
  }

  /**
   * Finishes a sign-in from the callback's query and the browser's sealed
   * cookie: checks state, trades the code (with the PKCE verifier) for
   * tokens, and checks the ID token's issuer, audience, signature and nonce.
   */
  async finish(query: URLSearchParams, cookie: string | null): Promise<{ identity: OidcIdentity; next: string }> {
    const pending = cookie ? this.unseal(cookie) : null;
    if (!pending) throw new OidcFailure('expired', cookie ? 'cookie unreadable or expired' : 'no cookie');
    const state = query.get('state');
    if (state !== pending.s) throw new OidcFailure('state', state ? 'state mismatch' : 'no state');
    const stateKey = createHash('sha256').update(pending.s).digest('hex');
    this.forgetExpired();
    if (this.used.has(stateKey)) throw new OidcFailure('used', 'callback replayed');
    this.used.set(stateKey, pending.exp);
    const error = query.get('error');
    if (error !== null) throw new OidcFailure('denied', `provider error ${/^[a-z_]{1,64}$/.test(error) ? error : 'unnamed'}`);
    const config = await this.configuration();
    // the callback as the provider addressed it: our configured redirect, never the request's Host
    const current = new URL(this.settings.redirectUrl);
    current.search = query.toString();
    let tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;
    try {
      tokens = await client.authorizationCodeGrant(config, current, { pkceCodeVerifier: pending.v, expectedState: pending.s, expectedNonce: pending.n, idTokenExpected: true });
    } catch (err) {
      throw classify(err, 'token');
    }
    const claims = tokens.claims();
    if (!claims || typeof claims.sub !== 'string' || claims.sub.length === 0 || claims.sub.length > 255) throw new OidcFailure('invalid', 'no usable sub');
    return { identity: { issuer: config.serverMetadata().issuer, sub: claims.sub, claims: { ...(NAME_CLAIMS.some((k) => typeof claims[k] === 'string') ? {} : await this.names(config, tokens.access_token, claims.sub)), ...claims } }, next: pending.next };
  }

  /**
   * Names for a new account when the ID token carries none (providers that
   * keep profile claims for the userinfo endpoint); best effort: the sign-in
   * does not depend on it.
   */
  private async names(config: client.Configuration, accessToken: string, sub: string): Promise<Record<string, unknown>> {
    if (!config.serverMetadata().userinfo_endpoint) return {};
    try {
      return { ...(await client.fetchUserInfo(config, accessToken, sub)) };
    } catch {
      return {};
    }
  }

  /**
   * Where a signed-out browser goes to end its session at the provider too
   * (RP-initiated logout), or null when the provider offers no
   * end_session_endpoint or cannot be reached.
   */
  async endSessionUrl(): Promise<string | null> {
    let config: client.Configuration;
    try {
      config = await this.configuration();
    } catch {
      return null;
    }
    if (!config.serverMetadata().end_session_endpoint) return null;
    return client.buildEndSessionUrl(config, { client_id: this.settings.clientId, post_logout_redirect_uri: this.postLogoutUrl }).href;
  }

  private seal(p: Pending): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(p), 'utf8'), cipher.final()]);
    return b64(Buffer.concat([iv, cipher.getAuthTag(), body]));
  }

  private unseal(value: string): Pending | null {
    if (!/^[A-Za-z0-9_-]{40,4096}$/.test(value)) return null;
    const raw = Buffer.from(value, 'base64url');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      const p = JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')) as Pending;
      if (typeof p.s !== 'string' || typeof p.n !== 'string' || typeof p.v !== 'string' || typeof p.next !== 'string' || typeof p.exp !== 'number') return null;
      return p.exp > this.now() ? p : null;
    } catch {
      return null;
    }
  }

  private forgetExpired(): void {
    const now = this.now();
    for (const [k, exp] of this.used) if (exp <= now) this.used.delete(k);
  }
}

/** An openid-client failure as one of our codes, with its machine reason. */
function classify(err: unknown, stage: 'discovery' | 'token'): OidcFailure {
  if (err instanceof OidcFailure) return err;
  if (err instanceof client.AuthorizationResponseError) return new OidcFailure('denied', `provider error ${safe(err.error)}`);
  if (err instanceof client.ResponseBodyError) {
    return err.error === 'invalid_grant' ? new OidcFailure('code', 'invalid_grant') : new OidcFailure(stage === 'discovery' ? 'unreachable' : 'invalid', `provider said ${safe(err.error)}`);
  }
  const e = err as { name?: string; code?: string };
  // fetch failures (refused, reset, DNS, timeout) and a provider answering with an HTTP error
  const down = e?.name === 'TypeError' || e?.name === 'AbortError' || e?.name === 'TimeoutError' || e?.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM';
  // anything else at discovery is a provider that is not the one configured (its issuer differs, its metadata is broken)
  return new OidcFailure(down ? 'unreachable' : 'invalid', `${stage}: ${safe(e?.code ?? e?.name ?? 'error')}`);
}

const safe = (s: unknown): string => (typeof s === 'string' && /^[A-Za-z0-9_.:-]{1,80}$/.test(s) ? s : 'unnamed');
