/**
 * What the caller may do on an open slide, as GET /api/slides/{id} tells it
 * (`access`: the project, the caller's role there, its editing mode and
 * the actions the server's permission table gives), and the one sentence
 * the viewer shows when that means looking only. The server refuses such
 * changes anyway (403); this is so the tools are disabled first, with the
 * reason in view, instead of failing on use.
 */

export interface SlideAccess {
  projectName: string;
  role: 'manager' | 'reviewer' | 'annotator' | 'viewer';
  editingMode: 'classic' | 'restricted' | 'read-only';
  blind: boolean;
  /** What the credential allows: a read-scoped token changes nothing, whatever the role. */
  credential?: 'read' | 'write';
  /** The server's actions for this caller here (view, annotate, edit-others, import, export, manage, …). */
  actions: string[];
}

/** Why nothing can be changed here, or null when the caller may annotate. */
export function readOnlyReason(access: SlideAccess | null | undefined): string | null {
  if (!access || access.actions.includes('annotate')) return null;
  if (access.credential === 'read') return 'This page was given a read-only token: it can show the slide and its annotations, but not change them.';
  if (access.editingMode === 'read-only') return `The project “${access.projectName}” is read-only: you can look and export, but not draw, paint, import or change classes.`;
  if (access.role === 'viewer') return `You are a viewer in “${access.projectName}”: you can look and export, but not draw, paint, import or change classes. A manager can change your role.`;
  return `Your role in “${access.projectName}” (${access.role}) does not allow changes.`;
}

