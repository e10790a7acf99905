import { readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { WsiError } from '../../src/core/errors.js';
import type { SyncReads } from './sync-reads.js';

/** Random access to the bytes of one file; every read is checked for length. */
export interface ByteSource {
  readonly size: number;
  read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer>;
  close(): Promise<void>;
}

/**
 * Reads a file through one descriptor. A short read means the file shrank.
 * With a `SyncReads` policy, small reads are made synchronously (from the
 * page cache, see sync-reads.ts); the rest go through libuv's thread pool.
 */
export class FileByteSource implements ByteSource {
  /** Until when (the policy's clock) this file's reads go through the pool after a slow one; 0: not held. */
  private heldUntil = 0;

  private constructor(
    private readonly handle: FileHandle,
    readonly size: number,
    /** Device and inode of the file opened (what the descriptor reads, whatever its path names later). */
    readonly identity: { dev: number; ino: number },
    private readonly sync: SyncReads | null,
  ) {}

  static async open(path: string, sync: SyncReads | null = null): Promise<FileByteSource> {
    const handle = await open(path, 'r');
    try {
      const st = await handle.stat();
      return new FileByteSource(handle, st.size, { dev: st.dev, ino: st.ino }, sync);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    signal?.throwIfAborted();
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new WsiError('TIFF_BAD_OFFSET', `invalid read at ${offset} of ${length} bytes`);
    }
    if (offset + length > this.size) {
      throw new WsiError('TIFF_TRUNCATED', `read of ${length} bytes at ${offset} runs past the end of the file (${this.size} bytes)`, {
        offset,
        length,
        fileSize: this.size,
      });
    }
    const buf = Buffer.allocUnsafe(length);
    const sync = this.sync;
    if (sync?.wants(length, this.heldUntil)) {
      const start = sync.now();
      try {
        for (let done = 0; done < length; ) done += this.counted(readNow(this.handle.fd, buf, done, length - done, offset + done), offset, length, done);
      } finally {
        this.heldUntil = sync.tookFrom(start);
      }
      return buf;
    }
    for (let done = 0; done < length; ) done += this.counted((await this.handle.read(buf, done, length - done, offset + done).catch(unavailable)).bytesRead, offset, length, done);
    return buf;
  }

  /** A read's byte count, checked: none means the file ended early. */
  private counted(bytesRead: number, offset: number, length: number, done: number): number {
    if (bytesRead === 0) {
      throw new WsiError('TIFF_TRUNCATED', `file ended after ${offset + done} bytes while reading ${length} bytes at ${offset}`, {
        offset,
        length,
        fileSize: this.size,
      });
    }
    return bytesRead;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** A positional read on the loop's thread; a failed one says the storage is unavailable, as a pool read does. */
function readNow(fd: number, buf: Buffer, at: number, length: number, position: number): number {
  try {
    return readSync(fd, buf, at, length, position);
  } catch (err) {
    return unavailable(err);
  }
}

function unavailable(err: unknown): never {
  throw new WsiError('STORAGE_UNAVAILABLE', `slide storage read failed: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
}

/** A ByteSource over a buffer, for tests and generated data. */
export class BufferByteSource implements ByteSource {
  constructor(private readonly data: Uint8Array) {}

  get size(): number {
    return this.data.byteLength;
  }

  read(offset: number, length: number): Promise<Buffer> {
    if (offset < 0 || length < 0 || offset + length > this.data.byteLength) {
      return Promise.reject(new WsiError('TIFF_TRUNCATED', `read of ${length} bytes at ${offset} runs past the end (${this.data.byteLength} bytes)`));
    }
    return Promise.resolve(Buffer.from(this.data.buffer, this.data.byteOffset + offset, length));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
