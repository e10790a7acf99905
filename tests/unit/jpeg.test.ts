import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { assembleJpeg, checkJpegTables, checkJpegTile, inspectJpeg, splitJpegTables } from '../../tiles-server/decode/jpeg.js';

async function jpeg(w = 64, h = 48): Promise<Buffer> {
  const raw = Buffer.alloc(w * h * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 37) & 255;
  return sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 80, optimiseCoding: false }).toBuffer();
}

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
    return 'no error';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
};

describe('JPEG tables', () => {
  it('split then merge gives a stream that decodes to the same pixels', async () => {
    const full = await jpeg();
    const { tables, abbreviated } = splitJpegTables(full);
    checkJpegTables(tables);
    const merged = assembleJpeg(tables, abbreviated, false);
    expect(inspectJpeg(merged)).toMatchObject({ width: 64, height: 48, components: 3 });
    const a = await sharp(full).raw().toBuffer();
    const b = await sharp(merged).raw().toBuffer();
    expect(b.equals(a)).toBe(true);
  });

  it('an RGB-coded stream gets an Adobe marker with transform 0', async () => {
    const { tables, abbreviated } = splitJpegTables(await jpeg());
    const merged = assembleJpeg(tables, abbreviated, true);
    expect(merged.subarray(2, 4)).toEqual(Buffer.from([0xff, 0xee]));
    expect(merged.subarray(6, 11).toString('latin1')).toBe('Adobe');
    expect(merged[15]).toBe(0);
  });

  it.each([
    ['length 1', Buffer.from([0xff])],
    ['no EOI', Buffer.from([0xff, 0xd8, 0xff, 0xdb, 0x00, 0x03, 0x00])],
    ['segment overrun', Buffer.from([0xff, 0xd8, 0xff, 0xdb, 0x10, 0x00, 0xff, 0xd9])],
  ])('refuses tables with %s', (_n, t) => {
    expect(codeOf(() => checkJpegTables(t))).toBe('TIFF_BAD_JPEG_TABLES');
  });
});

describe('JPEG inspection', () => {
  it('accepts a good stream and reads its frame', async () => {
    expect(inspectJpeg(await jpeg(40, 30))).toEqual({ width: 40, height: 30, components: 3, progressive: false });
  });

  it('refuses a stream without EOI, an illegal marker in the scan and an empty stream', async () => {
    const good = await jpeg();
    expect(codeOf(() => inspectJpeg(good.subarray(0, good.length - 2)))).toBe('TILE_DECODE_ERROR');
    const bad = Buffer.from(good);
    const sos = bad.indexOf(Buffer.from([0xff, 0xda]));
    bad[sos + 30] = 0xff;
    bad[sos + 31] = 0xc0;
    expect(codeOf(() => inspectJpeg(bad))).toBe('TILE_DECODE_ERROR');
    expect(codeOf(() => inspectJpeg(Buffer.from([0xff, 0xd8, 0xff, 0xd9])))).toBe('TILE_DECODE_ERROR');
    expect(codeOf(() => inspectJpeg(Buffer.from('not a jpeg')))).toBe('TILE_DECODE_ERROR');
  });

  it('calls a frame larger than its tile a decode overflow', async () => {
    const j = Buffer.from(await jpeg());
    const sof = j.indexOf(Buffer.from([0xff, 0xc0]));
    j.writeUInt16BE(60000, sof + 5);
    j.writeUInt16BE(60000, sof + 7);
    expect(codeOf(() => checkJpegTile(j, 256, 256, 3))).toBe('TILE_DECODE_OVERFLOW');
    const small = await jpeg();
    expect(codeOf(() => checkJpegTile(small, 256, 256, 1))).toBe('TILE_DECODE_ERROR');
  });
});
