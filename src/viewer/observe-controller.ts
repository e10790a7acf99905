/**
 * A Lit reactive controller that re-renders its host when something it
 * shows changes: `source()` names the object (a session, the tool host),
 * `subscribe` listens to it and returns the unsubscribes. When the source
 * is replaced (another slide) the controller moves its listeners; on
 * disconnect it drops them. No render counters.
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit';

export class ObserveController<T extends object> implements ReactiveController {
  private current: T | null = null;
  private offs: Array<() => void> = [];

  constructor(
    private readonly host: ReactiveControllerHost,
    private readonly source: () => T | null | undefined,
    private readonly subscribe: (source: T, changed: () => void) => Array<() => void>,
  ) {
    host.addController(this);
  }

  private follow(): void {
    const next = this.source() ?? null;
    if (next === this.current) return;
    this.drop();
    this.current = next;
    if (next) this.offs = this.subscribe(next, () => this.host.requestUpdate());
  }

  private drop(): void {
    for (const off of this.offs) off();
    this.offs = [];
    this.current = null;
  }

  hostConnected(): void {
    this.follow();
  }

  hostUpdated(): void {
    this.follow();
  }

  hostDisconnected(): void {
    this.drop();
  }
}
