/**
 * worker_threads entry for the reading half of one import (import-sink.ts):
 * the spooled file in, prepared batches out, in order, then the report.
 * At most READ_AHEAD batches are in flight: past that this thread waits
 * (Atomics.wait on the shared counter the writer lowers as it stages), so
 * a file the store cannot keep up with never piles up in memory. The
 * writer's stop flag in the same memory ends it at the next batch.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { serializeError } from '../workers.js';
import { ImportCancelled, importError, readImport, type ReadJob } from './import-sink.js';
import { IN_FLIGHT, READ_AHEAD, STOP } from './reader-control.js';

const port = parentPort;
if (!port) throw new Error('parse-worker must run in a worker thread');
const { job, control } = workerData as { job: ReadJob; control: SharedArrayBuffer };
const ctl = new Int32Array(control);

const check = (): void => {
  if (Atomics.load(ctl, STOP) !== 0) throw new ImportCancelled();
};
let bytesParsed = 0;

readImport(
  job,
  check,
  (n) => (bytesParsed = n),
  (rows, objects) => {
    Atomics.add(ctl, IN_FLIGHT, 1);
    port.postMessage({ rows, objects, bytesParsed }, [rows.boxes.buffer as ArrayBuffer, ...(rows.scores ? [rows.scores.buffer as ArrayBuffer] : []), ...(rows.block ? [rows.block.frame.buffer as ArrayBuffer] : [])]);
    for (;;) {
      const n = Atomics.load(ctl, IN_FLIGHT);
      if (n < READ_AHEAD) return;
      check();
      Atomics.wait(ctl, IN_FLIGHT, n, 200);
    }
  },
).then(
  (done) => port.postMessage({ done }),
  (caught: unknown) => port.postMessage(caught instanceof ImportCancelled ? { cancelled: true } : { error: serializeError(importError(caught)) }),
);
