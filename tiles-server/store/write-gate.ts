/**
 * Users' writes go before an import's staging. The server's connection
 * counts, in shared memory, the write transactions it is running or waiting
 * to begin; an import worker waits while that count is above zero before it
 * begins each staging transaction (at most `maxWaitMs` at a time, so a
 * steady stream of writes slows an import but never stalls it). A user's
 * write thus waits for the one staging transaction already running at most,
 * instead of taking its chances against the worker in SQLite's busy loop.
 */
export class WriteGate {
  private readonly pending: Int32Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(4)) {
    this.pending = new Int32Array(buffer);
  }

  enter(): void {
    Atomics.add(this.pending, 0, 1);
  }

  leave(): void {
    if (Atomics.sub(this.pending, 0, 1) === 1) Atomics.notify(this.pending, 0);
  }

  /** In a worker thread (Atomics.wait blocks): waits until no write of the server's is pending. */
  yieldToWriters(maxWaitMs = 1000): void {
    const end = performance.now() + maxWaitMs;
    for (;;) {
      const n = Atomics.load(this.pending, 0);
      const left = end - performance.now();
      if (n <= 0 || left <= 0) return;
      Atomics.wait(this.pending, 0, n, left);
    }
  }
}
