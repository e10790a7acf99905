/**
 * The latest of an element's loads wins: starting a load aborts the one
 * before it, and an answer or error that arrives after that — or after the
 * element has left the page — is dropped, so a quick change of slide never
 * shows the previous slide's details. Used by the slide's details panels.
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit';

export type LoadOutcome<T> = { ok: true; value: T } | { ok: false; error: Error };

export class LatestLoad implements ReactiveController {
  private abort: AbortController | null = null;

  constructor(host: ReactiveControllerHost) {
    host.addController(this);
  }

  hostDisconnected(): void {
    this.cancel();
  }

  /** Aborts the load in flight, if any. */
  cancel(): void {
    this.abort?.abort();
    this.abort = null;
  }

  /** Runs `load`, aborting the one before; null when this load was itself superseded or cancelled. */
  async run<T>(load: (signal: AbortSignal) => Promise<T>): Promise<LoadOutcome<T> | null> {
    this.abort?.abort();
    const abort = (this.abort = new AbortController());
    try {
      const value = await load(abort.signal);
      return abort.signal.aborted ? null : { ok: true, value };
    } catch (err) {
      return abort.signal.aborted ? null : { ok: false, error: err as Error };
    }
  }
}
