/**
 * Child-process entry for one AI-mask import (model-mask-import.ts), on a
 * database connection of its own, for the reason label-import-process.ts
 * gives: every byte the decoders took goes back to the system at exit.
 * The server sends `{dbPath, maxBytes, job}` once.
 */
import '../env-init.js';
import sharp from 'sharp';
import { AnnotationStore } from '../store/annotation-store.js';
import { openDatabase } from '../store/database.js';
import { MaskStore } from '../store/mask-store.js';
import { ModelMaskStore } from '../store/model-masks.js';
import { ModelRunStore } from '../store/model-runs.js';
import { serializeError } from '../workers.js';
import { importModelMask, type ModelMaskJob } from './model-mask-import.js';

sharp.cache(false);
sharp.concurrency(1);

process.once('message', (msg) => {
  const { dbPath, maxBytes, job } = msg as { dbPath: string; maxBytes: number; job: ModelMaskJob };
  const db = openDatabase(dbPath, { check: false, maxBytes });
  const reply = (m: unknown): void => {
    db.close();
    process.send?.(m, () => process.disconnect());
  };
  importModelMask(new MaskStore(db), new AnnotationStore(db), new ModelRunStore(db), new ModelMaskStore(db), job).then(
    (result) => reply({ result }),
    (caught: unknown) => reply({ error: serializeError(caught) }),
  );
});
