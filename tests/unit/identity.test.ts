/**
 * Accounts and sessions at the service level: the password policy, sign-in
 * (SEC-13: the same answer for an unknown name and a wrong password, and a
 * lockout per account and per address), TOTP with replay protection, the
 * one-time setup token, session idle and absolute limits (SEC-07, SEC-08),
 * revocation and disabling within the cache time (SEC-06), tokens, and the
 * permission table with editing modes and blind projects (SEC-04, SEC-05).
 */
import { generate } from 'otplib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AccessService } from '../../tiles-server/identity/access-service.js';
import { AuthService, type Principal } from '../../tiles-server/identity/auth-service.js';
import { actionsOf, seesOthers } from '../../tiles-server/identity/permissions.js';
import { newTotpSecret } from '../../tiles-server/identity/totp.js';
import type { Db } from '../../tiles-server/store/database.js';
// the store's database module first: identity-store.ts and database.ts import each other
import { describeEachEngine, type StoreUnderTest } from '../helpers/store-engines.js';
import { SqliteIdentityStore } from '../../tiles-server/store/identity-store.js';

let db: Db;
let store: SqliteIdentityStore;
let auth: AuthService;
const PW = 'correct horse battery';

describeEachEngine('identity', ({ make }) => {
  let engine: StoreUnderTest;

  beforeEach(() => {
    engine = make();
    db = engine.open();
    store = new SqliteIdentityStore(db);
    auth = new AuthService(store, { idleMs: 60_000, maxMs: 3_600_000, cacheMs: 50, embedMs: 900_000 });
  });

  afterEach(() => {
    db.close();
    engine.dispose();
  });

  const code = (e: unknown): string | undefined => (e as { code?: string }).code;
  async function failure(p: Promise<unknown>): Promise<string | undefined> {
    try {
      await p;
      return undefined;
    } catch (e) {
      return code(e);
    }
  }

  describe('accounts and sign-in', () => {
    it('refuses short, common and name-containing passwords, and has no default password', async () => {
      expect(await failure(auth.createUser({ username: 'ann', password: 'short' }))).toBe('WEAK_PASSWORD');
      expect(await failure(auth.createUser({ username: 'ann', password: 'password1234' }))).toBe('WEAK_PASSWORD');
      expect(await failure(auth.createUser({ username: 'annabel', password: 'annabel-is-great' }))).toBe('WEAK_PASSWORD');
      const u = await auth.createUser({ username: 'Ann', password: PW });
      expect(u.username).toBe('ann');
      expect(u.passwordHash).toMatch(/^\$argon2id\$/);
      expect(await failure(auth.createUser({ username: 'ann', password: PW }))).toBe('USER_EXISTS');
      const noPassword = await auth.createUser({ username: 'oidc-only' });
      expect(await failure(auth.signIn('oidc-only', '', null, '10.0.0.1'))).toBe('SIGN_IN_FAILED');
      expect(noPassword.passwordHash).toBeNull();
    });

    it('answers an unknown name and a wrong password alike (SEC-13)', async () => {
      await auth.createUser({ username: 'ann', password: PW });
      const errors: unknown[] = [];
      for (const [name, pw] of [['ann', 'wrong password!!'], ['nobody', PW]] as const) {
        try {
          await auth.signIn(name, pw, null, '10.0.0.1');
        } catch (e) {
          errors.push({ code: code(e), message: (e as Error).message, status: (e as { status?: number }).status });
        }
      }
      expect(errors[0]).toEqual(errors[1]);
      expect(errors[0]).toMatchObject({ code: 'SIGN_IN_FAILED', status: 401 });
    });

    it('locks an account out after repeated failures, whoever tries, and the lockout hides whether it exists', async () => {
      await auth.createUser({ username: 'ann', password: PW });
      for (let i = 0; i < 5; i++) expect(await failure(auth.signIn('ann', `wrong password ${i}`, null, `10.0.0.${i}`))).toBe('SIGN_IN_FAILED');
      expect(await failure(auth.signIn('ann', PW, null, '10.0.0.99'))).toBe('TOO_MANY_ATTEMPTS');
      for (let i = 0; i < 5; i++) await failure(auth.signIn('ghost', `wrong password ${i}`, null, `10.0.1.${i}`));
      expect(await failure(auth.signIn('ghost', PW, null, '10.0.1.99'))).toBe('TOO_MANY_ATTEMPTS');
    });

    it('locks an address out after failures over many names', async () => {
      for (let i = 0; i < 30; i++) await failure(auth.signIn(`user${i}`, 'wrong password!!', null, '10.9.9.9'));
      await auth.createUser({ username: 'ann', password: PW });
      expect(await failure(auth.signIn('ann', PW, null, '10.9.9.9'))).toBe('TOO_MANY_ATTEMPTS');
      await expect(auth.signIn('ann', PW, null, '10.9.9.8')).resolves.toMatchObject({ user: { username: 'ann' } });
    });

    it('asks for a TOTP code when enrolled, accepts it once, and refuses a replay', async () => {
      const u = await auth.createUser({ username: 'ann', password: PW });
      const secret = newTotpSecret();
      await store.updateUser(u.id, { totpSecret: secret });
      expect(await failure(auth.signIn('ann', PW, null, '10.0.0.1'))).toBe('TOTP_REQUIRED');
      const totp = await generate({ secret });
      await expect(auth.signIn('ann', PW, totp, '10.0.0.1')).resolves.toBeTruthy();
      expect(await failure(auth.signIn('ann', PW, totp, '10.0.0.1'))).toBe('SIGN_IN_FAILED');
      expect(await failure(auth.signIn('ann', PW, '000000', '10.0.0.1'))).toBe('SIGN_IN_FAILED');
    });

    it('gives one setup token while there is no admin, usable once', async () => {
      const token = await auth.setupToken();
      expect(token).toBeTruthy();
      expect(await failure(auth.completeSetup('forged', { username: 'root', password: PW }))).toBe('FORBIDDEN');
      // a refused password does not spend the link
      expect(await failure(auth.completeSetup(token as string, { username: 'root', password: 'short' }))).toBe('WEAK_PASSWORD');
      const admin = await auth.completeSetup(token as string, { username: 'root', password: PW });
      expect(admin.globalRole).toBe('admin');
      expect(await failure(auth.completeSetup(token as string, { username: 'root2', password: PW }))).toBe('FORBIDDEN');
      expect(await auth.setupToken()).toBeNull();
    });

    it('moves data made before accounts into a Default project managed by the first admin, keeping old authors as legacy names', async () => {
      db.prepare(`INSERT INTO history (annotation_id, slide_id, version, op, data, author, at, op_id) VALUES ('a1', 'slide-1', 1, 'create', '{}', 'LOCAL_USER', '2026-01-01T00:00:00Z', 'op-1')`).run();
      const admin = await auth.completeSetup((await auth.setupToken()) as string, { username: 'root', password: PW });
      const projects = await store.listProjects();
      expect(projects.map((p) => [p.name, p.allSlides])).toEqual([['Default', true]]);
      expect(await store.membersOf(projects[0]?.id ?? '')).toMatchObject([{ userId: admin.id, role: 'manager' }]);
      const legacy = await store.userById('legacy:LOCAL_USER');
      expect(legacy).toMatchObject({ displayName: 'LOCAL_USER', legacy: true, disabled: true, passwordHash: null });
      expect(await failure(auth.signIn('legacy:LOCAL_USER', PW, null, '10.0.0.1'))).toBe('SIGN_IN_FAILED');
      // the old change keeps its author name
      expect(db.prepare('SELECT author FROM history').get()).toEqual({ author: 'LOCAL_USER' });
    });
  });

  describe('sessions and tokens', () => {
    it('stores only digests of session ids and tokens', async () => {
      await auth.createUser({ username: 'ann', password: PW });
      const s = await auth.signIn('ann', PW, null, '10.0.0.1');
      const u = (await store.userByName('ann')) as NonNullable<Awaited<ReturnType<typeof store.userByName>>>;
      const { token } = await auth.createToken(u, { name: 'pipeline', kind: 'api', scope: 'read', expiresInMs: 3_600_000 });
      const dump = JSON.stringify([db.prepare('SELECT * FROM sessions').all(), db.prepare('SELECT * FROM api_tokens').all()]);
      expect(dump).not.toContain(s.sessionId);
      expect(dump).not.toContain(s.csrfToken);
      expect(dump).not.toContain(token);
    });

    it('ends a session when idle too long, at its absolute end, and at sign-out (SEC-07, SEC-08)', async () => {
      await auth.createUser({ username: 'ann', password: PW });
      const s = await auth.signIn('ann', PW, null, '10.0.0.1');
      const p = (await auth.fromSession(s.sessionId)) as Principal;
      expect(p.user.username).toBe('ann');
      expect(auth.csrfMatches(p, s.csrfToken)).toBe(true);
      expect(auth.csrfMatches(p, 'forged')).toBe(false);
      // idle: last seen two minutes ago
      db.prepare('UPDATE sessions SET last_seen_at = ?').run(new Date(Date.now() - 120_000).toISOString());
      await new Promise((r) => setTimeout(r, 60));
      expect(await auth.fromSession(s.sessionId)).toBeNull();
      // absolute: active, but past its end
      const s2 = await auth.signIn('ann', PW, null, '10.0.0.1');
      db.prepare('UPDATE sessions SET expires_at = ? WHERE id_hash = ?').run(new Date(Date.now() - 1).toISOString(), (await auth.fromSession(s2.sessionId))?.sessionHash);
      await new Promise((r) => setTimeout(r, 60));
      expect(await auth.fromSession(s2.sessionId)).toBeNull();
      const s3 = await auth.signIn('ann', PW, null, '10.0.0.1');
      const p3 = (await auth.fromSession(s3.sessionId)) as Principal;
      await auth.signOut(p3.sessionHash as string);
      expect(await auth.fromSession(s3.sessionId)).toBeNull();
    });

    it('a disabled account stops working at once in this process, and within the cache time elsewhere (SEC-06)', async () => {
      const u = await auth.createUser({ username: 'ann', password: PW });
      const s = await auth.signIn('ann', PW, null, '10.0.0.1');
      const other = new AuthService(store, { idleMs: 60_000, maxMs: 3_600_000, cacheMs: 50, embedMs: 900_000 });
      expect(await other.fromSession(s.sessionId)).not.toBeNull();
      await auth.setDisabled(u.id, true);
      expect(await auth.fromSession(s.sessionId)).toBeNull();
      await new Promise((r) => setTimeout(r, 60));
      expect(await other.fromSession(s.sessionId)).toBeNull();
      expect(await failure(auth.signIn('ann', PW, null, '10.0.0.1'))).toBe('SIGN_IN_FAILED');
    });

    it('tokens: scoped, expiring, revocable, unknown prefixes ignored', async () => {
      const u = await auth.createUser({ username: 'ann', password: PW });
      const read = await auth.createToken(u, { name: 'r', kind: 'api', scope: 'read', expiresInMs: 3_600_000 });
      expect(read.token.startsWith('wsi_at_')).toBe(true);
      expect(await auth.fromToken(read.token)).toMatchObject({ via: 'api-token', scope: 'read' });
      const old = await auth.createToken(u, { name: 'old', kind: 'api', scope: 'write', expiresInMs: -1 });
      expect(await auth.fromToken(old.token)).toBeNull();
      const embed = await auth.createToken(u, { name: 'portal', kind: 'embed', scope: 'read', expiresInMs: 60_000 });
      expect(await auth.fromToken(embed.token)).toMatchObject({ via: 'embed-token' });
      await auth.revokeToken(u.id, read.record.id, false);
      expect(await auth.fromToken(read.token)).toBeNull();
      expect(await auth.fromToken('Basic abc')).toBeNull();
      expect((await store.tokensOf(u.id)).map((t) => t.name)).toEqual(['r', 'old']);
    });
  });

  describe('projects and roles', () => {
    it('the permission table, narrowed by editing modes and blind projects (SEC-04, SEC-05)', () => {
      const classic = { editingMode: 'classic', blind: false } as const;
      const restricted = { editingMode: 'restricted', blind: false } as const;
      const readOnly = { editingMode: 'read-only', blind: false } as const;
      const blind = { editingMode: 'classic', blind: true } as const;
      expect(actionsOf('annotator', classic).has('edit-others')).toBe(true);
      expect(actionsOf('annotator', restricted).has('edit-others')).toBe(false);
      expect(actionsOf('annotator', restricted).has('annotate')).toBe(true);
      expect(actionsOf('reviewer', restricted).has('edit-others')).toBe(true);
      for (const role of ['annotator', 'reviewer', 'viewer'] as const) {
        expect([...actionsOf(role, readOnly)].filter((a) => a !== 'view' && a !== 'export')).toEqual([]);
      }
      expect(actionsOf('manager', readOnly).has('annotate')).toBe(true);
      expect(actionsOf('viewer', classic).has('annotate')).toBe(false);
      expect(actionsOf('annotator', classic).has('view-associated')).toBe(false);
      expect(actionsOf('manager', classic).has('view-associated')).toBe(true);
      expect(seesOthers('annotator', blind)).toBe(false);
      expect(seesOthers('reviewer', blind)).toBe(true);
    });

    it("another project's slides are 404, the Default project's slides keep their ids, and a removal takes effect within the cache time (SEC-17)", async () => {
      const ann = await auth.createUser({ username: 'ann', password: PW });
      const bob = await auth.createUser({ username: 'bob', password: PW });
      const now = new Date().toISOString();
      await store.createProject({ id: 'pa', name: 'A', editingMode: 'classic', blind: false, allSlides: false, createdAt: now });
      await store.createProject({ id: 'pd', name: 'Default', editingMode: 'classic', blind: false, allSlides: true, createdAt: now });
      await store.addProjectSlide({ id: 'psa', projectId: 'pa', slideId: 'slide1', studyCode: 'A-001', addedAt: now });
      await store.setMember({ projectId: 'pa', userId: ann.id, role: 'annotator', addedAt: now });
      await store.setMember({ projectId: 'pd', userId: bob.id, role: 'viewer', addedAt: now });
      const access = new AccessService(store, (id) => Promise.resolve(id === 'slide1' || id === 'slide2'), 50);
      const pa: Principal = { user: ann, via: 'session', scope: 'write', sessionHash: null, csrfHash: null, tokenId: null };
      const pb: Principal = { user: bob, via: 'session', scope: 'write', sessionHash: null, csrfHash: null, tokenId: null };
      await expect(access.slide(pa, 'psa', 'annotate')).resolves.toMatchObject({ slideId: 'slide1', role: 'annotator', studyCode: 'A-001' });
      expect(await failure(access.slide(pb, 'psa', 'view'))).toBe('SLIDE_NOT_FOUND');
      expect(await failure(access.slide(pa, 'nope', 'view'))).toBe('SLIDE_NOT_FOUND');
      await expect(access.slide(pb, 'slide2', 'view')).resolves.toMatchObject({ slideId: 'slide2', projectSlideId: 'slide2' });
      expect(await failure(access.slide(pb, 'slide2', 'annotate'))).toBe('FORBIDDEN');
      expect(await failure(access.slide(pa, 'slide2', 'view'))).toBe('SLIDE_NOT_FOUND');
      const readOnlyToken: Principal = { ...pa, via: 'api-token', scope: 'read' };
      expect(await failure(access.slide(readOnlyToken, 'psa', 'annotate'))).toBe('FORBIDDEN');
      await store.removeMember('pa', ann.id);
      await new Promise((r) => setTimeout(r, 60));
      expect(await failure(access.slide(pa, 'psa', 'view'))).toBe('SLIDE_NOT_FOUND');
    });
  });
});
