/**
 * The move from a store without accounts: when the first admin is created,
 * everything made before accounts goes into a "Default" project that holds
 * every slide of the folder (its slides keep their ids, so their
 * annotations and masks stay attached), the admin manages it, and each
 * author name found in the histories becomes a legacy account (it cannot
 * sign in; it names who made the old changes, which keep that name).
 */
import type { IdentityStore, User } from '../store/identity-store.js';
import { newId } from './secrets.js';

export const DEFAULT_PROJECT = 'Default';

/** The id of the legacy account of an author name of before accounts. */
export const legacyUserId = (name: string): string => `legacy:${name}`;

export async function adoptExistingData(store: IdentityStore, admin: User): Promise<{ project: string | null; legacy: string[] }> {
  const now = new Date().toISOString();
  let project: string | null = null;
  if ((await store.listProjects()).length === 0) {
    project = newId();
    await store.createProject({ id: project, name: DEFAULT_PROJECT, editingMode: 'classic', blind: false, allSlides: true, createdAt: now });
    await store.setMember({ projectId: project, userId: admin.id, role: 'manager', addedAt: now });
  }
  const users = await store.listUsers();
  const known = new Set(users.flatMap((u) => [u.id, u.username]));
  const legacy = (await store.historyAuthors()).filter((name) => !known.has(name) && !known.has(legacyUserId(name)));
  for (const name of legacy) {
    await store.createUser({
      id: legacyUserId(name),
      username: legacyUserId(name),
      displayName: name.slice(0, 128),
      globalRole: 'user',
      disabled: true,
      passwordHash: null,
      totpSecret: null,
      totpLastStep: 0,
      oidcIssuer: null,
      oidcSub: null,
      legacy: true,
      createdAt: now,
    });
  }
  return { project, legacy };
}
