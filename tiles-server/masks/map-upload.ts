/**
 * The body of a probability-map import (issue 13, AI masks):
 * `multipart/form-data` with one file part per class, the part's name being
 * the class's name in the project's palette, parsed with busboy. Each map
 * is spooled to a file of its own (import/spool.ts: 0600, size-capped,
 * hashed), never held in memory; the sizes of all maps together are capped
 * like one label image. The caller removes the files when done (also on a
 * refusal: every file spooled so far is removed here).
 */
import { rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import busboy from 'busboy';
import { WsiError } from '../../src/core/errors.js';
import { checkDeclaredLength, spoolStream, type Spooled } from '../import/spool.js';
import { MAX_IMPORT_BYTES, refuseForm } from './upload.js';

/** Class ids are 1–255: at most that many maps. */
const MAX_MAPS = 255;

export interface MapUpload {
  /** Class name → its spooled map, in the order sent. */
  maps: Array<{ name: string; file: Spooled }>;
}

export async function removeMaps(u: MapUpload): Promise<void> {
  await Promise.all(u.maps.map((m) => rm(m.file.path, { force: true })));
}

export function receiveMaps(req: IncomingMessage, dir: string, signal?: AbortSignal): Promise<MapUpload> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'multipart/form-data') {
    return Promise.reject(new WsiError('UNSUPPORTED_MEDIA_TYPE', 'send probability maps as multipart/form-data, one file part per class named by the class'));
  }
  checkDeclaredLength(req, MAX_IMPORT_BYTES + 64 * 1024, 'Send the maps at a coarser downsample.');
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { fileSize: MAX_IMPORT_BYTES + 1, files: MAX_MAPS, fields: 0, parts: MAX_MAPS } });
    } catch (err) {
      reject(new WsiError('BAD_REQUEST', `the multipart body cannot be read: ${(err as Error).message}`));
      return;
    }
    const pending: Array<{ name: string; file: Promise<Spooled> }> = [];
    /** Bytes received per part so far. */
    const received: number[] = [];
    let failed = false;
    const fail = (err: WsiError): void => {
      if (failed) return;
      failed = true;
      for (const p of pending) void p.file.then((s) => rm(s.path, { force: true }), () => undefined);
      refuseForm(req, bb, err, reject, signal);
    };
    bb.on('file', (name, stream) => {
      if (failed) return void stream.resume();
      if (pending.some((p) => p.name === name)) {
        stream.resume();
        return fail(new WsiError('MODEL_MASK_CLASSES', `the form has two maps for "${name.slice(0, 60)}"; send one map per class`));
      }
      const k = received.push(0) - 1;
      const file = spoolStream(stream, {
        dir,
        maxBytes: MAX_IMPORT_BYTES,
        hashPrefix: [name],
        hint: 'Send the maps at a coarser downsample.',
        onBytes: (n) => {
          received[k] = n;
          if (received.reduce((a, b) => a + b, 0) > MAX_IMPORT_BYTES) fail(new WsiError('PAYLOAD_TOO_LARGE', `the probability maps together are larger than ${MAX_IMPORT_BYTES} bytes`, { limit: MAX_IMPORT_BYTES }));
        },
        ...(signal ? { signal } : {}),
      });
      file.catch((err: unknown) => fail(err instanceof WsiError ? err : new WsiError('BAD_REQUEST', 'the upload was interrupted')));
      pending.push({ name, file });
    });
    bb.on('field', (name) => fail(new WsiError('BAD_REQUEST', `the form part "${name.slice(0, 40)}" is not a file; each part is one class's probability map (a PNG or TIFF file)`)));
    bb.on('filesLimit', () => fail(new WsiError('MODEL_MASK_CLASSES', `at most ${MAX_MAPS} probability maps (one per class)`)));
    bb.on('partsLimit', () => fail(new WsiError('MODEL_MASK_CLASSES', `at most ${MAX_MAPS} probability maps (one per class)`)));
    bb.on('error', (err) => fail(new WsiError('BAD_REQUEST', `the multipart body is malformed: ${(err as Error).message}`)));
    bb.on('close', () => {
      if (failed) return;
      Promise.all(pending.map(async (p) => ({ name: p.name, file: await p.file }))).then(
        (maps) => {
          if (!failed) resolve({ maps });
        },
        () => undefined,
      );
    });
    signal?.addEventListener('abort', () => fail(new WsiError('BAD_REQUEST', 'request aborted')), { once: true });
    req.pipe(bb);
  });
}
