/**
 * geotiff.js imports the `web-worker` package, which, when loaded inside any
 * worker_threads thread without a global Worker, assumes that thread is one
 * of its own emulated web workers and tries to boot a module from
 * workerData. Our decode workers are plain worker_threads, so give them a
 * global Worker first; web-worker then leaves the thread alone. Nothing in
 * a decode worker starts workers, so the stand-in only refuses.
 */
const g = globalThis as { Worker?: unknown };
if (typeof g.Worker !== 'function') {
  g.Worker = function Worker(): never {
    throw new Error('decode workers do not start workers');
  };
}
export {};
