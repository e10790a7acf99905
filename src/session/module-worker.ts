/**
 * Module workers that also start when the app's code comes from another
 * origin, as in a lab portal that embeds <wsi-viewer>: browsers refuse
 * `new Worker(url)` for another origin's script, so there the worker starts
 * from a blob of the page's own origin that imports the script (the server
 * sends it with CORS to the origins it allows). Import it as `Worker`, so
 * Vite still finds `new Worker(new URL('…', import.meta.url))` and bundles
 * the worker; without a browser's Worker, constructing one throws (callers
 * fall back to running the work in-process). A worker that fails later (its
 * script refused by CORS, a network error, a crash) is told by `whenBroken`,
 * so callers end or re-route their calls instead of waiting forever; a
 * blob's URL is revoked once its worker has started or failed.
 */
/** What the blob's script posts once the worker's own script has run. */
const STARTED = '__portable-worker-started';

const broken = new WeakMap<Worker, Promise<Error>>();

/** Resolves with an Error when the worker fails (fires 'error'); never, while it works. */
export function whenBroken(worker: Worker): Promise<Error> {
  return broken.get(worker) ?? new Promise<Error>(() => undefined);
}
function sameOrigin(url: URL): boolean {
  return typeof location === 'undefined' || url.origin === location.origin;
}

function importer(url: URL): string {
  return URL.createObjectURL(new Blob([`import ${JSON.stringify(url.href)};\npostMessage(${JSON.stringify(STARTED)});\n`], { type: 'text/javascript' }));
}

function start(url: URL, options: WorkerOptions): Worker {
  if (typeof globalThis.Worker !== 'function') throw new Error('no Worker in this environment');
  const blob = sameOrigin(url) ? null : importer(url);
  const worker = new globalThis.Worker(blob ?? url, options);
  let started = false;
  broken.set(
    worker,
    new Promise<Error>((resolve) => {
      const onError = (e: Event): void => {
        // a script that could not be loaded fires a plain Event; an uncaught exception later an ErrorEvent,
        // after which the worker still runs (unless its blob never said it had started)
        if (e instanceof ErrorEvent && (started || !blob)) return;
        worker.removeEventListener('error', onError);
        resolve(new Error(`a background worker of the viewer could not start (${e instanceof ErrorEvent ? e.message : 'its script could not be loaded'})`));
      };
      worker.addEventListener('error', onError);
    }),
  );
  if (blob) {
    const revoke = (e: Event): void => {
      if (e.type === 'message' && (e as MessageEvent).data !== STARTED) return;
      started = e.type === 'message';
      URL.revokeObjectURL(blob);
      worker.removeEventListener('message', revoke);
      worker.removeEventListener('error', revoke);
    };
    worker.addEventListener('message', revoke);
    worker.addEventListener('error', revoke);
  }
  return worker;
}

/** `new PortableWorker(url, options)`: a Worker of `url`, from any origin. */
export const PortableWorker = start as unknown as new (url: URL, options: WorkerOptions) => Worker;
