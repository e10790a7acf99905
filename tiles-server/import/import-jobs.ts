/**
 * Annotation imports as jobs the API can follow and cancel. A job is keyed
 * by its Idempotency-Key (the operation id the client chose) and goes
 * receiving (the body is spooled to DATA_DIR/imports, spool.ts) → queued →
 * importing (a worker thread, at most `workers` at once, staging in short
 * transactions) → done | failed | cancelled. Nothing is read from the
 * network while a transaction is open, so a stalled upload holds a socket
 * and a file, never the store. Finished jobs are remembered for a while for
 * progress queries; after that the recorded operation answers.
 *
 * The same key sent again while its job runs waits for that job, then gets
 * its recorded answer (or a 422 if the body differs).
 */
import { rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { WsiError, isAbortError, type Problem } from '../../src/core/errors.js';
import type { ImportStaging, PriorOperation } from '../store/import-staging.js';
import { runWorkerJob } from '../workers.js';
import { discard, validFormat, type ImportJob, type ImportOutcome, type ImportProgress } from './importer.js';
import { checkDeclaredLength, prepareSpoolDir, spoolBody, type Spooled } from './spool.js';

export type ImportState = 'receiving' | 'queued' | 'importing' | 'cancelling' | 'done' | 'failed' | 'cancelled';

export interface ImportAnswer {
  status: number;
  body: Record<string, unknown>;
}

export interface ImportsOptions {
  dbPath: string;
  dbMaxBytes: number;
  dataDir: string;
  /** Largest upload (IMPORT_MAX_MB). */
  maxBytes: number;
  /** Imports parsed at once (each a worker thread). */
  workers?: number;
  /** Imports receiving or queued at once; past it 503 with Retry-After. */
  maxPending?: number;
  /** How long a finished job stays queryable by its key (ms). */
  keepMs?: number;
}

export interface StartRequest {
  slideId: string;
  opId: string;
  format: string;
  author: string;
  slideMpp: number | null;
  /** Level-0 size: objects outside it are counted in the report. */
  slideSize: { width: number; height: number } | null;
  body: IncomingMessage;
  /** The request's own signal: a client that leaves mid-upload abandons the import. */
  signal: AbortSignal;
  /** Told when the whole body is on disk and the import is queued. */
  onReceived?: () => void;
  /** The file is a model run's predictions (read-only objects with scores; store/model-runs.ts). */
  run?: { id: string; scoreKey: string | null };
}

interface Job {
  slideId: string;
  opId: string;
  format: string;
  state: ImportState;
  bytesReceived: number;
  bytesExpected: number | null;
  progress: ImportProgress;
  startedAt: string;
  finishedAt: string | null;
  answer: ImportAnswer | null;
  error: Problem | null;
  /** Stops the upload or takes the job out of the queue. */
  abort: AbortController;
  /** Shared with the worker: non-zero = stop at the next transaction. */
  cancelFlag: Int32Array;
  worker: Worker | null;
  /** The spooled body, once received (removed when the job ends). */
  spoolPath: string | null;
  run: (() => void) | null;
  settled: Promise<ImportAnswer>;
  settle: (a: ImportAnswer | PromiseLike<ImportAnswer>) => void;
  fail: (e: unknown) => void;
}

const cancelledError = (): WsiError => new WsiError('IMPORT_CANCELLED', 'the import was cancelled; nothing of it was saved');

function replay(prior: PriorOperation, slideId: string, hash: string, opId: string): ImportAnswer {
  if (prior.hash !== hash || prior.slideId !== slideId) throw new WsiError('IDEMPOTENCY_KEY_REUSED', `operation id ${opId} was already used for a different request`);
  return { status: 200, body: { ...(JSON.parse(prior.response) as Record<string, unknown>), replayed: true } };
}

/** What the operation id's request hash covers besides the body: the slide, the format, and a model run's id. */
function hashPrefix(r: StartRequest): string[] {
  return r.run ? [r.slideId, r.format, r.run.id] : [r.slideId, r.format];
}

export class ImportJobs {
  private readonly jobs = new Map<string, Job>();
  private readonly queue: Job[] = [];
  private running = 0;
  private readonly dir: string;
  private closed = false;
  private sweeping = false;

  constructor(
    private readonly staging: ImportStaging,
    private readonly opts: ImportsOptions,
  ) {
    this.dir = join(opts.dataDir, 'imports');
  }

  get spoolDir(): string {
    return this.dir;
  }

  /**
   * Clears what a stopped server left: spool files, and imports it was
   * staging (discarded in short transactions, in the background).
   */
  recover(): Promise<void> {
    prepareSpoolDir(this.dir);
    const left = this.staging.unfinished();
    return (async () => {
      for (const id of left) await discard(this.staging, id);
    })();
  }

  /** Finishes, in the background, discards a worker could not finish (a full disk, say). */
  private sweep(): void {
    if (this.sweeping) return;
    this.sweeping = true;
    void (async () => {
      try {
        for (const id of this.staging.abandoned()) await discard(this.staging, id);
      } catch {
        // still failing: the next failed import, or the next start, tries again
      } finally {
        this.sweeping = false;
      }
    })();
  }

  /** Receives, queues and runs one import; resolves with the answer for the POST. */
  async start(r: StartRequest): Promise<ImportAnswer> {
    validFormat(r.format);
    // before a byte is read: a 10 GB Content-Length is refused here
    const declared = checkDeclaredLength(r.body, this.opts.maxBytes);
    const earlier = this.jobs.get(r.opId);
    if (earlier && !earlier.finishedAt) {
      // the same key again while its import runs (a client retrying after a dropped
      // connection): read this body too, then answer as a retry after that import would be
      const spooled = await spoolBody(r.body, { dir: this.dir, maxBytes: this.opts.maxBytes, hashPrefix: hashPrefix(r), signal: r.signal });
      await earlier.settled.catch(() => undefined);
      return this.afterReceiving(this.register(r, declared, spooled.bytes), r, spooled);
    }
    const pending = [...this.jobs.values()].filter((j) => j.state === 'receiving' || j.state === 'queued').length;
    if (pending >= (this.opts.maxPending ?? 16)) throw new WsiError('OVERLOADED', `${pending} imports are already being received or waiting; retry shortly`);
    const job = this.register(r, declared, 0);
    let spooled: Spooled;
    try {
      spooled = await spoolBody(r.body, {
        dir: this.dir,
        maxBytes: this.opts.maxBytes,
        hashPrefix: hashPrefix(r),
        signal: AbortSignal.any([r.signal, job.abort.signal]),
        onBytes: (n) => (job.bytesReceived = n),
      });
    } catch (err) {
      const e = job.abort.signal.aborted ? cancelledError() : err;
      this.failed(job, e);
      throw e;
    }
    return this.afterReceiving(job, r, spooled);
  }

  /** The body is on disk: replay a recorded answer, or queue the import. */
  private async afterReceiving(job: Job, r: StartRequest, spooled: Spooled): Promise<ImportAnswer> {
    const prior = this.staging.prior(r.opId);
    if (prior) {
      await rm(spooled.path, { force: true });
      try {
        const answer = replay(prior, r.slideId, spooled.hash, r.opId);
        this.done(job, answer);
        return answer;
      } catch (err) {
        this.failed(job, err);
        throw err;
      }
    }
    const work: ImportJob = {
      slideId: r.slideId,
      opId: r.opId,
      format: r.format,
      author: r.author,
      slideMpp: r.slideMpp,
      slideSize: r.slideSize,
      path: spooled.path,
      hash: spooled.hash,
      ...(r.run ? { runId: r.run.id, scoreKey: r.run.scoreKey } : {}),
    };
    job.state = 'queued';
    job.spoolPath = spooled.path;
    job.run = () => this.runWorker(job, work);
    this.queue.push(job);
    r.onReceived?.();
    this.pump();
    return job.settled;
  }

  private register(r: StartRequest, declared: number | null, received: number): Job {
    let settle!: Job['settle'];
    let fail!: Job['fail'];
    const settled = new Promise<ImportAnswer>((res, rej) => {
      settle = res;
      fail = rej;
    });
    settled.catch(() => undefined);
    const job: Job = {
      slideId: r.slideId,
      opId: r.opId,
      format: r.format,
      state: 'receiving',
      bytesReceived: received,
      bytesExpected: declared,
      progress: { bytesParsed: 0, objects: 0 },
      startedAt: new Date().toISOString(),
      finishedAt: null,
      answer: null,
      error: null,
      abort: new AbortController(),
      cancelFlag: new Int32Array(new SharedArrayBuffer(4)),
      worker: null,
      spoolPath: null,
      run: null,
      settled,
      settle,
      fail,
    };
    this.jobs.set(r.opId, job);
    return job;
  }

  private pump(): void {
    while (!this.closed && this.running < (this.opts.workers ?? 2) && this.queue.length > 0) {
      const job = this.queue.shift() as Job;
      if (this.running++ === 0) this.staging.checkpointsByImports(true);
      job.state = 'importing';
      (job.run as () => void)();
    }
  }

  private runWorker(job: Job, work: ImportJob): void {
    const run = runWorkerJob<ImportOutcome>(
      new URL('./import-worker.js', import.meta.url),
      { dbPath: this.opts.dbPath, job: work, maxBytes: this.opts.dbMaxBytes, cancel: job.cancelFlag.buffer, gate: this.staging.writeGate },
      'import',
      (msg) => {
        if (msg['progress']) job.progress = msg['progress'] as ImportProgress;
      },
    );
    job.worker = run.worker;
    const answer = run.result.then((o): ImportAnswer => {
      if ('report' in o) return { status: 201, body: o.report as unknown as Record<string, unknown> };
      if ('cancelled' in o) throw cancelledError();
      return replay(o.prior, work.slideId, work.hash, work.opId);
    });
    const end = (settle: () => void): void => {
      job.worker = null;
      if (--this.running === 0) this.staging.checkpointsByImports(false);
      void rm(work.path, { force: true }).finally(() => {
        settle();
        this.pump();
      });
    };
    answer.then(
      (a) => end(() => this.done(job, a)),
      (err: unknown) =>
        end(() => {
          this.failed(job, err);
          this.sweep();
        }),
    );
  }

  private done(job: Job, answer: ImportAnswer): void {
    if (!this.ended(job)) return;
    job.state = 'done';
    job.answer = answer;
    job.settle(answer);
  }

  private failed(job: Job, err: unknown): void {
    if (!this.ended(job)) return;
    const problem: Problem =
      err instanceof WsiError ? err.toProblem() : isAbortError(err) ? { code: 'BAD_REQUEST', message: 'the upload was interrupted; nothing was imported' } : { code: 'INTERNAL', message: 'the import failed; nothing of it was saved' };
    job.state = problem.code === 'IMPORT_CANCELLED' ? 'cancelled' : 'failed';
    job.error = problem;
    job.fail(err);
  }

  /** Marks a job finished (false if it already was) and forgets it after a while. */
  private ended(job: Job): boolean {
    if (job.finishedAt) return false;
    job.finishedAt = new Date().toISOString();
    const timer = setTimeout(() => {
      if (this.jobs.get(job.opId) === job) this.jobs.delete(job.opId);
    }, this.opts.keepMs ?? 15 * 60_000);
    timer.unref();
    return true;
  }

  private describe(job: Job): Record<string, unknown> {
    return {
      opId: job.opId,
      format: job.format,
      state: job.state,
      bytesReceived: job.bytesReceived,
      bytesExpected: job.bytesExpected,
      bytesParsed: job.progress.bytesParsed,
      objects: job.progress.objects,
      startedAt: job.startedAt,
      finishedAt: job.finishedAt,
      ...(job.answer ? { report: job.answer.body } : {}),
      ...(job.error ? { error: job.error } : {}),
    };
  }

  /** Where an import of this slide stands (404 for an unknown key or another slide's). */
  progress(slideId: string, opId: string): Record<string, unknown> {
    const job = this.jobs.get(opId);
    if (job && job.slideId === slideId) return this.describe(job);
    const prior = this.staging.prior(opId);
    // a finished import that is no longer in memory: its recorded answer (only an import's)
    if (prior && prior.slideId === slideId) {
      const report = JSON.parse(prior.response) as Record<string, unknown>;
      if (typeof report['format'] === 'string' && 'imported' in report) return { opId, format: report['format'], state: 'done', report };
    }
    throw new WsiError('IMPORT_NOT_FOUND', `no import ${opId} on this slide`);
  }

  /**
   * Cancels an import: a running upload stops at once, a queued one leaves
   * the queue, an importing one stops before its next transaction and
   * discards what it staged. Answers where it then stands.
   */
  async cancel(slideId: string, opId: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const job = this.jobs.get(opId);
    if (!job || job.slideId !== slideId) {
      this.progress(slideId, opId); // 404, or a finished import
      throw new WsiError('IMPORT_FINISHED', `import ${opId} has finished; delete its annotations instead`);
    }
    switch (job.state) {
      case 'receiving':
        job.abort.abort(cancelledError());
        // the upload stops at once; answer once its file is gone
        await job.settled.catch(() => undefined);
        return { status: 200, body: this.describe(job) };
      case 'queued': {
        const i = this.queue.indexOf(job);
        if (i >= 0) this.queue.splice(i, 1);
        this.failed(job, cancelledError());
        if (job.spoolPath) await rm(job.spoolPath, { force: true });
        return { status: 200, body: this.describe(job) };
      }
      case 'importing':
      case 'cancelling':
        Atomics.store(job.cancelFlag, 0, 1);
        job.state = 'cancelling';
        return { status: 202, body: this.describe(job) };
      case 'cancelled':
        return { status: 200, body: this.describe(job) };
      default:
        throw new WsiError('IMPORT_FINISHED', `import ${opId} has ${job.state === 'done' ? 'been committed; delete its annotations instead' : 'already failed; nothing of it was saved'}`);
    }
  }

  /** Stops every import (server shutdown): uploads are dropped, workers end, staged rows are discarded at the next start. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.jobs.values()) {
      if (job.state === 'receiving') job.abort.abort(cancelledError());
      if (job.worker) Atomics.store(job.cancelFlag, 0, 1);
    }
    await Promise.all([...this.jobs.values()].map((j) => j.worker?.terminate()));
  }
}

