/**
 * A bound on how long one turn of the event loop spends starting requests
 * (`TURN_BUDGET_MS`; 0: no bound). Under a crowd, one poll phase can hand
 * the server a hundred requests, and starting each (URL, route, sign-in,
 * admission) runs before the loop gets back to its sockets, so
 * /api/health and everything else waits for the whole batch (issue 10,
 * LOAD-06). Past the budget, a request's start waits, in arrival order, and
 * the waiting ones are started a budget's worth per later turn, so the loop
 * passes its sockets (health is answered before any of this: app.ts
 * answerHealth) between batches.
 *
 * Each start's synchronous part is measured: the next waiting request is
 * released from a microtask queued after the previous one's continuation,
 * which runs up to that request's first real wait.
 */
export class TurnBudget {
  private turnStart = -1;
  private readonly waiting: Array<() => void> = [];
  private draining = false;
  /** Requests that waited for a later turn. */
  deferred = 0;

  constructor(
    private readonly budgetMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * null: start now; else a promise settled in a later turn, in arrival
   * order. A request whose `signal` aborts while it waits (its client went
   * away) leaves the line at once, rejected with the signal's reason, and is
   * never started.
   */
  admit(signal?: AbortSignal): Promise<void> | null {
    if (this.budgetMs <= 0) return null;
    const t = this.now();
    if (this.turnStart < 0) {
      this.turnStart = t;
      setImmediate(() => {
        this.turnStart = -1;
      });
    }
    if (this.waiting.length === 0 && t - this.turnStart < this.budgetMs) return null;
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    this.deferred++;
    return new Promise<void>((resolve, reject) => {
      const gone = (): void => {
        const k = this.waiting.indexOf(start);
        if (k >= 0) this.waiting.splice(k, 1);
        reject(signal?.reason as Error);
      };
      const start = (): void => {
        signal?.removeEventListener('abort', gone);
        resolve();
      };
      signal?.addEventListener('abort', gone, { once: true });
      this.waiting.push(start);
      this.schedule();
    });
  }

  get queued(): number {
    return this.waiting.length;
  }

  private schedule(): void {
    if (this.draining) return;
    this.draining = true;
    setImmediate(() => this.drain());
  }

  private drain(): void {
    const start = this.now();
    const next = (): void => {
      const resolve = this.waiting.shift();
      if (!resolve) {
        this.draining = false;
        return;
      }
      resolve();
      // runs after the released request's continuation, up to its first wait
      queueMicrotask(() => {
        if (this.waiting.length === 0) this.draining = false;
        else if (this.now() - start < this.budgetMs) next();
        else setImmediate(() => this.drain());
      });
    };
    next();
  }
}
