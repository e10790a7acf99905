/**
 * The account an OIDC identity signs in as: matched by (issuer, sub) only,
 * never by a login name or e-mail address (a provider's user named like a
 * local admin must not become that admin). A new identity gets a new
 * account with no project, global role `user`, and no password; a manager
 * adds it to projects. A login name is made from the provider's
 * preferred_username or e-mail, made unique with a suffix.
 */
import type { User } from '../store/identity-store.js';
import type { AuthService } from './auth-service.js';
import type { OidcIdentity } from './oidc-sign-in.js';

const NAME = /^[a-z0-9][a-z0-9._@-]{1,63}$/;

function candidate(claims: Record<string, unknown>, sub: string): string {
  for (const k of ['preferred_username', 'email']) {
    const v = claims[k];
    if (typeof v !== 'string') continue;
    // accents dropped (José → jose), anything else outside a login name's letters becomes '-'
    const cleaned = v.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').trim().toLowerCase().replace(/[^a-z0-9._@-]/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 56);
    if (NAME.test(cleaned)) return cleaned;
  }
  return `oidc-${sub.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 16) || 'user'}`;
}

function displayName(claims: Record<string, unknown>, fallback: string): string {
  const n = claims['name'];
  return typeof n === 'string' && n.trim() ? n.trim().slice(0, 128) : fallback;
}

/** The account of an identity, made when new (`created`). Disabled accounts are returned as they are: the caller refuses them. */
export async function accountForOidc(auth: AuthService, id: OidcIdentity): Promise<{ user: User; created: boolean }> {
  const known = await auth.store.userByOidc(id.issuer, id.sub);
  if (known) return { user: known, created: false };
  const base = candidate(id.claims, id.sub);
  for (let i = 1; i <= 50; i++) {
    const username = i === 1 ? base : `${base.slice(0, 56)}-${i}`;
    if (await auth.store.userByName(username)) continue;
    try {
      const user = await auth.createUser({ username, displayName: displayName(id.claims, username), oidc: { issuer: id.issuer, sub: id.sub } });
      return { user, created: true };
    } catch (err) {
      // two first sign-ins of one identity at once: the other made it
      const again = await auth.store.userByOidc(id.issuer, id.sub);
      if (again) return { user: again, created: false };
      if ((err as { code?: string }).code !== 'USER_EXISTS') throw err;
    }
  }
  throw new Error('no free login name for a new OIDC account');
}
