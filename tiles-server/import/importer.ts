/**
 * One import of a spooled file, all or nothing, in two threads that
 * overlap: a reader (parse-worker.ts, import-sink.ts) parses the file from
 * disk (never from the network; streamed for GeoJSON), validates each
 * object and prepares its row, while this side — the import's worker, on
 * a connection of its own — stages the batches before it in short
 * transactions of at most STAGE_OBJECTS objects or STAGE_VERTICES
 * vertices (store/import-staging.ts); clashing ids are renamed. Only when
 * the whole file has been read does one short transaction make it
 * visible. A malformed file, a full store or a cancel discards what was
 * staged. A model run's prediction file takes the same path: its objects'
 * scores are read, the rows are written as the run's read-only
 * predictions, and the commit marks the run imported (store/model-runs.ts).
 */
import type { Worker } from 'node:worker_threads';
import type { AnnotationClass } from '../../src/core/annotation.js';
import { WsiError, isErrorCode, type ErrorCode } from '../../src/core/errors.js';
import type { ImportReport } from '../formats/types.js';
import type { Db } from '../store/database.js';
import { ImportStaging, type PreparedRows, type PriorOperation, type StagingJob } from '../store/import-staging.js';
import type { WriteGate } from '../store/write-gate.js';
import { spawnModuleWorker, type SerializedError } from '../workers.js';
import { ImportCancelled, importError, validFormat, type ReadJob } from './import-sink.js';
import { IN_FLIGHT, STOP, readerControl } from './reader-control.js';

export { ImportCancelled, STAGE_OBJECTS, STAGE_VERTICES, validFormat } from './import-sink.js';

export interface ImportJob extends StagingJob, ReadJob {
  runId?: string;
  /** The request hash (slide, format, body) the operation id is recorded with. */
  hash: string;
}

export interface ImportProgress {
  bytesParsed: number;
  objects: number;
}

export type ImportOutcome = { report: ImportReport } | { prior: PriorOperation } | { cancelled: true };

type ReaderMessage =
  | { rows: PreparedRows; objects: number; bytesParsed: number }
  | { done: { report: ImportReport; classes: AnnotationClass[] } }
  | { cancelled: true }
  | { error: SerializedError };

/** How often a cancel is looked for while the reader works between two batches. */
const CANCEL_POLL_MS = 100;

/** The reader's error as this side's: the file's fault stays a WsiError; the rest is the server's. */
function readerError(e: SerializedError): Error {
  if (isErrorCode(e.code) && e.code !== 'INTERNAL') return new WsiError(e.code as ErrorCode, e.message, e.detail as Record<string, unknown> | undefined);
  return new Error(`the import's reader failed: ${e.stack ?? e.message}`);
}

/**
 * Starts the reader and stages each batch it posts, in order, as it
 * arrives; resolves with its report once the whole file is read and staged.
 */
function readAndStage(
  job: ImportJob,
  at: string,
  stage: (rows: PreparedRows) => void,
  cancelled: () => boolean,
  progress: (p: ImportProgress) => void,
): Promise<{ report: ImportReport; classes: AnnotationClass[] }> {
  const ctl = readerControl();
  const readJob: ReadJob = { format: job.format, path: job.path, slideMpp: job.slideMpp, slideSize: job.slideSize, ...(job.runId !== undefined ? { runId: job.runId, scoreKey: job.scoreKey ?? null, stamp: { author: job.author, at }, ...(job.blockObjects !== undefined ? { blockObjects: job.blockObjects } : {}) } : {}) };
  const reader: Worker = spawnModuleWorker(new URL('./parse-worker.js', import.meta.url), { workerData: { job: readJob, control: ctl.buffer } });
  const stop = (): void => {
    Atomics.store(ctl, STOP, 1);
    Atomics.notify(ctl, IN_FLIGHT);
  };
  const poll = setInterval(() => {
    if (cancelled()) stop();
  }, CANCEL_POLL_MS);
  return new Promise<{ report: ImportReport; classes: AnnotationClass[] }>((resolve, reject) => {
    let settled = false;
    const end = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearInterval(poll);
      stop();
      void reader.terminate();
      fn();
    };
    reader.on('message', (msg: ReaderMessage) => {
      if (settled) return;
      try {
        if ('rows' in msg) {
          if (cancelled()) throw new ImportCancelled();
          stage(msg.rows);
          Atomics.sub(ctl, IN_FLIGHT, 1);
          Atomics.notify(ctl, IN_FLIGHT);
          progress({ bytesParsed: msg.bytesParsed, objects: msg.objects });
        } else if ('done' in msg) end(() => resolve(msg.done));
        else if ('cancelled' in msg) throw new ImportCancelled();
        else throw readerError(msg.error);
      } catch (err) {
        end(() => reject(err));
      }
    });
    reader.on('error', (err) => end(() => reject(err)));
    reader.on('exit', (code) => end(() => reject(new Error(`the import's reader stopped (exit code ${code})`))));
  });
}

/**
 * Runs one import on `db` (a connection of its own). `cancelled()` is asked
 * before every transaction; `progress` hears how far it got; `gate` (the
 * server connection's) lets users' writes go first.
 */
export async function runImport(db: Db, job: ImportJob, cancelled: () => boolean, progress: (p: ImportProgress) => void, gate: WriteGate | null = null): Promise<ImportOutcome> {
  validFormat(job.format);
  const staging = new ImportStaging(db, gate);
  const prior = staging.prior(job.opId);
  if (prior) return { prior };
  const jobId = staging.begin(job);
  const at = new Date().toISOString();
  let renamed = 0;
  try {
    const { report, classes } = await readAndStage(job, at, (rows) => (renamed += staging.stageRows(jobId, job, at, rows)), cancelled, progress);
    report.renamedIds = renamed;
    if (cancelled()) throw new ImportCancelled();
    const done = staging.commit(jobId, job, job.hash, classes, (added) => {
      report.classesAdded = added;
      return report;
    }, report.imported);
    if (done.prior) {
      await discard(staging, jobId);
      return { prior: done.prior };
    }
    return { report };
  } catch (err) {
    // a discard that fails too (a full disk) leaves the rows hidden; the server discards them later
    await discard(staging, jobId).catch(() => undefined);
    if (err instanceof ImportCancelled) return { cancelled: true };
    throw importError(err);
  }
}

/** Removes a job's staged rows in short transactions, letting other writers in between. */
export async function discard(staging: ImportStaging, jobId: number): Promise<void> {
  while (!staging.discardSome(jobId)) await new Promise((r) => setImmediate(r));
}
