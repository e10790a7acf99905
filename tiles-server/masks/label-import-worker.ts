/**
 * worker_threads entry for one label-image import (label-import.ts) on a
 * database connection of its own. When the thread ends, the decoded image
 * and every buffer it made go with it: the server's memory is back where
 * it was, whatever its garbage collector does next.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { AnnotationStore } from '../store/annotation-store.js';
import { openDatabase } from '../store/database.js';
import { MaskStore } from '../store/mask-store.js';
import { serializeError } from '../workers.js';
import { importLabelImage, type LabelJob } from './label-import.js';

const port = parentPort;
if (!port) throw new Error('label-import-worker must run in a worker thread');
const { dbPath, maxBytes, job } = workerData as { dbPath: string; maxBytes: number; job: LabelJob };

const db = openDatabase(dbPath, { check: false, maxBytes });
importLabelImage(new MaskStore(db), new AnnotationStore(db), job).then(
  (result) => {
    db.close();
    port.postMessage({ result });
  },
  (caught: unknown) => {
    db.close();
    port.postMessage({ error: serializeError(caught) });
  },
);
