/**
 * Where a de-identified copy is written: a hidden temporary file next to the
 * destination, fsynced and renamed into place only after verification, so
 * a crash or a kill leaves the original and no output under the final name.
 * The sink is injectable (tests simulate a full disk). Leftover temporary
 * files of processes that died are swept before each run.
 */
import { open, readdir, rename, rm, statfs } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { WsiError } from '../../src/core/errors.js';
import { processAlive } from '../process-alive.js';

export interface OutputSink {
  write(data: Uint8Array, position: number): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

export type OpenSink = (path: string) => Promise<OutputSink>;

const DISK_FULL = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);

/** Maps a write failure to a clear error (DEID-12). */
export function writeError(err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code && DISK_FULL.has(code)) {
    return new WsiError('DEID_DISK_FULL', `Insufficient disk space: the de-identified copy could not be written (${code}); the original is untouched`);
  }
  return err;
}

const PATH_ERRORS: Record<string, { code: 'NOT_FOUND' | 'FORBIDDEN' | 'BAD_REQUEST'; what: string }> = {
  ENOENT: { code: 'NOT_FOUND', what: 'does not exist' },
  ENOTDIR: { code: 'NOT_FOUND', what: 'does not exist' },
  EACCES: { code: 'FORBIDDEN', what: 'may not be read or written' },
  EPERM: { code: 'FORBIDDEN', what: 'may not be read or written' },
  EISDIR: { code: 'BAD_REQUEST', what: 'is a folder, not a file' },
  EROFS: { code: 'FORBIDDEN', what: 'is on a read-only file system' },
};

/** Maps a file-system error on the input or output to a clear error; the message names no path (it may be a patient's name). */
export function pathError(err: unknown, which: 'input' | 'output'): unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const known = code ? PATH_ERRORS[code] : undefined;
  if (!known) return err;
  const subject = which === 'output' && known.code === 'NOT_FOUND' ? "output's folder" : which;
  return new WsiError(known.code, `the ${subject} ${known.what} (${code as string})`);
}

/** Writes through a file descriptor opened exclusively with mode 0600. */
export const fileSink: OpenSink = async (path) => {
  const fh = await open(path, 'wx', 0o600);
  return {
    async write(data, position) {
      let done = 0;
      while (done < data.byteLength) {
        const { bytesWritten } = await fh.write(data, done, data.byteLength - done, position + done);
        done += bytesWritten;
      }
    },
    sync: () => fh.sync(),
    close: () => fh.close(),
  };
};

const PARTIAL = /\.deid-partial-(\d+)-[0-9a-f]+$/;

export function partialPathFor(output: string): string {
  return join(dirname(output), `.${basename(output)}.deid-partial-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Removes temporary outputs left by processes that are no longer running. */
export async function sweepPartials(dir: string): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = PARTIAL.exec(name);
    if (!m || processAlive(Number(m[1]))) continue;
    // a DICOM folder's partial copy is a folder
    await rm(join(dir, name), { force: true, recursive: true });
    removed.push(name);
  }
  return removed;
}

/** Refuses early when the destination's file system has less free space than the copy needs. */
export async function checkFreeSpace(dir: string, needed: number): Promise<void> {
  let free: number;
  try {
    const st = await statfs(dir);
    free = Number(st.bavail) * Number(st.bsize);
  } catch {
    return; // not knowable here: the writes themselves will tell
  }
  if (free < needed) {
    throw new WsiError('DEID_DISK_FULL', `Insufficient disk space: the de-identified copy needs about ${needed} bytes and ${free} are free; the original is untouched`);
  }
}

/** Renames the verified temporary file into place and makes the rename durable. */
export async function commitOutput(partial: string, output: string): Promise<void> {
  await rename(partial, output);
  try {
    const dh = await open(dirname(output), 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch {
    // directories cannot be fsynced on every platform; the rename itself is atomic
  }
}

/** The SHA-256 of a file, read as a stream (the report's output hash). */
export async function sha256Of(path: string): Promise<string> {
  const h = createHash('sha256');
  const fh = await open(path, 'r');
  try {
    for await (const chunk of fh.createReadStream()) h.update(chunk as Buffer);
  } finally {
    await fh.close().catch(() => undefined);
  }
  return h.digest('hex');
}
