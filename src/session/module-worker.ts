/**
 * Module workers that also start when the app's code comes from another
 * origin, as in a lab portal that embeds <wsi-viewer>: browsers refuse
 * `new Worker(url)` for another origin's script, so every worker starts
 * from a blob of the page's own origin that imports the script (the server
 * sends it with CORS to the origins it allows) and then says it started.
 * Import it as `Worker`, so Vite still finds `new Worker(new URL('…',
 * import.meta.url))` and bundles the worker; without a browser's Worker,
 * constructing one throws (callers fall back to running the work
 * in-process). A worker that does not start (its script refused by CORS, a
 * network error, an exception as it loads, a fetch that hangs) is told by
 * `whenBroken`, so callers end or re-route their calls instead of waiting
 * forever; the blob's URL is revoked once the worker has started or failed.
 */
/** What the blob's script posts once the worker's own script has run. */
const STARTED = '__portable-worker-started';

const broken = new WeakMap<Worker, Promise<Error>>();

/**
 * A URL a worker can fetch: absolute, resolved against the page (a worker
 * started from a blob would resolve a relative URL against the blob's).
 */
export function forWorker(url: string): string {
  return typeof location === 'undefined' ? url : new URL(url, location.href).href;
}

/** Resolves with an Error when the worker could not start; never, once it has. */
export function whenBroken(worker: Worker): Promise<Error> {
  return broken.get(worker) ?? new Promise<Error>(() => undefined);
}

/** A worker that has not said it started within this long counts as broken (a script fetch that hangs). */
const START_TIMEOUT_MS = 30_000;

function importer(url: URL): string {
  return URL.createObjectURL(new Blob([`import ${JSON.stringify(url.href)};\npostMessage(${JSON.stringify(STARTED)});\n`], { type: 'text/javascript' }));
}

function start(url: URL, options: WorkerOptions): Worker {
  if (typeof globalThis.Worker !== 'function') throw new Error('no Worker in this environment');
  // always through a blob that imports the script and then says it started: for another origin's
  // script this is the only way, and for every worker it tells a start that failed or hangs
  const blob = importer(url);
  const worker = new globalThis.Worker(blob, options);
  let started = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  broken.set(
    worker,
    new Promise<Error>((resolve) => {
      const fail = (why: string): void => {
        worker.removeEventListener('error', onError);
        resolve(new Error(`a background worker of the viewer could not start (${why})`));
      };
      const onError = (e: Event): void => {
        // an uncaught exception once started leaves the worker running
        if (started) return;
        fail(e instanceof ErrorEvent && e.message ? e.message : 'its script could not be loaded');
      };
      worker.addEventListener('error', onError);
      timer = setTimeout(() => {
        if (!started) fail(`it did not start within ${START_TIMEOUT_MS / 1000} s`);
      }, START_TIMEOUT_MS);
    }),
  );
  const settle = (e: Event): void => {
    if (e.type === 'message' && (e as MessageEvent).data !== STARTED) return;
    started = e.type === 'message';
    if (timer) clearTimeout(timer);
    URL.revokeObjectURL(blob);
    worker.removeEventListener('message', settle);
    worker.removeEventListener('error', settle);
  };
  worker.addEventListener('message', settle);
  worker.addEventListener('error', settle);
  return worker;
}

/** `new PortableWorker(url, options)`: a Worker of `url`, from any origin. */
export const PortableWorker = start as unknown as new (url: URL, options: WorkerOptions) => Worker;
