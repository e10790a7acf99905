/**
 * Small slide reads straight from the page cache (issue 10, LOAD-06). A
 * stored tile is a few tens of kilobytes that the kernel nearly always holds
 * in memory already; handing such a read to libuv's thread pool through a
 * FileHandle costs the event loop more (about 30 µs a read: the request,
 * the promise, the completion) than a positional read on the open
 * descriptor does (about 10–20 µs, the copy included), and under overload
 * that loop time is what /api/health waits for. So reads up to a bound are
 * made synchronously, and the policy guards the cases where that would hold
 * the loop:
 * - a read that took long (it went to the disk, or the disk is busy) sends
 *   that file's reads back to the thread pool for a while;
 * - a slide file on a network or FUSE file system (which can stall for
 *   seconds, FAULT-02) is never read synchronously: the folder and each
 *   file are checked (slides/slide-files.ts);
 * - `SLIDE_READ_SYNC_KB=0` turns it off (every read through the pool).
 */

/** statfs `type` magic numbers of file systems whose reads may stall on a network or a user process. */
const REMOTE_FILESYSTEMS: ReadonlySet<number> = new Set([
  0x6969, // NFS
  0x517b, // SMB
  0xff534d42, // CIFS
  0xfe534d42, // SMB2
  0x65735546, // FUSE (sshfs, s3fs, gcsfuse…)
  0x00c36400, // Ceph
  0x01021997, // 9P (v9fs)
  0x5346414f, // AFS
  0x013111a8, // IBRIX
  0x47504653, // GPFS
  0x0bd00bd0, // Lustre
  0x19830326, // FhGFS / BeeGFS
]);

/** Whether a file system (by its statfs type) is local, so that a read of cached pages cannot stall. */
export function isLocalFilesystem(type: number): boolean {
  return !REMOTE_FILESYSTEMS.has(type >>> 0);
}

export interface SyncReadOptions {
  /** Largest read made synchronously, in bytes (0: none). */
  maxBytes: number;
  /** A synchronous read slower than this (ms) did not come from the page cache. */
  slowMs: number;
  /** After a slow read, that file's reads go through the thread pool for this long (ms). */
  holdMs: number;
  /** The clock (ms); tests pass their own. */
  now?: () => number;
}

export interface SyncReadStats {
  /** Reads made synchronously. */
  sync: number;
  /** Reads handed to the thread pool (too large, the file held back, or not allowed). */
  pool: number;
  /** Synchronous reads that were slow (each held its file back). */
  slow: number;
}

/** The policy shared by every slide file the server opens, with its counters. */
export class SyncReads {
  /** False while the slide folder is not known to be on a local file system. */
  allowed = true;
  readonly stats: SyncReadStats = { sync: 0, pool: 0, slow: 0 };
  readonly now: () => number;

  constructor(readonly opts: SyncReadOptions) {
    this.now = opts.now ?? (() => performance.now());
  }

  /** Whether a read of `length` bytes of a file held back until `heldUntil` may be made synchronously now. */
  wants(length: number, heldUntil: number): boolean {
    const yes = this.allowed && length <= this.opts.maxBytes && this.opts.maxBytes > 0 && (heldUntil === 0 || this.now() >= heldUntil);
    if (!yes) this.stats.pool++;
    return yes;
  }

  /** Notes a synchronous read that started at `start`; returns until when its file is held back (0: not). */
  tookFrom(start: number): number {
    this.stats.sync++;
    const end = this.now();
    if (end - start <= this.opts.slowMs) return 0;
    this.stats.slow++;
    return end + this.opts.holdMs;
  }
}
