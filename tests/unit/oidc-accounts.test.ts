/**
 * The account an OIDC identity signs in as: matched by issuer and sub only
 * (the same sub at another issuer is someone else; a local account of the
 * same name is never taken over), and a new account's login name made from
 * the provider's names, cleaned, made unique, or from the sub when the
 * names are unusable.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuthService } from '../../tiles-server/identity/auth-service.js';
import { accountForOidc } from '../../tiles-server/identity/oidc-accounts.js';
import { openDatabase, type Db } from '../../tiles-server/store/database.js';
import { SqliteIdentityStore } from '../../tiles-server/store/identity-store.js';

let dir: string;
let db: Db;
let auth: AuthService;
const ISS = 'https://id.example.org';

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wsi-oidc-accounts-'));
  db = openDatabase(join(dir, 'wsi.db'));
  auth = new AuthService(new SqliteIdentityStore(db), { idleMs: 60_000, maxMs: 3_600_000, cacheMs: 50, embedMs: 900_000 });
});

afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('accounts of OIDC identities', () => {
  it('makes one account per issuer and sub, with no password and the user role, and finds it again', async () => {
    const first = await accountForOidc(auth, { issuer: ISS, sub: '42', claims: { preferred_username: 'Ada.L', name: 'Ada Lovelace' } });
    expect(first.created).toBe(true);
    expect(first.user).toMatchObject({ username: 'ada.l', displayName: 'Ada Lovelace', globalRole: 'user', passwordHash: null, oidcIssuer: ISS, oidcSub: '42' });
    const again = await accountForOidc(auth, { issuer: ISS, sub: '42', claims: { preferred_username: 'renamed' } });
    expect(again).toEqual({ user: first.user, created: false });
    const elsewhere = await accountForOidc(auth, { issuer: 'https://other.example.org', sub: '42', claims: { preferred_username: 'Ada.L' } });
    expect(elsewhere.created).toBe(true);
    expect(elsewhere.user.id).not.toBe(first.user.id);
    expect(elsewhere.user.username).toBe('ada.l-2');
  });

  it('never takes over a local account of the same name', async () => {
    const local = await auth.createUser({ username: 'admin', password: 'correct horse battery', globalRole: 'admin' });
    const { user } = await accountForOidc(auth, { issuer: ISS, sub: 'x', claims: { preferred_username: 'ADMIN', email: 'admin@example.org' } });
    expect(user.id).not.toBe(local.id);
    expect(user.username).toBe('admin-2');
    expect(user.globalRole).toBe('user');
  });

  it('cleans names it cannot use, falls back to the e-mail, then to the sub', async () => {
    expect((await accountForOidc(auth, { issuer: ISS, sub: 's1', claims: { preferred_username: ' José María ' } })).user.username).toBe('jose-maria');
    expect((await accountForOidc(auth, { issuer: ISS, sub: 's2', claims: { preferred_username: '!', email: 'Bob@Example.org' } })).user.username).toBe('bob@example.org');
    const bare = await accountForOidc(auth, { issuer: ISS, sub: 'AbC|123-xyz', claims: {} });
    expect(bare.user.username).toBe('oidc-abc123xyz');
    expect(bare.user.displayName).toBe('oidc-abc123xyz');
    expect((await accountForOidc(auth, { issuer: ISS, sub: '|||', claims: { name: 'N' } })).user).toMatchObject({ username: 'oidc-user', displayName: 'N' });
  });
});
