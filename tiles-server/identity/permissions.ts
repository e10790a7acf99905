/**
 * What each role may do in a project, in one table, and how the project's
 * editing mode and blind flag narrow it. Routes name an action; nothing
 * else in the server decides permissions.
 */
import type { EditingMode, GlobalRole, ProjectRole } from '../store/identity-store.js';

export type Action =
  /** Slide pixels and metadata, annotations and masks that the blind rule lets one see. */
  | 'view'
  /** The label and macro images (may carry PHI). */
  | 'view-associated'
  /** Create annotations and paint one's own mask; change one's own objects. */
  | 'annotate'
  /** Change or delete objects made by someone else. */
  | 'edit-others'
  /** Review others' work. */
  | 'review'
  /** Import files into the project, export annotations and masks. */
  | 'import'
  | 'export'
  /** Members, slides, palette, settings. */
  | 'manage'
  /** The project's regulatory report (issue 15): managers, and auditors without being members. */
  | 'report';

const ROLE_ACTIONS: Record<ProjectRole, readonly Action[]> = {
  manager: ['view', 'view-associated', 'annotate', 'edit-others', 'review', 'import', 'export', 'manage', 'report'],
  reviewer: ['view', 'annotate', 'edit-others', 'review', 'import', 'export'],
  annotator: ['view', 'annotate', 'edit-others', 'import', 'export'],
  viewer: ['view', 'export'],
};

/** Actions that change data: refused in read-only projects (but to managers) and to read-scoped tokens. */
export const WRITE_ACTIONS: ReadonlySet<Action> = new Set(['annotate', 'edit-others', 'review', 'import', 'manage']);

export interface ProjectSettings {
  editingMode: EditingMode;
  blind: boolean;
}

const actionSets = new Map<string, ReadonlySet<Action>>();

/** The actions a role has in a project with these settings (one shared set per combination: asked on every request). */
export function actionsOf(role: ProjectRole, project: ProjectSettings): ReadonlySet<Action> {
  const key = `${role}|${project.editingMode}|${project.blind ? 1 : 0}`;
  let set = actionSets.get(key);
  if (!set) actionSets.set(key, (set = narrowed(role, project)));
  return set;
}

function narrowed(role: ProjectRole, project: ProjectSettings): Set<Action> {
  const out = new Set(ROLE_ACTIONS[role]);
  if (project.editingMode === 'restricted' && role === 'annotator') out.delete('edit-others');
  if (project.editingMode === 'read-only' && role !== 'manager') for (const a of WRITE_ACTIONS) out.delete(a);
  // blind annotators and viewers never see, so never change, others' work
  if (project.blind && (role === 'annotator' || role === 'viewer')) out.delete('edit-others');
  return out;
}

/** Whether a role sees others' annotations and masks in this project. */
export function seesOthers(role: ProjectRole, project: ProjectSettings): boolean {
  return !project.blind || role === 'manager' || role === 'reviewer';
}

/** Whether a role sees slide file names (blind projects show study codes). */
export function seesFileNames(role: ProjectRole, project: ProjectSettings): boolean {
  return !project.blind || role === 'manager';
}

/**
 * What an auditor (a global role) may do in any project without being a
 * member: read its regulatory report, nothing else (no slide pixels).
 */
export const AUDITOR_PROJECT_ACTIONS: ReadonlySet<Action> = new Set(['report']);

/** The project role an account has without being a member: admins manage every project. */
export function implicitRole(globalRole: GlobalRole): ProjectRole | null {
  return globalRole === 'admin' ? 'manager' : null;
}
