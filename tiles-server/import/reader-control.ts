/**
 * The shared memory between an import's writer (importer.ts) and its
 * reader thread (parse-worker.ts): an Int32Array with the number of
 * batches posted and not yet staged, and a stop flag the writer raises on
 * a cancel or a failure.
 */
export const IN_FLIGHT = 0;
export const STOP = 1;
/** Batches the reader may be ahead of the writer (a few MB at most). */
export const READ_AHEAD = 4;

export function readerControl(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(8));
}
