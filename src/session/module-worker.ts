/**
 * Module workers that also start when the app's code comes from another
 * origin, as in a lab portal that embeds <wsi-viewer>: browsers refuse
 * `new Worker(url)` for another origin's script, so there the worker starts
 * from a blob of the page's own origin that imports the script (the server
 * sends it with CORS to the origins it allows). Import it as `Worker`, so
 * Vite still finds `new Worker(new URL('…', import.meta.url))` and bundles
 * the worker; without a browser's Worker, constructing one throws (callers
 * fall back to running the work in-process).
 */
function sameOrigin(url: URL): boolean {
  return typeof location === 'undefined' || url.origin === location.origin;
}

function importer(url: URL): string {
  return URL.createObjectURL(new Blob([`import ${JSON.stringify(url.href)};\n`], { type: 'text/javascript' }));
}

function start(url: URL, options: WorkerOptions): Worker {
  if (typeof globalThis.Worker !== 'function') throw new Error('no Worker in this environment');
  return new globalThis.Worker(sameOrigin(url) ? url : importer(url), options);
}

/** `new PortableWorker(url, options)`: a Worker of `url`, from any origin. */
export const PortableWorker = start as unknown as new (url: URL, options: WorkerOptions) => Worker;
