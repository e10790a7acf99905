/**
 * Spools an upload to a temporary file before anything is parsed or
 * written, so no lock and no transaction ever waits on the network: a
 * client sending 1 byte/s holds a socket and a file, nothing else. The file
 * is created 0600 in DATA_DIR/imports (the same disk as the database, so a
 * full disk is one condition), the size cap is checked against
 * Content-Length before a byte is read and again while the body streams
 * (chunked uploads), and the request hash for the Idempotency-Key is taken
 * on the way. A failed, refused or cancelled upload leaves no file behind.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { WsiError } from '../../src/core/errors.js';

export interface Spooled {
  path: string;
  bytes: number;
  /** sha256 of the hash prefix parts and the body. */
  hash: string;
}

export interface SpoolOptions {
  dir: string;
  maxBytes: number;
  /** Parts hashed before the body (slide id, format, …), each followed by a NUL. */
  hashPrefix: string[];
  onBytes?: (received: number) => void;
  /** Aborting stops the upload at once, stalled or not; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** What a client over the limit can do. */
  hint?: string;
}

const IMPORT_HINT = 'Split the file, or ask the administrator to raise IMPORT_MAX_MB.';

export function tooLarge(limit: number, declared?: number, hint = IMPORT_HINT): WsiError {
  return new WsiError(
    'PAYLOAD_TOO_LARGE',
    declared === undefined
      ? `the upload exceeds the limit of ${limit} bytes; nothing was imported. ${hint}`
      : `the upload is ${declared} bytes; the limit is ${limit} bytes, so nothing was read or imported. ${hint}`,
    { limit },
  );
}

/** The declared body length, refused with 413 when over `maxBytes` (call before reading anything). */
export function checkDeclaredLength(req: IncomingMessage, maxBytes: number, hint?: string): number | null {
  const raw = req.headers['content-length'];
  if (raw === undefined) return null;
  const declared = Number(raw);
  if (!Number.isSafeInteger(declared) || declared < 0) throw new WsiError('BAD_REQUEST', 'Content-Length is not a byte count');
  if (declared > maxBytes) throw tooLarge(maxBytes, declared, hint);
  return declared;
}

/** Makes the spool folder (0700) and removes files a stopped server left there. */
export function prepareSpoolDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const name of readdirSync(dir)) if (name.endsWith('.part')) rmSync(join(dir, name), { force: true });
}

/** Spools a request body (its Content-Length checked first). */
export function spoolBody(req: IncomingMessage, opts: SpoolOptions): Promise<Spooled> {
  checkDeclaredLength(req, opts.maxBytes, opts.hint);
  return spoolStream(req, opts);
}

/** Spools any stream of bytes (a request body, or one part of a multipart form). */
export async function spoolStream(req: Readable, opts: SpoolOptions): Promise<Spooled> {
  opts.signal?.throwIfAborted();
  const path = join(opts.dir, `${randomUUID()}.part`);
  const file = await open(path, 'wx', 0o600);
  const hash = createHash('sha256');
  for (const p of opts.hashPrefix) hash.update(p).update('\0');
  let bytes = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      let writing: Promise<unknown> = Promise.resolve();
      let failed = false;
      const stop = (err: unknown): void => {
        if (failed) return;
        failed = true;
        req.off('data', onData);
        // stop reading (the answer closes the connection); never destroy it, so the client gets the answer
        req.pause();
        reject(err);
      };
      const onData = (chunk: Buffer): void => {
        bytes += chunk.length;
        if (bytes > opts.maxBytes) return stop(tooLarge(opts.maxBytes, undefined, opts.hint));
        hash.update(chunk);
        req.pause();
        writing = file.write(chunk).then(
          () => {
            opts.onBytes?.(bytes);
            if (!failed) req.resume();
          },
          (err: NodeJS.ErrnoException) => stop(err.code === 'ENOSPC' ? new WsiError('STORE_FULL', 'the disk is full: the upload could not be stored, and nothing was imported') : err),
        );
      };
      const onAbort = (): void => stop(opts.signal?.reason);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      let ended = false;
      req.on('data', onData);
      req.once('end', () => {
        ended = true;
        opts.signal?.removeEventListener('abort', onAbort);
        void writing.then(() => (failed ? undefined : resolve()));
      });
      req.once('error', (err) => stop(err));
      req.once('close', () => {
        if (!ended) stop(new DOMException('the upload was interrupted', 'AbortError'));
      });
      req.resume();
    });
  } catch (err) {
    await file.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw err;
  }
  await file.close();
  return { path, bytes, hash: hash.digest('hex') };
}
