/**
 * Small slide reads straight from the page cache (issue 10, LOAD-06:
 * /api/health within 50 ms under 5× LOAD-01; tiff/sync-reads.ts):
 * - reads up to the bound are synchronous and return the same bytes as a
 *   read through the thread pool; larger ones go through the pool;
 * - a slow synchronous read holds its file back (pool reads) for a while,
 *   then synchronous reads resume;
 * - not allowed (a network file system, FAULT-02) or a bound of 0
 *   (SLIDE_READ_SYNC_KB=0): every read goes through the pool;
 * - the bad cases read as before: past the end, a file that shrank (READ
 *   truncation, TIFF_TRUNCATED), a closed descriptor (STORAGE_UNAVAILABLE).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../tiles-server/config.js';
import { FileByteSource } from '../../tiles-server/tiff/byte-source.js';
import { isLocalFilesystem, SyncReads, type SyncReadOptions } from '../../tiles-server/tiff/sync-reads.js';

let dir: string;
let file: string;
const data = randomBytes(300_000);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sync-reads-'));
  file = join(dir, 'slide.bin');
  await writeFile(file, data);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A policy on a clock the test moves; each read takes `step` ms of it. */
function policy(opts: Partial<SyncReadOptions> = {}, step = 0): { sync: SyncReads; clock: { t: number } } {
  const clock = { t: 1000 };
  const sync = new SyncReads({ maxBytes: 64 * 1024, slowMs: 2, holdMs: 1000, now: () => (clock.t += step), ...opts });
  return { sync, clock };
}

describe('synchronous slide reads (LOAD-06)', () => {
  it('reads small blocks synchronously, larger ones through the pool, the same bytes either way', async () => {
    const { sync } = policy();
    const src = await FileByteSource.open(file, sync);
    const pooled = await FileByteSource.open(file);
    try {
      for (const [offset, length] of [[0, 16], [12_345, 24_000], [200_000, 65_536], [1000, 100_000], [299_990, 10]] as const) {
        const a = await src.read(offset, length);
        expect(a.equals(data.subarray(offset, offset + length)), `${length} at ${offset}`).toBe(true);
        expect((await pooled.read(offset, length)).equals(a)).toBe(true);
      }
      // four within the bound, one of 100,000 bytes over it
      expect(sync.stats).toEqual({ sync: 4, pool: 1, slow: 0 });
    } finally {
      await src.close();
      await pooled.close();
    }
  });

  it('a slow read sends that file back to the pool for holdMs, then synchronous reads resume', async () => {
    const { sync, clock } = policy({}, 0);
    const src = await FileByteSource.open(file, sync);
    try {
      // this read "takes" 5 ms on the policy's clock: it went to the disk
      let calls = 0;
      const now = sync.now;
      (sync as { now: () => number }).now = () => (calls++ === 1 ? (clock.t += 5) : clock.t);
      await src.read(0, 4096);
      (sync as { now: () => number }).now = now;
      expect(sync.stats).toEqual({ sync: 1, pool: 0, slow: 1 });
      await src.read(4096, 4096);
      clock.t += 500;
      await src.read(8192, 4096);
      expect(sync.stats).toEqual({ sync: 1, pool: 2, slow: 1 });
      // another file on the same policy is not held back
      const other = await FileByteSource.open(file, sync);
      await other.read(0, 4096);
      await other.close();
      expect(sync.stats.sync).toBe(2);
      clock.t += 600;
      const back = await src.read(12_288, 4096);
      expect(back.equals(data.subarray(12_288, 16_384))).toBe(true);
      expect(sync.stats).toEqual({ sync: 3, pool: 2, slow: 1 });
    } finally {
      await src.close();
    }
  });

  it('not allowed (a network file system) or a bound of 0 (SLIDE_READ_SYNC_KB=0): every read through the pool', async () => {
    const { sync } = policy();
    sync.allowed = false;
    const off = policy({ maxBytes: 0 }).sync;
    for (const s of [sync, off]) {
      const src = await FileByteSource.open(file, s);
      try {
        expect((await src.read(100, 200)).equals(data.subarray(100, 300))).toBe(true);
      } finally {
        await src.close();
      }
      expect(s.stats).toEqual({ sync: 0, pool: 1, slow: 0 });
    }
  });

  it('FAULT-02: network and FUSE file systems are not local; ext4, xfs, btrfs, tmpfs and overlay are', () => {
    for (const remote of [0x6969, 0x517b, 0xff534d42, 0xfe534d42, 0x65735546, 0x01021997]) expect(isLocalFilesystem(remote), remote.toString(16)).toBe(false);
    // statfs may hand the magic back as a negative number (a signed field)
    expect(isLocalFilesystem(0xff534d42 | 0)).toBe(false);
    for (const local of [0xef53, 0x58465342, 0x9123683e, 0x01021994, 0x794c7630]) expect(isLocalFilesystem(local), local.toString(16)).toBe(true);
  });

  it('bad cases: past the end and a file that shrank are TIFF_TRUNCATED, a closed file STORAGE_UNAVAILABLE, as through the pool', async () => {
    const copy = join(dir, 'shrinks.bin');
    await writeFile(copy, data);
    const { sync } = policy();
    const src = await FileByteSource.open(copy, sync);
    await expect(src.read(299_000, 2000)).rejects.toMatchObject({ code: 'TIFF_TRUNCATED' });
    await expect(src.read(-1, 10)).rejects.toMatchObject({ code: 'TIFF_BAD_OFFSET' });
    await truncate(copy, 1000);
    await expect(src.read(500, 4096)).rejects.toMatchObject({ code: 'TIFF_TRUNCATED' });
    await src.close();
    await expect(src.read(0, 16)).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    expect(sync.stats.pool).toBe(0);
  });
});

describe('SLIDE_READ_SYNC_KB', () => {
  it('is off (0) by default, a size turns it on, and a mistake is a message naming it', () => {
    // off by default: in the idle A/B of 2026-12-07 20:29 it made /api/health's worst case under LOAD-05/06 worse (docs/benchmarks.md)
    expect(loadConfig({}, []).slideReadSyncKb).toBe(0);
    expect(loadConfig({ SLIDE_READ_SYNC_KB: '256' }, []).slideReadSyncKb).toBe(256);
    expect(loadConfig({ SLIDE_READ_SYNC_KB: '0' }, []).slideReadSyncKb).toBe(0);
    expect(() => loadConfig({ SLIDE_READ_SYNC_KB: '-1' }, [])).toThrow(/SLIDE_READ_SYNC_KB must be an integer/);
    expect(() => loadConfig({ SLIDE_READ_SYNC_KB: 'lots' }, [])).toThrow(/SLIDE_READ_SYNC_KB/);
  });
});
