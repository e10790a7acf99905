/**
 * Worker-thread entry for matching readers' objects (object-agreement.ts's
 * matchReaders), so the matching of 10⁵ cells never holds the event loop;
 * posts `{result}` or `{error}` once (the convention of ../workers.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { serializeError } from '../workers.js';
import { matchReaders, type ObjectQuery, type ReaderObjects } from './object-agreement.js';

const { sets, query } = workerData as { sets: ReaderObjects[]; query: ObjectQuery };
try {
  parentPort?.postMessage({ result: matchReaders(sets, query) });
} catch (caught) {
  parentPort?.postMessage({ error: serializeError(caught) });
}
