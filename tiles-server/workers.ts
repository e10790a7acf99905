/**
 * Worker threads for one job each: starting a worker_threads module (the
 * compiled .js next to the caller when it exists, else the .ts source
 * through tsx when running from sources in tests), and the one convention
 * both sides keep — the worker posts `{result}` or `{error: {code, message,
 * detail}}` once, anything else is progress. A WsiError crosses as itself;
 * anything else is logged here and answered as INTERNAL.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { WsiError, isErrorCode, type ErrorCode } from '../src/core/errors.js';
import { storeProblem } from './store/database.js';

export function spawnModuleWorker(jsUrl: URL, options: WorkerOptions = {}): Worker {
  if (existsSync(fileURLToPath(jsUrl))) return new Worker(jsUrl, options);
  const ts = new URL(jsUrl.href.replace(/\.js$/, '.ts'));
  // the ESM build of tsx's API (require.resolve gives the CommonJS one)
  const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/index\.cjs$/, 'index.mjs')).href;
  const boot = `import { register } from ${JSON.stringify(tsxApi)}; register(); await import(${JSON.stringify(ts.href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), options);
}

export interface SerializedError {
  code: string;
  message: string;
  detail?: unknown;
  stack?: string;
}

/** In the worker: what to post for an error (store failures become STORE_FULL/STORE_BUSY). */
export function serializeError(caught: unknown): SerializedError {
  const e = storeProblem(caught) as { code?: unknown; message?: string; detail?: unknown; stack?: string };
  return { code: typeof e.code === 'string' ? e.code : 'INTERNAL', message: e.message ?? String(caught), detail: e.detail, ...(e.stack ? { stack: e.stack } : {}) };
}

export interface WorkerJob<T> {
  worker: Worker;
  result: Promise<T>;
}

/** Runs one job in a worker; `onMessage` hears everything but the outcome. The worker ends with the job. */
export function runWorkerJob<T>(jsUrl: URL, workerData: unknown, what: string, onMessage?: (msg: Record<string, unknown>) => void): WorkerJob<T> {
  const worker = spawnModuleWorker(jsUrl, { workerData });
  const result = new Promise<T>((resolve, reject) => {
    let ended = false;
    const end = (fn: () => void): void => {
      if (ended) return;
      ended = true;
      fn();
      void worker.terminate();
    };
    const internal = (detail: string): WsiError => {
      process.stderr.write(`${what} failed: ${detail}\n`);
      return new WsiError('INTERNAL', `the ${what} failed; nothing of it was saved`);
    };
    worker.on('message', (msg: { result?: T; error?: SerializedError } & Record<string, unknown>) => {
      if ('result' in msg) return end(() => resolve(msg.result as T));
      if (msg.error) {
        const e = msg.error;
        const known = isErrorCode(e.code) && e.code !== 'INTERNAL';
        return end(() => reject(known ? new WsiError(e.code as ErrorCode, e.message, e.detail as Record<string, unknown> | undefined) : internal(e.stack ?? e.message)));
      }
      onMessage?.(msg);
    });
    worker.on('error', (err) => end(() => reject(internal(err.stack ?? err.message))));
    worker.on('exit', (code) => end(() => reject(internal(`the worker stopped (exit code ${code})`))));
  });
  return { worker, result };
}
