/**
 * Label-image headers (issue 10 finding 3; TEST-CATALOGUE READ-12 for label
 * images): the size a PNG or TIFF claims is read from its first bytes, so a
 * 390 KB file claiming 20,000² pixels is refused before any decoder runs.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WsiError } from '../../src/core/errors.js';
import { pngBytes, solidPng, zeroTiff } from '../../scripts/fixtures/label-images.js';
import { readImageHeader } from '../../tiles-server/masks/image-header.js';
import { checkLabelImageSize } from '../../tiles-server/masks/label-image.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wsi-header-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, bytes: Uint8Array): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, bytes);
  return p;
}

/** A TIFF whose first IFD holds only ImageWidth/ImageLength, in either byte order, classic or BigTIFF. */
function tiffHeader(width: number, height: number, le: boolean, big: boolean): Buffer {
  const b = Buffer.alloc(big ? 16 + 8 + 2 * 20 + 8 : 8 + 2 + 2 * 12 + 4);
  const u16 = (v: number, at: number): number => (le ? b.writeUInt16LE(v, at) : b.writeUInt16BE(v, at));
  const u32 = (v: number, at: number): number => (le ? b.writeUInt32LE(v, at) : b.writeUInt32BE(v, at));
  const u64 = (v: number, at: number): number => (le ? b.writeBigUInt64LE(BigInt(v), at) : b.writeBigUInt64BE(BigInt(v), at));
  b.write(le ? 'II' : 'MM', 0, 'latin1');
  u16(big ? 43 : 42, 2);
  if (big) {
    u16(8, 4);
    u64(16, 8);
    u64(2, 16);
    [[256, width], [257, height]].forEach(([tag, v], i) => {
      u16(tag as number, 24 + i * 20);
      u16(16, 26 + i * 20);
      u64(1, 28 + i * 20);
      u64(v as number, 36 + i * 20);
    });
  } else {
    u32(8, 4);
    u16(2, 8);
    [[256, width], [257, height]].forEach(([tag, v], i) => {
      u16(tag as number, 10 + i * 12);
      u16(i === 0 ? 3 : 4, 12 + i * 12); // a SHORT width and a LONG height
      u32(1, 14 + i * 12);
      if (i === 0) u16(v as number, 18 + i * 12);
      else u32(v as number, 18 + i * 12);
    });
  }
  return b;
}

describe('label image headers', () => {
  it('reads the size a 20,000² PNG bomb and its TIFF twin claim (a small real one, and the bombs\' headers)', async () => {
    const real = solidPng(300, 200);
    expect(await readImageHeader(await file('small.png', real))).toEqual({ format: 'png', width: 300, height: 200 });
    expect(await readImageHeader(await file('small.tif', zeroTiff(300, 200)))).toEqual({ format: 'tiff', width: 300, height: 200 });
    // the bombs' pixel data is never read: their headers alone are enough (the bench sends the real 388 KB files)
    expect(await readImageHeader(await file('bomb.png', pngBytes(20_000, 20_000, 1, null, new Uint8Array(10))))).toEqual({ format: 'png', width: 20_000, height: 20_000 });
    expect(await readImageHeader(await file('bomb.tif', zeroTiff(20_000, 20_000, Buffer.alloc(10))))).toEqual({ format: 'tiff', width: 20_000, height: 20_000 });
  });

  it.each([
    [true, false],
    [false, false],
    [true, true],
    [false, true],
  ])('reads TIFF headers (little-endian %s, BigTIFF %s)', async (le, big) => {
    expect(await readImageHeader(await file(`h-${le}-${big}.tif`, tiffHeader(60_000, 90_000, le, big)))).toEqual({ format: 'tiff', width: 60_000, height: 90_000 });
  });

  it('says nothing about what it cannot read (the decoder refuses it later)', async () => {
    expect(await readImageHeader(await file('text.png', Buffer.from('hello, not an image')))).toBeNull();
    const cut = tiffHeader(10, 10, true, false).subarray(0, 12);
    expect(await readImageHeader(await file('cut.tif', cut))).toBeNull();
    const far = tiffHeader(10, 10, true, false);
    far.writeUInt32LE(2 ** 31, 4); // first IFD far past the end
    expect(await readImageHeader(await file('far.tif', far))).toBeNull();
  });

  it('checkLabelImageSize refuses past the cap with IMAGE_TOO_LARGE (413) and the claimed size, and passes what fits', async () => {
    const bomb = await file('bomb2.png', pngBytes(20_000, 20_000, 1, null, new Uint8Array(10)));
    let err: unknown;
    try {
      await checkLabelImageSize(bomb, 100_000_000);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WsiError);
    expect([(err as WsiError).code, (err as WsiError).status, (err as WsiError).detail]).toEqual(['IMAGE_TOO_LARGE', 413, { width: 20_000, height: 20_000, limit: 100_000_000 }]);
    await expect(checkLabelImageSize(bomb, 400_000_000)).resolves.toBeUndefined();
  });
});
