/**
 * Listeners for one kind of event, the one way client objects tell others
 * that something changed: `add` returns the function that removes the
 * listener again (call it on dispose), `emit` tells every listener.
 */
export class Observers<T> {
  private readonly fns = new Set<(value: T) => void>();

  add(fn: (value: T) => void): () => void {
    this.fns.add(fn);
    return () => {
      this.fns.delete(fn);
    };
  }

  emit(value: T): void {
    for (const fn of this.fns) fn(value);
  }

  get size(): number {
    return this.fns.size;
  }
}
