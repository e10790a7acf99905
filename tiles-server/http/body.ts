/** Request bodies and preconditions, with size limits and clear errors. */
import type { IncomingMessage } from 'node:http';
import { WsiError } from '../../src/core/errors.js';
import { jsonTooDeep } from '../formats/nesting.js';

const DRAIN_FACTOR = 4;

/** Resolves once the request body has been read to its end (or the request is gone). */
export function drained(req: IncomingMessage, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (req.readableEnded) return resolve();
    const done = (): void => resolve();
    req.once('end', done);
    req.once('close', done);
    req.once('error', done);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export async function readBody(req: IncomingMessage, maxBytes: number, signal?: AbortSignal): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    // a body at most a few times the limit is read to its end (and dropped) before the answer, so a
    // client still writing it gets the 413 rather than a broken pipe; a larger one is answered at once
    if (declared <= DRAIN_FACTOR * maxBytes) await drained(req, signal);
    throw new WsiError('PAYLOAD_TOO_LARGE', `the request body is ${declared} bytes; the limit here is ${maxBytes} bytes. Split the change into smaller batches or use the import endpoint.`, { limit: maxBytes });
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    signal?.throwIfAborted();
    total += (chunk as Buffer).length;
    if (total > maxBytes) {
      req.resume();
      throw new WsiError('PAYLOAD_TOO_LARGE', `the request body exceeds ${maxBytes} bytes. Split the change into smaller batches or use the import endpoint.`, { limit: maxBytes });
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function readJson(req: IncomingMessage, maxBytes: number, signal?: AbortSignal): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') throw new WsiError('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
  const buf = await readBody(req, maxBytes, signal);
  // refused before parsing: what reads the value afterwards (JSON.stringify, validators) recurses
  const deep = jsonTooDeep(buf);
  if (deep) throw new WsiError('BAD_REQUEST', `the body is nested more than ${deep.limit} levels deep (line ${deep.line}, column ${deep.column})`, { ...deep });
  try {
    return JSON.parse(buf.toString('utf8')) as unknown;
  } catch (err) {
    throw new WsiError('BAD_REQUEST', `the body is not valid JSON: ${(err as Error).message}`);
  }
}

/** The version an If-Match header names ("3", W/"3" or 3), or null when absent. */
export function ifMatchVersion(req: IncomingMessage): number | null {
  const h = req.headers['if-match'];
  if (h === undefined) return null;
  const m = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(h);
  if (!m) throw new WsiError('BAD_REQUEST', 'If-Match must name one annotation version, e.g. "3"');
  return Number(m[1]);
}

export function requireIfMatch(req: IncomingMessage): number {
  const v = ifMatchVersion(req);
  if (v === null) throw new WsiError('PRECONDITION_REQUIRED', 'send If-Match with the version you edited (from the ETag), so a stale write cannot overwrite a newer one');
  return v;
}

/** The operation id that makes a retried mutation safe (Idempotency-Key header). */
export function operationId(req: IncomingMessage): string {
  const h = req.headers['idempotency-key'];
  if (typeof h !== 'string' || !/^[A-Za-z0-9_.:-]{8,128}$/.test(h)) {
    throw new WsiError('OPERATION_ID_REQUIRED', 'send an Idempotency-Key header (8–128 characters of [A-Za-z0-9_.:-]) with every change, and the same key when you retry it');
  }
  return h;
}
