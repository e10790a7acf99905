/**
 * Jobs in a worker thread or a child process of their own: starting the
 * module (the compiled .js next to the caller when it exists, else the .ts
 * source through tsx when running from sources in tests), and the one
 * convention both sides keep — the job posts `{result}` or `{error: {code,
 * message, detail}}` once, anything else is progress. A WsiError crosses as
 * itself; anything else is logged here and answered as INTERNAL.
 */
import { fork, type Serializable } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { setPriority } from 'node:os';
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

/** Something that posts job messages and ends (a Worker or a ChildProcess). */
interface JobRunner {
  on(event: 'message', listener: (msg: unknown) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'exit', listener: (code: number | null) => void): unknown;
}

/** Settles on the runner's `{result}` or `{error}` message, or its failure; `end` stops it after. */
function outcome<T>(runner: JobRunner, what: string, end: () => void, onMessage?: (msg: Record<string, unknown>) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let ended = false;
    const finish = (fn: () => void): void => {
      if (ended) return;
      ended = true;
      fn();
      end();
    };
    const internal = (detail: string): WsiError => {
      process.stderr.write(`${what} failed: ${detail}\n`);
      return new WsiError('INTERNAL', `the ${what} failed; nothing of it was saved`);
    };
    runner.on('message', (raw) => {
      const msg = raw as { result?: T; error?: SerializedError } & Record<string, unknown>;
      if ('result' in msg) return finish(() => resolve(msg.result as T));
      if (msg.error) {
        const e = msg.error;
        const known = isErrorCode(e.code) && e.code !== 'INTERNAL';
        return finish(() => reject(known ? new WsiError(e.code as ErrorCode, e.message, e.detail as Record<string, unknown> | undefined) : internal(e.stack ?? e.message)));
      }
      onMessage?.(msg);
    });
    runner.on('error', (err) => finish(() => reject(internal(err.stack ?? err.message))));
    runner.on('exit', (code) => finish(() => reject(internal(`it stopped (exit code ${code})`))));
  });
}

/** Runs one job in a worker thread; `onMessage` hears everything but the outcome. The worker ends with the job. */
export function runWorkerJob<T>(jsUrl: URL, workerData: unknown, what: string, onMessage?: (msg: Record<string, unknown>) => void): WorkerJob<T> {
  const worker = spawnModuleWorker(jsUrl, { workerData });
  return { worker, result: outcome<T>(worker, what, () => void worker.terminate(), onMessage) };
}

/**
 * Runs one job in a child process of its own, which is sent `data` as its
 * first message. Everything the job allocated — native decoders' memory and
 * allocator arenas included, which a worker thread leaves in the server —
 * goes back to the system when the process exits.
 */
export function runProcessJob<T>(jsUrl: URL, data: unknown, what: string, nice = 0): Promise<T> {
  const js = fileURLToPath(jsUrl);
  const built = existsSync(js);
  const child = fork(built ? js : js.replace(/\.js$/, '.ts'), [], {
    serialization: 'advanced',
    execArgv: built ? [] : ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  // background work yields the CPU to the server's event loop (thread-priority.ts); its threads inherit this
  if (nice > 0 && child.pid !== undefined) {
    try {
      setPriority(child.pid, nice);
    } catch {
      // it has already exited: outcome() reports why
    }
  }
  child.send(data as Serializable);
  return outcome<T>(child, what, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
}
