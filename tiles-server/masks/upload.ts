/**
 * The body of a label-image import: a PNG or TIFF as it is
 * (`image/png`, `image/tiff`), or `multipart/form-data` with a part `image`
 * and an optional part `classes` (a field or a file), parsed with busboy.
 * The image is spooled to a file (import/spool.ts: 0600, size-capped, hashed
 * on the way), never held in memory; the caller removes it when done.
 */
import { rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import busboy from 'busboy';
import { WsiError } from '../../src/core/errors.js';
import { drained } from '../http/body.js';
import { checkDeclaredLength, spoolBody, spoolStream, type Spooled } from '../import/spool.js';

export const MAX_IMPORT_BYTES = 256 * 1024 * 1024;
const MAX_TABLE_BYTES = 1 << 20;
/** A refused form up to this size is read to its end before the answer, so its sender gets the 400 rather than a broken pipe. */
const DRAIN_BYTES = 16 << 20;

export interface Upload {
  image: Spooled;
  /** The class table text, when the body carried one. */
  classes: string | null;
}

const HINT = 'Import the label image in parts (x/y place each part).';
const tooLarge = (what: string, limit: number): WsiError => new WsiError('PAYLOAD_TOO_LARGE', `the ${what} is larger than ${limit} bytes. ${HINT}`, { limit });

/** Stops reading a refused form; a small one is read to its end first, so its sender gets the answer rather than a broken pipe. */
export function refuseForm(req: IncomingMessage, bb: busboy.Busboy, err: WsiError, reject: (e: WsiError) => void, signal?: AbortSignal): void {
  req.unpipe(bb);
  req.resume();
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (declared <= DRAIN_BYTES) void drained(req, signal).then(() => reject(err));
  else reject(err);
}

function readMultipart(req: IncomingMessage, dir: string, signal?: AbortSignal): Promise<Upload> {
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { fileSize: MAX_IMPORT_BYTES + 1, files: 2, fields: 2, parts: 3, fieldSize: MAX_TABLE_BYTES } });
    } catch (err) {
      reject(new WsiError('BAD_REQUEST', `the multipart body cannot be read: ${(err as Error).message}`));
      return;
    }
    let image: Promise<Spooled> | null = null;
    let classes: string | null = null;
    let failed = false;
    const fail = (err: WsiError): void => {
      if (failed) return;
      failed = true;
      // a file already spooled goes too
      void image?.then((s) => rm(s.path, { force: true }), () => undefined);
      refuseForm(req, bb, err, reject, signal);
    };
    const setClasses = (value: string): void => {
      if (classes !== null) return fail(new WsiError('BAD_REQUEST', 'the form has more than one part "classes"'));
      classes = value;
    };
    bb.on('file', (name, stream) => {
      if (name === 'image') {
        if (image) {
          stream.resume();
          return fail(new WsiError('BAD_REQUEST', 'the form has more than one part "image"'));
        }
        image = spoolStream(stream, { dir, maxBytes: MAX_IMPORT_BYTES, hashPrefix: [], hint: HINT, ...(signal ? { signal } : {}) });
        image.catch((err: unknown) => fail(err instanceof WsiError ? err : new WsiError('BAD_REQUEST', 'the upload was interrupted')));
        return;
      }
      if (name !== 'classes') {
        stream.resume();
        return fail(new WsiError('BAD_REQUEST', `unexpected form part "${name.slice(0, 40)}"; send "image" and optionally "classes"`));
      }
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_TABLE_BYTES) {
          stream.resume();
          return fail(tooLarge('class table', MAX_TABLE_BYTES));
        }
        chunks.push(c);
      });
      stream.on('end', () => {
        if (!failed) setClasses(Buffer.concat(chunks).toString('utf8'));
      });
    });
    bb.on('field', (name, value, info) => {
      if (info.valueTruncated) return fail(tooLarge('class table', MAX_TABLE_BYTES));
      if (name === 'classes') return setClasses(value);
      if (name === 'image') return fail(new WsiError('BAD_REQUEST', 'the form part "image" must be a file'));
      fail(new WsiError('BAD_REQUEST', `unexpected form part "${name.slice(0, 40)}"; send "image" and optionally "classes"`));
    });
    bb.on('partsLimit', () => fail(new WsiError('BAD_REQUEST', 'the form has too many parts; send "image" and optionally "classes"')));
    bb.on('error', (err) => fail(new WsiError('BAD_REQUEST', `the multipart body is malformed: ${(err as Error).message}`)));
    bb.on('close', () => {
      if (failed) return;
      if (!image) return fail(new WsiError('BAD_REQUEST', 'the form has no part "image" (the label image)'));
      image.then(
        async (spooled) => {
          if (failed) return;
          if (spooled.bytes === 0) {
            await rm(spooled.path, { force: true });
            return fail(new WsiError('BAD_REQUEST', 'the form has no part "image" (the label image)'));
          }
          resolve({ image: spooled, classes });
        },
        () => undefined,
      );
    });
    signal?.addEventListener('abort', () => fail(new WsiError('BAD_REQUEST', 'request aborted')), { once: true });
    req.pipe(bb);
  });
}

/** Receives the upload; the caller removes `image.path` when done with it. */
export async function receiveUpload(req: IncomingMessage, dir: string, signal?: AbortSignal): Promise<Upload> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type === 'multipart/form-data') {
    checkDeclaredLength(req, MAX_IMPORT_BYTES + MAX_TABLE_BYTES + 64 * 1024, HINT);
    return readMultipart(req, dir, signal);
  }
  if (type === 'image/png' || type === 'image/tiff') {
    const image = await spoolBody(req, { dir, maxBytes: MAX_IMPORT_BYTES, hashPrefix: [], hint: HINT, ...(signal ? { signal } : {}) });
    if (image.bytes === 0) {
      await rm(image.path, { force: true });
      throw new WsiError('IMPORT_INVALID', 'the body is empty; send the label image');
    }
    return { image, classes: null };
  }
  throw new WsiError('UNSUPPORTED_MEDIA_TYPE', 'send the label image as image/png or image/tiff, or as multipart/form-data with parts "image" and "classes"');
}
