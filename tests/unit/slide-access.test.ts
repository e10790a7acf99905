/**
 * The viewer's one sentence for "you can only look here" (SEC-05, the UI
 * half): from what GET /api/slides/{id} says of the caller's role, the
 * project's mode and the credential, the reason names the right cause, and
 * anyone who may annotate gets none.
 */
import { describe, expect, it } from 'vitest';
import { readOnlyReason, type SlideAccess } from '../../src/core/slide-access.js';

const access = (a: Partial<SlideAccess>): SlideAccess => ({ projectName: 'Lung', role: 'annotator', editingMode: 'classic', blind: false, credential: 'write', actions: ['annotate', 'export', 'view'], ...a });

describe('readOnlyReason', () => {
  it('is null for whoever may annotate, and when the server said nothing (an older server)', () => {
    expect(readOnlyReason(access({}))).toBeNull();
    expect(readOnlyReason(access({ role: 'manager', editingMode: 'read-only', actions: ['annotate', 'manage', 'view'] }))).toBeNull();
    expect(readOnlyReason(undefined)).toBeNull();
  });

  it('names the cause: a read-only token, a read-only project, a viewer, another role', () => {
    expect(readOnlyReason(access({ credential: 'read', actions: ['export', 'view'] }))).toMatch(/read-only token/);
    expect(readOnlyReason(access({ editingMode: 'read-only', actions: ['export', 'view'] }))).toMatch(/“Lung” is read-only/);
    expect(readOnlyReason(access({ role: 'viewer', actions: ['export', 'view'] }))).toMatch(/You are a viewer in “Lung”/);
    expect(readOnlyReason(access({ role: 'reviewer', actions: ['view'] }))).toMatch(/\(reviewer\) does not allow changes/);
  });
});
