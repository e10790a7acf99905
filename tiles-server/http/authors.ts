/**
 * Who made a version, by name: the history answers (an annotation's, a mask
 * region's) carry each author's account name beside the id the store keeps,
 * so the UI can say who without an admin-only user list. In a blind project
 * a caller learns only their own name; others read "another reader". An
 * author with no account (data from before accounts) is null.
 */
import { principal, slideScope, type RouteContext } from './routes.js';

export interface AuthorName {
  username: string;
  displayName: string;
}

/** Resolves a user id to its account (null: no such account, e.g. a pre-accounts author string). */
export type WhoIs = (id: string) => Promise<AuthorName | null>;

/** What a blind project's annotator learns of another author. */
const HIDDEN: AuthorName = { username: '', displayName: 'another reader' };

export const nobody: WhoIs = () => Promise.resolve(null);

export async function authorNames(ctx: RouteContext, whoIs: WhoIs, ids: Iterable<string>): Promise<Record<string, AuthorName | null>> {
  const me = principal(ctx).user.id;
  const seesOthers = slideScope(ctx).seesOthers;
  const out: Record<string, AuthorName | null> = {};
  for (const id of new Set(ids)) {
    if (Object.keys(out).length >= 1000) break;
    out[id] = seesOthers || id === me ? await whoIs(id) : HIDDEN;
  }
  return out;
}
