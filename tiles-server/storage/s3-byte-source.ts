/**
 * A slide object in S3 read as a ByteSource: reads are cut into fixed
 * blocks, kept in one byte-bounded LRU shared by every open slide (keyed by
 * object and ETag, so a replaced object never mixes with the old one), and
 * the blocks a read lacks are fetched with ONE ranged GET per contiguous run
 * — a stored tile that fits in a block or two costs one request, and a tile
 * read again costs none. Blocks being fetched are shared: eight viewers
 * asking for the same tile make one request. A reader that gives up (its
 * client left) stops waiting; the fetch finishes for the cache.
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { WsiError } from '../../src/core/errors.js';
import type { ByteSource } from '../tiff/byte-source.js';
import type { S3Client, S3Object } from './s3-client.js';

export class BlockCache {
  private readonly lru: LRUCache<string, Buffer>;
  private readonly pending = new Map<string, Promise<Buffer>>();
  /** Ranged GETs sent, for tests and the benchmark. */
  requests = 0;

  constructor(
    readonly blockSize: number,
    maxBytes: number,
  ) {
    if (!Number.isSafeInteger(blockSize) || blockSize < 4096) throw new Error('the S3 block size must be at least 4 KiB');
    this.lru = new LRUCache<string, Buffer>({ maxSize: Math.max(maxBytes, blockSize), sizeCalculation: (b) => Math.max(1, b.length) });
  }

  get(key: string): Buffer | undefined {
    return this.lru.get(key);
  }

  set(key: string, block: Buffer): void {
    this.lru.set(key, block);
  }

  inflight(key: string): Promise<Buffer> | undefined {
    return this.pending.get(key);
  }

  track(key: string, p: Promise<Buffer>): void {
    this.pending.set(key, p);
    void p.then(
      () => this.pending.delete(key),
      () => this.pending.delete(key),
    );
  }
}

/** Waits for `p`, or rejects when `signal` aborts first (the work behind `p` goes on). */
function until<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export class S3ByteSource implements ByteSource {
  readonly size: number;
  /** Stands in for a file's device and inode: a hash of the object's key and ETag. */
  readonly identity: { dev: number; ino: number };
  private readonly prefix: string;

  constructor(
    private readonly client: S3Client,
    private readonly object: S3Object,
    private readonly cache: BlockCache,
  ) {
    this.size = object.size;
    this.identity = objectIdentity(object);
    this.prefix = `${object.etag}\u0000${object.key}\u0000`;
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    signal?.throwIfAborted();
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new WsiError('TIFF_BAD_OFFSET', `invalid read at ${offset} of ${length} bytes`);
    }
    if (offset + length > this.size) {
      throw new WsiError('TIFF_TRUNCATED', `read of ${length} bytes at ${offset} runs past the end of the file (${this.size} bytes)`, { offset, length, fileSize: this.size });
    }
    if (length === 0) return Buffer.alloc(0);
    const bs = this.cache.blockSize;
    const first = Math.floor(offset / bs);
    const last = Math.floor((offset + length - 1) / bs);
    const blocks: Array<Buffer | Promise<Buffer>> = [];
    let runStart = -1;
    const flush = (end: number): void => {
      if (runStart < 0) return;
      const fetched = this.fetchRun(runStart, end);
      for (let b = runStart; b < end; b++) blocks[b - first] = fetched[b - runStart] as Promise<Buffer>;
      runStart = -1;
    };
    for (let b = first; b <= last; b++) {
      const key = this.prefix + b;
      const have = this.cache.get(key) ?? this.cache.inflight(key);
      if (have) {
        flush(b);
        blocks[b - first] = have;
      } else if (runStart < 0) runStart = b;
    }
    flush(last + 1);
    const got = await until(Promise.all(blocks), signal);
    if (got.length === 1) {
      const only = got[0] as Buffer;
      const at = offset - first * bs;
      return only.subarray(at, at + length);
    }
    const out = Buffer.allocUnsafe(length);
    let done = 0;
    for (let i = 0; i < got.length; i++) {
      const block = got[i] as Buffer;
      const from = i === 0 ? offset - first * bs : 0;
      const n = Math.min(block.length - from, length - done);
      block.copy(out, done, from, from + n);
      done += n;
    }
    return out;
  }

  /** One ranged GET for blocks [from, to), one promise per block (all shared through the cache). */
  private fetchRun(from: number, to: number): Array<Promise<Buffer>> {
    const bs = this.cache.blockSize;
    const start = from * bs;
    const end = Math.min(this.size, to * bs);
    this.cache.requests++;
    const whole = this.client.getRange(this.object.key, start, end, this.object.etag);
    const out: Array<Promise<Buffer>> = [];
    for (let b = from; b < to; b++) {
      const key = this.prefix + b;
      const p = whole.then((buf) => {
        // a block of its own (not a view), so one cached block does not pin the whole run
        const block = Buffer.from(buf.subarray((b - from) * bs, Math.min(buf.length, (b - from + 1) * bs)));
        this.cache.set(key, block);
        return block;
      });
      this.cache.track(key, p);
      out.push(p);
    }
    return out;
  }

  async close(): Promise<void> {
    // nothing is held open: the blocks stay in the shared cache until evicted
  }
}

/** dev −1 marks an object, ino a 48-bit hash of its key and ETag: another object or version is another "file". */
export function objectIdentity(o: Pick<S3Object, 'key' | 'etag'>): { dev: number; ino: number } {
  const h = createHash('sha256').update(`${o.key}\u0000${o.etag}`).digest();
  return { dev: -1, ino: h.readUIntBE(0, 6) };
}
