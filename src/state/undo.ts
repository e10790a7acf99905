/**
 * Undo and redo of local edits. Each local change set (one gesture) is one
 * step; undo applies its inverse through the same store, so sync, index and
 * rendering follow. Steps hold only the objects the gesture touched, so undo
 * works the same with ten objects or a million. Other stores (the painted
 * mask) push their own steps, so one history covers every kind of edit.
 */
import type { AnnotationRecord, AnnotationStore, ChangeSet, Edit } from './annotation-store.js';

interface EditStep {
  label: string;
  undo: Edit;
  redo: Edit;
}

/** A step from another store: it knows how to undo and redo itself. */
export interface ExternalStep {
  label: string;
  undo(): void;
  redo(): void;
}

type Step = EditStep | ExternalStep;

function isExternal(s: Step): s is ExternalStep {
  return typeof (s as ExternalStep).undo === 'function';
}

function inverse(cs: ChangeSet, store: AnnotationStore): EditStep {
  const createdRecords = cs.created.map((h) => store.record(h));
  const after = (h: number): AnnotationRecord => store.record(h);
  return {
    label: cs.label,
    undo: {
      delete: createdRecords.map((r) => r.id),
      update: cs.updated.map((u) => ({ id: u.before.id, changes: withoutVersion(u.before) })),
      create: cs.deleted.map((d) => d.before),
    },
    redo: {
      create: createdRecords,
      update: cs.updated.map((u) => ({ id: u.before.id, changes: withoutVersion(after(u.handle)) })),
      delete: cs.deleted.map((d) => d.before.id),
    },
  };
}

function withoutVersion(r: AnnotationRecord): Partial<Omit<AnnotationRecord, 'id'>> {
  const { id: _id, version: _version, ...rest } = r;
  return rest;
}

export class UndoManager {
  private readonly done: Step[] = [];
  private readonly undone: Step[] = [];
  private replaying = false;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly store: AnnotationStore,
    private readonly limit = 500,
  ) {
    store.observe((cs) => {
      if (cs.origin !== 'local' || this.replaying) return;
      this.push(inverse(cs, store));
    });
  }

  /** Adds a step made elsewhere (a brush stroke); it clears the redo stack like any edit. */
  push(step: Step): void {
    this.done.push(step);
    if (this.done.length > this.limit) this.done.shift();
    this.undone.length = 0;
    this.emit();
  }

  /** True while an undo or redo is being applied (stores must not record it as a new step). */
  get applying(): boolean {
    return this.replaying;
  }

  get canUndo(): boolean {
    return this.done.length > 0;
  }

  get canRedo(): boolean {
    return this.undone.length > 0;
  }

  get undoLabel(): string | null {
    return this.done[this.done.length - 1]?.label ?? null;
  }

  get redoLabel(): string | null {
    return this.undone[this.undone.length - 1]?.label ?? null;
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(): void {
    for (const fn of this.listeners) fn();
  }

  /** Runs a step one way; false when the store refused it (a locked class), so the step stays where it was. */
  private run(step: Step, which: 'undo' | 'redo'): boolean {
    this.replaying = true;
    try {
      if (isExternal(step)) {
        if (which === 'undo') step.undo();
        else step.redo();
        return true;
      }
      // versions of the objects now on the client stay as they are; a revived
      // object keeps the version it was deleted at
      return this.store.apply(step[which], 'local', `${which === 'undo' ? 'Undo' : 'Redo'} ${step.label}`).refused === undefined;
    } finally {
      this.replaying = false;
    }
  }

  undo(): boolean {
    const step = this.done.pop();
    if (!step) return false;
    if (!this.run(step, 'undo')) {
      this.done.push(step);
      return false;
    }
    this.undone.push(step);
    this.emit();
    return true;
  }

  redo(): boolean {
    const step = this.undone.pop();
    if (!step) return false;
    if (!this.run(step, 'redo')) {
      this.undone.push(step);
      return false;
    }
    this.done.push(step);
    this.emit();
    return true;
  }

  clear(): void {
    this.done.length = 0;
    this.undone.length = 0;
    this.emit();
  }
}
