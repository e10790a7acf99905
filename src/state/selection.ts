/** The selected annotations, by id (ids survive edits and reloads). */
import type { AnnotationStore } from './annotation-store.js';

export class Selection {
  private ids = new Set<string>();
  private readonly listeners = new Set<() => void>();

  constructor(private readonly store: AnnotationStore) {
    // a selected object deleted elsewhere leaves the selection
    store.observe((cs) => {
      let changed = false;
      for (const d of cs.deleted) changed = this.ids.delete(d.before.id) || changed;
      if (changed) this.emit();
    });
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(): void {
    for (const fn of this.listeners) fn();
  }

  get size(): number {
    return this.ids.size;
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  list(): string[] {
    return [...this.ids].filter((id) => this.store.has(id));
  }

  set(ids: Iterable<string>): void {
    this.ids = new Set(ids);
    this.emit();
  }

  toggle(id: string): void {
    if (!this.ids.delete(id)) this.ids.add(id);
    this.emit();
  }

  clear(): void {
    if (this.ids.size === 0) return;
    this.ids.clear();
    this.emit();
  }
}
