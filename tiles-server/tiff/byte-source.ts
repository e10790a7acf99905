import { open, type FileHandle } from 'node:fs/promises';
import { WsiError } from '../../src/core/errors.js';

/** Random access to the bytes of one file; every read is checked for length. */
export interface ByteSource {
  readonly size: number;
  read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer>;
  close(): Promise<void>;
}

/** Reads a file through one descriptor. A short read means the file shrank. */
export class FileByteSource implements ByteSource {
  private constructor(
    private readonly handle: FileHandle,
    readonly size: number,
    /** Device and inode of the file opened (what the descriptor reads, whatever its path names later). */
    readonly identity: { dev: number; ino: number },
  ) {}

  static async open(path: string): Promise<FileByteSource> {
    const handle = await open(path, 'r');
    try {
      const st = await handle.stat();
      return new FileByteSource(handle, st.size, { dev: st.dev, ino: st.ino });
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
    let done = 0;
    while (done < length) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await this.handle.read(buf, done, length - done, offset + done));
      } catch (err) {
        throw new WsiError('STORAGE_UNAVAILABLE', `slide storage read failed: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
      }
      if (bytesRead === 0) {
        throw new WsiError('TIFF_TRUNCATED', `file ended after ${offset + done} bytes while reading ${length} bytes at ${offset}`, {
          offset,
          length,
          fileSize: this.size,
        });
      }
      done += bytesRead;
    }
    return buf;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
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
