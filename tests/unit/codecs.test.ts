import { deflateRawSync, deflateSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { inflateBounded, lzwDecodeBounded, packbitsDecodeBounded } from '../../tiles-server/decode/codecs.js';
import { decodeBlock, zstdContentSize, type BlockDecodeRequest } from '../../tiles-server/decode/block-decoder.js';
import { lzwEncode } from '../../tiles-server/tiff/lzw-encode.js';
import { TiffWriter } from '../../tiles-server/tiff/writer.js';
import { packbitsEncode, zstdRawFrame } from '../../scripts/fixtures/encode.js';
import { encodeJp2kTile } from '../../scripts/fixtures/jp2k-encode.js';
import { readSiz } from '../../tiles-server/decode/jp2k.js';
import { noteShortBlock } from '../../tiles-server/slides/read-warnings.js';
import { codeOf } from '../helpers/errors.js';

function pseudoRandom(n: number, seed: number, alphabet = 256): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = (s >>> 16) % alphabet;
  }
  return out;
}

const python = '/usr/bin/python3';
const hasPil = existsSync(python) && (() => { try { execFileSync(python, ['-c', 'import PIL']); return true; } catch { return false; } })();
if (!hasPil) process.stdout.write('[codecs] /usr/bin/python3 with Pillow (python3-pil) is absent: the libtiff cross-checks are skipped\n');

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

  it('stops at the block size and ignores the rest of the stream, never growing (READ-12)', () => {
    const bomb = lzwDecodeBounded(lzwEncode(new Uint8Array(1_000_000).fill(3)), 1000);
    expect([bomb.length, bomb.every((v) => v === 3)]).toEqual([1000, true]);
    // cut in the middle of a string
    const noise = pseudoRandom(100_000, 5, 3);
    expect(Buffer.from(lzwDecodeBounded(lzwEncode(noise), 4999))).toEqual(Buffer.from(noise.subarray(0, 4999)));
  });

  it('gives what a stream holds when it ends early, with or without its end code', () => {
    const data = pseudoRandom(3000, 6, 8);
    expect(Buffer.from(lzwDecodeBounded(lzwEncode(data.subarray(0, 1800)), 3000))).toEqual(Buffer.from(data.subarray(0, 1800)));
    const cut = lzwDecodeBounded(lzwEncode(data).subarray(0, 600), 3000);
    expect(cut.length).toBeGreaterThan(500);
    expect(cut.length).toBeLessThan(3000);
    expect(Buffer.from(cut)).toEqual(Buffer.from(data.subarray(0, cut.length)));
  });

  it('refuses codes beyond the table', () => {
    // 9-bit codes: CLEAR, 65, then 400 (not yet defined)
    const bits = [256, 65, 400].map((c) => c.toString(2).padStart(9, '0')).join('').padEnd(32, '0');
    const bytes = Uint8Array.from(bits.match(/.{8}/g) as string[], (b) => parseInt(b, 2));
    expect(codeOf(() => lzwDecodeBounded(bytes, 100))).toBe('TILE_DECODE_ERROR');
  });

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

/**
 * Strips that overrun their block, end early, or are cut off, in each codec
 * libtiff tolerates the same way, decoded by libtiff (Pillow, and libtiff's
 * TIFFReadEncodedStrip through ctypes for what Pillow refuses) and by us.
 */
describe.skipIf(!hasPil)('tolerance matches libtiff: overrunning and short strips (LZW, deflate, PackBits)', () => {
  const W = 64;
  const H = 48;
  const full = pseudoRandom(W * H * 4, 21, 24);
  const encoders: Record<string, [number, (d: Uint8Array) => Uint8Array]> = {
    lzw: [5, lzwEncode],
    deflate: [8, (d) => deflateSync(d)],
    packbits: [32773, packbitsEncode],
  };
  const damage: Record<string, (enc: (d: Uint8Array) => Uint8Array) => Uint8Array> = {
    // a stream of more than the strip: a little, and a bomb's worth
    'overruns a little': (enc) => enc(full.subarray(0, W * H + 37)),
    'overruns by 3x': (enc) => enc(full.subarray(0, W * H * 4)),
    // a stream that ends (properly) before the strip is full
    'ends early': (enc) => enc(full.subarray(0, W * H - 1000)),
    // a stream cut off part-way (no end code, no checksum)
    'is cut off': (enc) => enc(full.subarray(0, W * H)).subarray(0, Math.floor(enc(full.subarray(0, W * H)).length * 0.6)),
  };
  const cases = Object.entries(encoders).flatMap(([codec, [compression, enc]]) => Object.entries(damage).map(([kind, make]) => ({ codec, kind, compression, stream: make(enc) })));
  // deflate data whose checksum is wrong after a complete strip
  const good = deflateSync(full.subarray(0, W * H));
  const badSum = Uint8Array.from(good);
  badSum[badSum.length - 1] = (badSum[badSum.length - 1] as number) ^ 0xff;
  cases.push({ codec: 'deflate', kind: 'has a bad checksum after the strip', compression: 8, stream: badSum });

  let libtiff: Array<{ pillow: string | null; pillowError: string | null; buffer: string; written: number; ret: number }> = [];
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tolerance-'));
    const files: string[] = [];
    for (const [i, c] of cases.entries()) {
      const file = join(dir, `${i}.tif`);
      const w = await TiffWriter.create(file);
      const page = w.addPage({ width: W, height: H, rowsPerStrip: H, samplesPerPixel: 1, photometric: 1, compression: c.compression });
      await w.writeBlock(page, 0, c.stream);
      await w.finish();
      files.push(file);
    }
    const out = execFileSync(python, ['-c', `
import base64, ctypes, json, sys
from PIL import Image
lib = ctypes.CDLL('libtiff.so.6')
lib.TIFFOpen.restype = ctypes.c_void_p
lib.TIFFOpen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
lib.TIFFReadEncodedStrip.restype = ctypes.c_ssize_t
lib.TIFFReadEncodedStrip.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p, ctypes.c_ssize_t]
lib.TIFFClose.argtypes = [ctypes.c_void_p]
res = []
for fn in sys.argv[1:]:
    r = {'pillow': None, 'pillowError': None}
    try:
        r['pillow'] = base64.b64encode(Image.open(fn).tobytes()).decode()
    except Exception as e:
        r['pillowError'] = repr(e)
    t = lib.TIFFOpen(fn.encode(), b'r')
    # prefilled with a value the data never holds, to see how far libtiff wrote
    buf = (ctypes.c_uint8 * (${W * H}))(*([0xAB] * ${W * H}))
    r['ret'] = lib.TIFFReadEncodedStrip(t, 0, buf, ${W * H})
    r['written'] = len(bytes(buf).rstrip(b'\\xab'))
    r['buffer'] = base64.b64encode(bytes(buf)).decode()
    lib.TIFFClose(t)
    res.append(r)
print(json.dumps(res))
`, ...files], { stdio: ['ignore', 'pipe', 'ignore'] });
    libtiff = JSON.parse(out.toString()) as typeof libtiff;
  });

  const grey = (compression: number): BlockDecodeRequest => ({ compression, width: W, height: H, samples: 1, bitsPerSample: 8, sampleFormat: 1, predictor: 1, photometric: 1, alphaSample: -1, output: 'gray', littleEndian: true });

  it.each(cases.map((c, i) => [`${c.codec} ${c.kind}`, i] as const))('%s', async (_name, i) => {
    const c = cases[i] as (typeof cases)[number];
    const ref = libtiff[i] as (typeof libtiff)[number];
    const libtiffBytes = Buffer.from(ref.buffer, 'base64');
    if (c.kind.startsWith('has a bad')) {
      // libtiff checks the checksum once the strip is full, and refuses it: so do we
      expect(ref.ret).toBe(-1);
      await expect(decodeBlock(grey(c.compression), c.stream)).rejects.toMatchObject({ code: 'TILE_DECODE_ERROR' });
      return;
    }
    const ours = await decodeBlock(grey(c.compression), c.stream);
    if (c.kind.startsWith('overruns')) {
      // libtiff reads the strip and ignores the rest, and so does Pillow, pixel for pixel
      expect([ref.ret, ref.pillowError]).toEqual([W * H, null]);
      expect(libtiffBytes.equals(Buffer.from(ours.data))).toBe(true);
      expect(Buffer.from(ref.pillow as string, 'base64').equals(Buffer.from(ours.data))).toBe(true);
      expect(ours.short).toBeNull();
      return;
    }
    // libtiff decodes the same prefix and reports an error (Pillow raises); we zero-fill and say so
    expect(ref.ret).toBe(-1);
    expect(ref.pillowError).not.toBeNull();
    const decoded = ours.short?.decoded ?? -1;
    expect(ours.short).toMatchObject({ expected: W * H });
    // In a deflate stream cut mid-symbol, Debian's zlib 1.2.13 (under libtiff) writes a few stray bytes
    // before it gives up and Node's zlib stops elsewhere: the two agree up to the last 16 bytes
    const fuzzy = c.codec === 'deflate' && c.kind === 'is cut off' ? 16 : 0;
    expect(Math.abs(decoded - ref.written)).toBeLessThanOrEqual(fuzzy);
    const both = Math.min(decoded, ref.written) - fuzzy;
    expect(both).toBeGreaterThan(W * H * 0.3);
    expect(Buffer.from(ours.data.subarray(0, both)).equals(libtiffBytes.subarray(0, both))).toBe(true);
    expect(Buffer.from(ours.data.subarray(0, decoded)).equals(Buffer.from(full.subarray(0, decoded)))).toBe(true);
    expect(ours.data.subarray(decoded).every((v) => v === 0)).toBe(true);
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

  it('cuts runs at the block size and ignores the rest', () => {
    const out = packbitsDecodeBounded(Uint8Array.of(0x81, 1, 0x81, 2, 0x81, 3), 200);
    expect([out.length, out[127], out[128], out[199]]).toEqual([200, 1, 2, 2]);
    expect(Array.from(packbitsDecodeBounded(Uint8Array.of(3, 1, 2, 3, 4), 2))).toEqual([1, 2]);
  });

  it('stops at a literal run the data does not hold, keeping what came before', () => {
    expect(Array.from(packbitsDecodeBounded(Uint8Array.of(0xff, 7, 10, 1, 2), 100))).toEqual([7, 7]);
  });
});

describe('deflate', () => {
  it('inflates within the bound', async () => {
    const data = pseudoRandom(10_000, 4);
    expect(Buffer.from(await inflateBounded(deflateSync(data), data.length))).toEqual(Buffer.from(data));
  });

  it('stops a bomb at the bound and ignores the rest (READ-12)', async () => {
    const out = await inflateBounded(deflateSync(Buffer.alloc(50_000_000, 4)), 200_000);
    expect([out.length, out.every((v) => v === 4)]).toEqual([200_000, true]);
  });

  it('reads raw deflate without a zlib header', async () => {
    const data = pseudoRandom(5000, 8, 5);
    expect(Buffer.from(await inflateBounded(deflateRawSync(data), data.length))).toEqual(Buffer.from(data));
  });

  it('reports corrupt data', async () => {
    await expect(inflateBounded(Uint8Array.of(0x78, 0x9c, 1, 2, 3, 4, 5), 100)).rejects.toMatchObject({ code: 'TILE_DECODE_ERROR' });
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
    expect(Array.from((await decodeBlock(req({}), deflateSync(rgb))).data)).toEqual(Array.from(rgb));
  });

  it('applies the horizontal predictor (geotiff.js)', async () => {
    const diff = Uint8Array.from(rgb);
    for (let y = 0; y < 2; y++) for (let x = 11; x >= 3; x--) diff[y * 12 + x] = ((rgb[y * 12 + x] as number) - (rgb[y * 12 + x - 3] as number)) & 255;
    expect(Array.from((await decodeBlock(req({ predictor: 2 }), deflateSync(diff))).data)).toEqual(Array.from(rgb));
  });

  it('decodes zstd (raw-block frame) and checks the declared size', async () => {
    expect(Array.from((await decodeBlock(req({ compression: 50000 }), zstdRawFrame(rgb))).data)).toEqual(Array.from(rgb));
    expect(zstdContentSize(zstdRawFrame(new Uint8Array(1000)))).toBe(1000);
    await expect(decodeBlock(req({ compression: 50000 }), zstdRawFrame(new Uint8Array(5000)))).rejects.toMatchObject({ code: 'TILE_DECODE_OVERFLOW' });
  });

  it('maps grey, inverted grey, 16-bit and signed samples to 8 bits', async () => {
    const grey = Uint8Array.of(0, 100, 200, 255, 1, 2, 3, 4);
    expect(Array.from((await decodeBlock(req({ compression: 1, samples: 1, photometric: 1, output: 'gray' }), grey)).data)).toEqual(Array.from(grey));
    const inv = (await decodeBlock(req({ compression: 1, samples: 1, photometric: 0 }), grey)).data;
    expect(Array.from(inv.subarray(0, 6))).toEqual([255, 255, 255, 155, 155, 155]);
    const u16 = new Uint8Array(16);
    new DataView(u16.buffer).setUint16(0, 0xabcd, false);
    const be = (await decodeBlock(req({ compression: 1, samples: 1, photometric: 1, bitsPerSample: 16, output: 'gray', littleEndian: false }), u16)).data;
    expect(be[0]).toBe(0xab);
    const signed = (await decodeBlock(req({ compression: 1, samples: 1, photometric: 1, sampleFormat: 2, output: 'gray' }), Uint8Array.of(0x80, 0x00, 0x7f, 0, 0, 0, 0, 0))).data;
    expect(Array.from(signed.subarray(0, 3))).toEqual([0, 128, 255]);
  });

  it('composites alpha over white and expands palettes', async () => {
    const rgba = Uint8Array.of(255, 0, 0, 0, 255, 0, 0, 255, ...new Array(24).fill(0));
    const out = (await decodeBlock(req({ compression: 1, samples: 4, alphaSample: 3 }), rgba)).data;
    expect(Array.from(out.subarray(0, 6))).toEqual([255, 255, 255, 255, 0, 0]);
    const colorMap = [...new Array(256).fill(0), ...new Array(256).fill(0), ...new Array(256).fill(0)];
    colorMap[1] = 0xffff;
    colorMap[256 + 2] = 0x8000;
    const pal = (await decodeBlock(req({ compression: 1, samples: 1, photometric: 3, colorMap }), Uint8Array.of(1, 2, 0, 0, 0, 0, 0, 0))).data;
    expect(Array.from(pal.subarray(0, 6))).toEqual([255, 0, 0, 0, 128, 0]);
  });

  it('zero-fills deflate, LZW and PackBits data that ends early and says so, after the predictor', async () => {
    for (const [compression, enc] of [[8, deflateSync], [5, lzwEncode], [32773, packbitsEncode]] as const) {
      const short = await decodeBlock(req({ compression }), enc(rgb.subarray(0, 10)));
      expect(short.short).toEqual({ decoded: 10, expected: 24 });
      expect(Array.from(short.data)).toEqual([...rgb.subarray(0, 10), ...new Array(14).fill(0)]);
    }
    const diff = Uint8Array.from(rgb);
    for (let x = 11; x >= 3; x--) diff[x] = ((rgb[x] as number) - (rgb[x - 3] as number)) & 255;
    const predicted = await decodeBlock(req({ predictor: 2 }), deflateSync(diff.subarray(0, 7)));
    expect(Array.from(predicted.data)).toEqual([...rgb.subarray(0, 7), ...new Array(17).fill(0)]);
    expect((await decodeBlock(req({}), deflateSync(rgb))).short).toBeNull();
  });

  it('a slide gets one warning for its short blocks, naming the first', () => {
    const warnings = ['an earlier warning'];
    noteShortBlock(warnings, 'level 0 tile 3,1', { decoded: 100, expected: 400 });
    noteShortBlock(warnings, 'level 1 tile 0,0', { decoded: 7, expected: 400 });
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toMatch(/ends before the end of its block.*first at level 0 tile 3,1: 100 of 400 bytes/);
  });

  it('refuses short uncompressed and zstd blocks, and unknown compressions', async () => {
    await expect(decodeBlock(req({ compression: 1 }), rgb.subarray(0, 10))).rejects.toMatchObject({ code: 'TILE_DECODE_ERROR' });
    await expect(decodeBlock(req({ compression: 50000 }), zstdRawFrame(rgb.subarray(0, 10)))).rejects.toMatchObject({ code: 'TILE_DECODE_ERROR' });
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
    const exact = (await decodeBlock(jp2kReq(33005), await encodeJp2kTile(rgb, w, h, 'rgb'))).data;
    expect(Buffer.compare(Buffer.from(exact), Buffer.from(rgb))).toBe(0);
    const ycc = (await decodeBlock(jp2kReq(33003), await encodeJp2kTile(rgb, w, h, 'ycbcr'))).data;
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
    expect(Buffer.compare(Buffer.from((await decodeBlock(jp2kReq(33005), tile)).data), Buffer.from(rgb))).toBe(0);
  });
});
