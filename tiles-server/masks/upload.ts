/**
 * The body of a label-image import: a PNG or TIFF as it is
 * (`image/png`, `image/tiff`), or `multipart/form-data` with a part `image`
 * and an optional part `classes` (a field or a file), parsed with busboy.
 */
import type { IncomingMessage } from 'node:http';
import busboy from 'busboy';
import { WsiError } from '../../src/core/errors.js';
import { readBody } from '../http/body.js';

export const MAX_IMPORT_BYTES = 256 * 1024 * 1024;
const MAX_TABLE_BYTES = 1 << 20;

export interface Upload {
  image: Buffer;
  /** The class table text, when the body carried one. */
  classes: string | null;
}

const tooLarge = (what: string, limit: number): WsiError =>
  new WsiError('PAYLOAD_TOO_LARGE', `the ${what} is larger than ${limit} bytes; import the label image in parts (x/y place each part)`, { limit });

function readMultipart(req: IncomingMessage, signal?: AbortSignal): Promise<Upload> {
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { fileSize: MAX_IMPORT_BYTES, files: 2, fields: 2, parts: 3, fieldSize: MAX_TABLE_BYTES } });
    } catch (err) {
      reject(new WsiError('BAD_REQUEST', `the multipart body cannot be read: ${(err as Error).message}`));
      return;
    }
    let image: Buffer | null = null;
    let classes: string | null = null;
    let failed = false;
    const fail = (err: WsiError): void => {
      if (failed) return;
      failed = true;
      req.unpipe(bb);
      req.resume();
      reject(err);
    };
    const take = (name: string, value: Buffer | string): void => {
      if (name === 'image') {
        if (image) return fail(new WsiError('BAD_REQUEST', 'the form has more than one part "image"'));
        image = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
      } else if (name === 'classes') {
        if (classes !== null) return fail(new WsiError('BAD_REQUEST', 'the form has more than one part "classes"'));
        classes = typeof value === 'string' ? value : value.toString('utf8');
      } else fail(new WsiError('BAD_REQUEST', `unexpected form part "${name.slice(0, 40)}"; send "image" and optionally "classes"`));
    };
    bb.on('file', (name, stream) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const limit = name === 'classes' ? MAX_TABLE_BYTES : MAX_IMPORT_BYTES;
      stream.on('data', (c: Buffer) => {
        size += c.length;
        if (size > limit) {
          stream.resume();
          fail(tooLarge(name === 'classes' ? 'class table' : 'label image', limit));
          return;
        }
        chunks.push(c);
      });
      stream.on('limit', () => fail(tooLarge('label image', MAX_IMPORT_BYTES)));
      stream.on('end', () => {
        if (!failed) take(name, Buffer.concat(chunks));
      });
    });
    bb.on('field', (name, value, info) => {
      if (info.valueTruncated) return fail(tooLarge('class table', MAX_TABLE_BYTES));
      take(name, value);
    });
    bb.on('partsLimit', () => fail(new WsiError('BAD_REQUEST', 'the form has too many parts; send "image" and optionally "classes"')));
    bb.on('error', (err) => fail(new WsiError('BAD_REQUEST', `the multipart body is malformed: ${(err as Error).message}`)));
    bb.on('close', () => {
      if (failed) return;
      if (!image || image.length === 0) return fail(new WsiError('BAD_REQUEST', 'the form has no part "image" (the label image)'));
      resolve({ image, classes });
    });
    signal?.addEventListener('abort', () => fail(new WsiError('BAD_REQUEST', 'request aborted')), { once: true });
    req.pipe(bb);
  });
}

export async function readUpload(req: IncomingMessage, signal?: AbortSignal): Promise<Upload> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type === 'multipart/form-data') return readMultipart(req, signal);
  if (type === 'image/png' || type === 'image/tiff') {
    const image = await readBody(req, MAX_IMPORT_BYTES, signal);
    if (image.length === 0) throw new WsiError('IMPORT_INVALID', 'the body is empty; send the label image');
    return { image, classes: null };
  }
  req.resume();
  throw new WsiError('UNSUPPORTED_MEDIA_TYPE', 'send the label image as image/png or image/tiff, or as multipart/form-data with parts "image" and "classes"');
}
