import { deflateSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inflateBounded, lzwDecodeBounded, packbitsDecodeBounded } from '../../tiles-server/decode/codecs.js';
import { decodeBlock, zstdContentSize, type BlockDecodeRequest } from '../../tiles-server/decode/block-decoder.js';
import { lzwEncode } from '../../tiles-server/tiff/lzw-encode.js';
import { TiffWriter } from '../../tiles-server/tiff/writer.js';
import { packbitsEncode, zstdRawFrame } from '../../scripts/fixtures/encode.js';
import { encodeJp2kTile } from '../../scripts/fixtures/jp2k-encode.js';
import { readSiz } from '../../tiles-server/decode/jp2k.js';
import { WsiError } from '../../src/core/errors.js';

function pseudoRandom(n: number, seed: number, alphabet = 256): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = (s >>> 16) % alphabet;
  }
  return out;
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return e instanceof WsiError ? e.code : `not a WsiError: ${String(e)}`;
  }
  return 'no error';
}

describe('LZW', () => {
  it.each([
    ['empty', new Uint8Array(0)],
    ['one byte', Uint8Array.of(42)],
    ['runs', new Uint8Array(200_000).fill(7)],
    ['noise', pseudoRandom(100_000, 1)],
    ['small alphabet (table resets)', pseudoRandom(300_000, 2, 4)],
  ])('round-trips %s', (_name, data) => {
    const enc = lzwEncode(data);
    expect(Buffer.from(lzwDecodeBounded(enc, data.length))).toEqual(Buffer.from(data));
  });

  it('stops at the output bound instead of growing (READ-12)', () => {
    const enc = lzwEncode(new Uint8Array(1_000_000));
    expect(codeOf(() => lzwDecodeBounded(enc, 1000))).toBe('TILE_DECODE_OVERFLOW');
  });

  it('refuses codes beyond the table', () => {
    // 9-bit codes: CLEAR, 65, then 400 (not yet defined)
    const bits = [256, 65, 400].map((c) => c.toString(2).padStart(9, '0')).join('').padEnd(32, '0');
    const bytes = Uint8Array.from(bits.match(/.{8}/g) as string[], (b) => parseInt(b, 2));
    expect(codeOf(() => lzwDecodeBounded(bytes, 100))).toBe('TILE_DECODE_ERROR');
  });

  const python = '/usr/bin/python3';
  const hasPil = existsSync(python) && (() => { try { execFileSync(python, ['-c', 'import PIL']); return true; } catch { return false; } })();
  it.skipIf(!hasPil)('agrees with libtiff (through Pillow) in both directions', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lzw-'));
    const data = pseudoRandom(64 * 48 * 3, 9, 16);
    writeFileSync(join(dir, 'raw.bin'), data);
    // libtiff encodes, we decode
    const strip = execFileSync(python, ['-c', `
import sys
from PIL import Image
Image.frombytes('RGB', (64, 48), open(sys.argv[1], 'rb').read()).save(sys.argv[2], compression='tiff_lzw')
im = Image.open(sys.argv[2])
off, cnt = im.tag_v2[273][0], im.tag_v2[279][0]
sys.stdout.buffer.write(open(sys.argv[2], 'rb').read()[off:off + cnt])
`, join(dir, 'raw.bin'), join(dir, 'pil.tif')]);
    expect(Buffer.from(lzwDecodeBounded(new Uint8Array(strip), data.length))).toEqual(Buffer.from(data));
    // we encode, libtiff decodes
    const w = await TiffWriter.create(join(dir, 'ours.tif'));
    const page = w.addPage({ width: 64, height: 48, rowsPerStrip: 48, samplesPerPixel: 3, photometric: 2, compression: 5 });
    await w.writeBlock(page, 0, lzwEncode(data));
    await w.finish();
    const back = execFileSync(python, ['-c', `
import sys
from PIL import Image
sys.stdout.buffer.write(Image.open(sys.argv[1]).convert('RGB').tobytes())
`, join(dir, 'ours.tif')]);
    expect(Buffer.from(back)).toEqual(Buffer.from(data));
  });
});

describe('PackBits', () => {
  it('round-trips', () => {
    const data = Uint8Array.from([...new Uint8Array(300).fill(1), ...pseudoRandom(1000, 3), 5, 5]);
    expect(Buffer.from(packbitsDecodeBounded(packbitsEncode(data), data.length))).toEqual(Buffer.from(data));
  });

  it('treats -128 as a no-op', () => {
    expect(Array.from(packbitsDecodeBounded(Uint8Array.of(0x80, 0x00, 9), 10))).toEqual([9]);
  });

  it('bounds its output', () => {
    expect(codeOf(() => packbitsDecodeBounded(Uint8Array.of(0x81, 1, 0x81, 1), 128))).toBe('TILE_DECODE_OVERFLOW');
  });

  it('refuses a literal run past the end', () => {
    expect(codeOf(() => packbitsDecodeBounded(Uint8Array.of(10, 1, 2), 100))).toBe('TILE_DECODE_ERROR');
  });
});

describe('deflate', () => {
  it('inflates within the bound', () => {
    const data = pseudoRandom(10_000, 4);
    expect(Buffer.from(inflateBounded(deflateSync(data), data.length))).toEqual(Buffer.from(data));
  });

  it('stops a bomb at the bound', () => {
    expect(codeOf(() => inflateBounded(deflateSync(Buffer.alloc(50_000_000)), 200_000))).toBe('TILE_DECODE_OVERFLOW');
  });

  it('reports corrupt data', () => {
    expect(codeOf(() => inflateBounded(Uint8Array.of(0x78, 0x9c, 1, 2, 3, 4, 5), 100))).toBe('TILE_DECODE_ERROR');
  });
});

describe('block decoding through the geotiff.js registry', () => {
  const req = (over: Partial<BlockDecodeRequest>): BlockDecodeRequest => ({
    compression: 8,
    width: 4,
    height: 2,
    samples: 3,
    bitsPerSample: 8,
    sampleFormat: 1,
    predictor: 1,
    photometric: 2,
    alphaSample: -1,
    output: 'rgb',
    littleEndian: true,
    ...over,
  });
  const rgb = Uint8Array.from({ length: 24 }, (_, i) => i * 10);

  it('decodes deflate RGB', async () => {
    expect(Array.from(await decodeBlock(req({}), deflateSync(rgb)))).toEqual(Array.from(rgb));
  });

  it('applies the horizontal predictor (geotiff.js)', async () => {
    const diff = Uint8Array.from(rgb);
    for (let y = 0; y < 2; y++) for (let x = 11; x >= 3; x--) diff[y * 12 + x] = ((rgb[y * 12 + x] as number) - (rgb[y * 12 + x - 3] as number)) & 255;
    expect(Array.from(await decodeBlock(req({ predictor: 2 }), deflateSync(diff)))).toEqual(Array.from(rgb));
  });

  it('decodes zstd (raw-block frame) and checks the declared size', async () => {
    expect(Array.from(await decodeBlock(req({ compression: 50000 }), zstdRawFrame(rgb)))).toEqual(Array.from(rgb));
    expect(zstdContentSize(zstdRawFrame(new Uint8Array(1000)))).toBe(1000);
    await expect(decodeBlock(req({ compression: 50000 }), zstdRawFrame(new Uint8Array(5000)))).rejects.toMatchObject({ code: 'TILE_DECODE_OVERFLOW' });
  });

  it('maps grey, inverted grey, 16-bit and signed samples to 8 bits', async () => {
    const grey = Uint8Array.of(0, 100, 200, 255, 1, 2, 3, 4);
    expect(Array.from(await decodeBlock(req({ compression: 1, samples: 1, photometric: 1, output: 'gray' }), grey))).toEqual(Array.from(grey));
    const inv = await decodeBlock(req({ compression: 1, samples: 1, photometric: 0 }), grey);
    expect(Array.from(inv.subarray(0, 6))).toEqual([255, 255, 255, 155, 155, 155]);
    const u16 = new Uint8Array(16);
    new DataView(u16.buffer).setUint16(0, 0xabcd, false);
    const be = await decodeBlock(req({ compression: 1, samples: 1, photometric: 1, bitsPerSample: 16, output: 'gray', littleEndian: false }), u16);
    expect(be[0]).toBe(0xab);
    const signed = await decodeBlock(req({ compression: 1, samples: 1, photometric: 1, sampleFormat: 2, output: 'gray' }), Uint8Array.of(0x80, 0x00, 0x7f, 0, 0, 0, 0, 0));
    expect(Array.from(signed.subarray(0, 3))).toEqual([0, 128, 255]);
  });

  it('composites alpha over white and expands palettes', async () => {
    const rgba = Uint8Array.of(255, 0, 0, 0, 255, 0, 0, 255, ...new Array(24).fill(0));
    const out = await decodeBlock(req({ compression: 1, samples: 4, alphaSample: 3 }), rgba);
    expect(Array.from(out.subarray(0, 6))).toEqual([255, 255, 255, 255, 0, 0]);
    const colorMap = [...new Array(256).fill(0), ...new Array(256).fill(0), ...new Array(256).fill(0)];
    colorMap[1] = 0xffff;
    colorMap[256 + 2] = 0x8000;
    const pal = await decodeBlock(req({ compression: 1, samples: 1, photometric: 3, colorMap }), Uint8Array.of(1, 2, 0, 0, 0, 0, 0, 0));
    expect(Array.from(pal.subarray(0, 6))).toEqual([255, 0, 0, 0, 128, 0]);
  });

  it('refuses short output and unknown compressions', async () => {
    await expect(decodeBlock(req({}), deflateSync(rgb.subarray(0, 10)))).rejects.toMatchObject({ code: 'TILE_DECODE_ERROR' });
    await expect(decodeBlock(req({ compression: 65000 }), rgb)).rejects.toMatchObject({ code: 'UNSUPPORTED_COMPRESSION' });
  });
});

describe('Aperio JPEG 2000 (OpenJPEG in WebAssembly)', () => {
  const w = 64;
  const h = 48;
  const rgb = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    rgb[3 * i] = (i * 5) & 255;
    rgb[3 * i + 1] = 255 - ((i >> 2) & 255);
    rgb[3 * i + 2] = (i * 11) & 127;
  }
  const jp2kReq = (compression: number): BlockDecodeRequest => ({ compression, width: w, height: h, samples: 3, bitsPerSample: 8, sampleFormat: 1, predictor: 1, photometric: 2, alphaSample: -1, output: 'rgb', littleEndian: true });

  it('decodes 33005 exactly and 33003 through YCbCr within rounding', async () => {
    const exact = await decodeBlock(jp2kReq(33005), await encodeJp2kTile(rgb, w, h, 'rgb'));
    expect(Buffer.compare(Buffer.from(exact), Buffer.from(rgb))).toBe(0);
    const ycc = await decodeBlock(jp2kReq(33003), await encodeJp2kTile(rgb, w, h, 'ycbcr'));
    let worst = 0;
    for (let i = 0; i < rgb.length; i++) worst = Math.max(worst, Math.abs((ycc[i] as number) - (rgb[i] as number)));
    expect(worst).toBeLessThanOrEqual(2);
  });

  it('reads the SIZ segment and refuses what does not fit the tile before decoding', async () => {
    const tile = await encodeJp2kTile(rgb, w, h, 'rgb');
    expect(readSiz(tile)).toMatchObject({ width: w, height: h, components: [{ bits: 8, signed: false, dx: 1, dy: 1 }, {}, {}] });
    const fail = (data: Uint8Array, re: RegExp): Promise<void> => expect(decodeBlock(jp2kReq(33005), data)).rejects.toMatchObject({ code: 'TILE_DECODE_ERROR', message: expect.stringMatching(re) as unknown });
    await fail(Buffer.from([0xff, 0xd8, 0xff, 0xd9]), /not a JPEG 2000 codestream/);
    await fail(tile.subarray(0, 30), /not a JPEG 2000 codestream/);
    await fail(tile.subarray(0, tile.length - 50), /cut short/);
    const huge = Buffer.from(tile);
    huge.writeUInt32BE(0x7fffffff, 8);
    await fail(huge, /declares 2147483647x48/);
    const sixteen = Buffer.from(tile);
    sixteen[42] = 15; // first component 16-bit
    await fail(sixteen, /u16/);
    const sub = Buffer.from(tile);
    sub[46] = 2; // second component subsampled horizontally
    await fail(sub, /subsampled 2x1/);
    // an honest but huge tile is refused before OpenJPEG grows its memory for it
    const honest = Buffer.from(tile);
    honest.writeUInt32BE(8192, 8);
    honest.writeUInt32BE(8192, 12);
    await expect(decodeBlock({ ...jp2kReq(33005), width: 8192, height: 8192 }, honest)).rejects.toMatchObject({ code: 'TILE_DECODE_OVERFLOW' });
    // and the decoder still works afterwards
    expect(Buffer.compare(Buffer.from(await decodeBlock(jp2kReq(33005), tile)), Buffer.from(rgb))).toBe(0);
  });
});
