// The S3 slide reader's block cache (issue 16: "a tile costs one range read",
// "a block cache shared by all of a slide's readers"), against a counting fake
// of the S3 client: no network here; tests/integration/s3-slides.test.ts runs s3rver.
import { describe, expect, it } from 'vitest';
import { BlockCache, S3ByteSource } from '../../tiles-server/storage/s3-byte-source.js';
import type { S3Client, S3Object } from '../../tiles-server/storage/s3-client.js';
import { WsiError } from '../../src/core/errors.js';

const SIZE = 100_000;
const bytes = Buffer.from(Array.from({ length: SIZE }, (_, i) => (i * 7 + (i >> 8)) & 255));

function fakeClient(opts: { delayMs?: number; fail?: boolean } = {}): { client: S3Client; calls: Array<[number, number]> } {
  const calls: Array<[number, number]> = [];
  const client = {
    async getRange(_key: string, start: number, end: number): Promise<Buffer> {
      calls.push([start, end]);
      if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
      if (opts.fail) throw new WsiError('STORAGE_UNAVAILABLE', 'slide storage could not be reached');
      return Buffer.from(bytes.subarray(start, end));
    },
  } as unknown as S3Client;
  return { client, calls };
}

const object: S3Object = { key: 'lab/a.svs', size: SIZE, etag: '"v1"', lastModified: '' };

describe('S3ByteSource over a shared block cache', () => {
  it('returns the bytes asked for, across block edges, with one ranged GET per missing run', async () => {
    const { client, calls } = fakeClient();
    const cache = new BlockCache(4096, 1 << 20);
    const src = new S3ByteSource(client, object, cache);
    expect(Buffer.compare(await src.read(4000, 300), bytes.subarray(4000, 4300))).toBe(0);
    expect(calls).toEqual([[0, 8192]]);
    // blocks 0-1 cached, 2-3 missing: one request for the run 2-3
    expect(Buffer.compare(await src.read(100, 15_000), bytes.subarray(100, 15_100))).toBe(0);
    expect(calls).toEqual([
      [0, 8192],
      [8192, 16_384],
    ]);
    // the last block is short; nothing is read twice
    expect(Buffer.compare(await src.read(SIZE - 10, 10), bytes.subarray(SIZE - 10))).toBe(0);
    expect(calls.at(-1)).toEqual([98_304, SIZE]);
    const before = calls.length;
    await src.read(0, 16_000);
    expect(calls.length).toBe(before);
  });

  it('shares blocks between readers of the same object version, not between versions', async () => {
    const { client, calls } = fakeClient({ delayMs: 20 });
    const cache = new BlockCache(8192, 1 << 20);
    const a = new S3ByteSource(client, object, cache);
    const b = new S3ByteSource(client, object, cache);
    const reads = await Promise.all([a.read(10, 500), b.read(20, 500), a.read(10, 500)]);
    expect(calls).toHaveLength(1);
    expect(Buffer.compare(reads[1] as Buffer, bytes.subarray(20, 520))).toBe(0);
    const replaced = new S3ByteSource(client, { ...object, etag: '"v2"' }, cache);
    await replaced.read(10, 500);
    expect(calls).toHaveLength(2);
    expect(replaced.identity).not.toEqual(a.identity);
  });

  it('checks bounds before any request (READ-09: offset+count beyond the end)', async () => {
    const { client, calls } = fakeClient();
    const src = new S3ByteSource(client, object, new BlockCache(4096, 1 << 20));
    await expect(src.read(SIZE - 5, 10)).rejects.toMatchObject({ code: 'TIFF_TRUNCATED' });
    await expect(src.read(-1, 10)).rejects.toMatchObject({ code: 'TIFF_BAD_OFFSET' });
    await expect(src.read(1.5, 10)).rejects.toMatchObject({ code: 'TIFF_BAD_OFFSET' });
    expect((await src.read(5, 0)).length).toBe(0);
    expect(calls).toHaveLength(0);
  });

  it('does not cache a failed read, and a reader that gives up stops waiting (FAULT-02)', async () => {
    const failing = fakeClient({ fail: true });
    const cache = new BlockCache(4096, 1 << 20);
    const src = new S3ByteSource(failing.client, object, cache);
    await expect(src.read(0, 10)).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    await expect(src.read(0, 10)).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    expect(failing.calls).toHaveLength(2);

    const slow = fakeClient({ delayMs: 200 });
    const s2 = new S3ByteSource(slow.client, object, cache);
    const ac = new AbortController();
    const pending = s2.read(0, 10, ac.signal);
    ac.abort(new Error('client left'));
    await expect(pending).rejects.toThrow('client left');
    // the fetch went on for the cache: the next reader gets the block without a request
    await new Promise((r) => setTimeout(r, 250));
    expect(Buffer.compare(await s2.read(0, 10), bytes.subarray(0, 10))).toBe(0);
    expect(slow.calls).toHaveLength(1);
  });

  it('keeps the cache within its byte bound', async () => {
    const { client, calls } = fakeClient();
    const cache = new BlockCache(4096, 3 * 4096);
    const src = new S3ByteSource(client, object, cache);
    for (let b = 0; b < 6; b++) await src.read(b * 4096, 10);
    expect(calls).toHaveLength(6);
    await src.read(0, 10); // evicted long ago
    expect(calls).toHaveLength(7);
    await src.read(5 * 4096, 10); // still cached
    expect(calls).toHaveLength(7);
  });
});
