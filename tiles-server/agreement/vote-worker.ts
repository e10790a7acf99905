/**
 * Worker-thread entry for grouping readers' objects into voted objects
 * (object-votes.ts), so matching 10⁵ cells per reader never holds the
 * event loop; posts `{result}` or `{error}` once (the convention of
 * ../workers.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { serializeError } from '../workers.js';
import type { ObjectQuery, ReaderObjects } from './object-agreement.js';
import { groupObjects } from './object-votes.js';

const { sets, query } = workerData as { sets: ReaderObjects[]; query: ObjectQuery };
try {
  parentPort?.postMessage({ result: groupObjects(sets, query) });
} catch (caught) {
  parentPort?.postMessage({ error: serializeError(caught) });
}
