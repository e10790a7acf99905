/**
 * Another reader's work beside one's own (issue 11, Layers): the reader
 * chosen for comparison, and whether and how opaquely their objects and
 * painted mask are shown. Their layer is read-only, whatever one's role:
 * one home for that decision — the annotation store asks `refusal` before a
 * local edit (with the class locks), hit testing passes over their objects
 * (`owns`), and their mask is loaded into a session of its own that is
 * never painted. Which readers may be chosen is the server's rule (blind
 * projects: only after one's own reading is submitted); nothing here widens
 * it: only objects already loaded and masks the server lists are shown.
 */
import type { AnnotationStore, Edit, Handle } from './annotation-store.js';
import { Observers } from '../core/observers.js';

export interface ReaderChoice {
  /** The reader's user id (the author of their objects, the annotator of their mask). */
  id: string;
  /** How the UI names them. */
  label: string;
}

export class ComparedReader {
  reader: ReaderChoice | null = null;
  visible = true;
  /** 0–1: their objects' outlines and fill, and their mask's pixels. */
  opacity = 0.7;
  private readonly observers = new Observers<void>();

  /** Chooses a reader to compare with (null: none). */
  choose(reader: ReaderChoice | null): void {
    if (reader?.id === this.reader?.id) return;
    this.reader = reader;
    this.observers.emit();
  }

  set(patch: { visible?: boolean; opacity?: number }): void {
    const visible = patch.visible ?? this.visible;
    const o = patch.opacity ?? this.opacity;
    const opacity = Number.isFinite(o) ? Math.max(0, Math.min(1, o)) : this.opacity;
    if (visible === this.visible && opacity === this.opacity) return;
    this.visible = visible;
    this.opacity = opacity;
    this.observers.emit();
  }

  /** How much of the reader's layer is drawn: 0 hidden (or no reader), else its opacity. */
  alpha(): number {
    return this.reader && this.visible ? this.opacity : 0;
  }

  /** Whether an object of the store is the compared reader's (drawn in their layer, never picked or edited). */
  owns(store: AnnotationStore, h: Handle): boolean {
    return this.reader !== null && store.authorOf(h) === this.reader.id;
  }

  /** Why a local edit may not be applied: it changes or deletes one of the compared reader's objects. Null: allowed. */
  refusal(edit: Edit, store: AnnotationStore): string | null {
    if (!this.reader) return null;
    const theirs = (id: string): boolean => {
      const h = store.handleOf(id);
      return h !== undefined && this.owns(store, h);
    };
    if ((edit.update ?? []).some((u) => theirs(u.id)) || (edit.delete ?? []).some(theirs)) return readOnlyMessage(this.reader.label);
    return null;
  }

  onChange(fn: () => void): () => void {
    return this.observers.add(fn);
  }
}

/** What the status line says when a tool meets the compared reader's layer. */
export function readOnlyMessage(label: string): string {
  return `${label}'s layer is shown for comparison and is read-only: nothing was changed.`;
}
