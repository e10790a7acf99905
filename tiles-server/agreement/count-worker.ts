/**
 * Worker-thread entry for one counting job (count-job.ts) on a read-only
 * database connection of its own; posts `{result}` or `{error}` once
 * (the convention of ../workers.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openAgreementReader } from '../store/agreement-store.js';
import { serializeError } from '../workers.js';
import { runCountJob, type CountJob } from './count-job.js';

const { dbPath, job } = workerData as { dbPath: string; job: CountJob };
try {
  const reader = openAgreementReader(dbPath);
  try {
    const result = runCountJob(reader.store, job);
    const transfer = result.map ? [result.map.tx.buffer, result.map.ty.buffer, result.map.sum.buffer, result.map.painted.buffer] : [];
    parentPort?.postMessage({ result }, transfer as ArrayBuffer[]);
  } finally {
    reader.close();
  }
} catch (caught) {
  parentPort?.postMessage({ error: serializeError(caught) });
}
