/**
 * Child-process entry for one label-image import (label-import.ts), on a
 * database connection of its own. A decoded label image is up to
 * MASK_IMPORT_MAX_PIXELS bytes, and libvips allocates more while decoding;
 * in a process of its own all of it goes back to the system at exit, so the
 * server's memory returns to where it was (measured by `npm run bench --
 * bombs`). The server sends `{dbPath, maxBytes, job}` once.
 */
import '../env-init.js';
import sharp from 'sharp';
import { AnnotationStore } from '../store/annotation-store.js';
import { openDatabase } from '../store/database.js';
import { MaskStore } from '../store/mask-store.js';
import { serializeError } from '../workers.js';
import { importLabelImage, type LabelJob } from './label-import.js';

sharp.cache(false);
sharp.concurrency(1);

process.once('message', (msg) => {
  const { dbPath, maxBytes, job } = msg as { dbPath: string; maxBytes: number; job: LabelJob };
  const db = openDatabase(dbPath, { check: false, maxBytes });
  const reply = (m: unknown): void => {
    db.close();
    process.send?.(m, () => process.disconnect());
  };
  importLabelImage(new MaskStore(db), new AnnotationStore(db), job).then(
    (result) => reply({ result }),
    (caught: unknown) => reply({ error: serializeError(caught) }),
  );
});
