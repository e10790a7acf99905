/**
 * libvips' command-line tool (`vips` from Debian's libvips-tools) as a second
 * TIFF reader beside OpenSlide. It reads tiles through libtiff's tile API,
 * not TIFFReadRGBATile, so it is not hit by the libtiff security update
 * (4.5.0-6+deb12u4 and later) that makes OpenSlide 3.4.1 return garbage for
 * a non-JPEG level smaller than its tile. `tiffload` is named explicitly so
 * libvips never hands an SVS to its OpenSlide loader.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { FileByteSource } from '../../tiles-server/tiff/byte-source.js';
import { readTiffStructure } from '../../tiles-server/tiff/structure.js';

const run = promisify(execFile);

export const onPath = (cmd: string): boolean => (process.env['PATH'] ?? '').split(delimiter).some((d) => d && existsSync(join(d, cmd)));

export const HAS_VIPS = onPath('vips');

export interface VipsImage {
  width: number;
  height: number;
  bands: number;
  /** 8-bit samples, `bands` interleaved, row-major. */
  data: Uint8Array;
}

/** Reads a .v file (libvips' own format: a 64-byte header, then the pixels), 8-bit images only. */
async function readV(path: string): Promise<VipsImage> {
  const buf = await readFile(path);
  // magic, then width, height, bands, bits and band format as int32 in the writer's byte order
  const le = buf.readUInt32BE(0) === 0xb6a6f208;
  if (!le && buf.readUInt32BE(0) !== 0x08f2a6b6) throw new Error(`${path} is not a .v file`);
  const int = (at: number): number => (le ? buf.readInt32LE(at) : buf.readInt32BE(at));
  const [width, height, bands, format] = [int(4), int(8), int(12), int(20)];
  if (format !== 0) throw new Error(`libvips read band format ${format}, not 8-bit`);
  return { width, height, bands, data: new Uint8Array(buf.subarray(64, 64 + width * height * bands)) };
}

/** Runs `vips` with an output .v file and reads it. */
async function vipsTo(tmpDir: string, args: (out: string) => string[]): Promise<VipsImage> {
  const out = join(tmpDir, `vips-${process.pid}-${seq++}.v`);
  try {
    await run('vips', args(out));
    return await readV(out);
  } finally {
    await rm(out, { force: true });
  }
}
let seq = 0;

/** Reads page `page` of the main IFD chain, whole, through libvips' TIFF loader. */
export function vipsPage(file: string, page: number, tmpDir: string): Promise<VipsImage> {
  return vipsTo(tmpDir, (out) => ['tiffload', file, out, '--page', String(page)]);
}

/**
 * Regions of pages through libvips' TIFF loader. A page of up to 16
 * megapixels is read whole once (the last one is kept); a larger one is
 * cropped by libvips itself (`file[page=N]`), except in a file libvips would
 * give to its OpenSlide loader (an SVS), where it too is read whole.
 */
export class VipsRegions {
  private whole: { key: string; img: VipsImage } | null = null;

  constructor(private readonly tmpDir: string) {}

  async rgb(file: string, page: { index: number; width: number; height: number }, x: number, y: number, w: number, h: number): Promise<Uint8Array> {
    const key = `${file}#${page.index}`;
    if (this.whole?.key !== key) {
      if (page.width * page.height > 16e6) {
        try {
          const img = await vipsTo(this.tmpDir, (out) => ['crop', `${file}[page=${page.index}]`, out, String(x), String(y), String(w), String(h)]);
          if (img.width !== w || img.height !== h) throw new Error(`libvips cropped ${img.width}x${img.height}, not ${w}x${h}`);
          return cropRgb(img, 0, 0, w, h);
        } catch (err) {
          if (!/openslideload/.test(String((err as { stderr?: unknown }).stderr ?? ''))) throw err;
        }
      }
      const img = await vipsPage(file, page.index, this.tmpDir);
      if (img.width !== page.width || img.height !== page.height) throw new Error(`libvips read page ${page.index} as ${img.width}x${img.height}, not ${page.width}x${page.height}`);
      this.whole = { key, img };
    }
    return cropRgb(this.whole.img, x, y, w, h);
  }
}

/** The tiled image of a given size in the main IFD chain (OpenSlide's generic-TIFF and Aperio levels): its index and compression. */
export async function pageOfSize(file: string, width: number, height: number): Promise<{ page: number; compression: number }> {
  const src = await FileByteSource.open(file);
  try {
    const chain = (await readTiffStructure(src)).chain;
    const page = chain.findIndex((ifd) => ifd.tiled && ifd.width === width && ifd.height === height);
    if (page < 0) throw new Error(`${file} has no tiled ${width}x${height} image in its main chain`);
    return { page, compression: (chain[page] as { compression: number }).compression };
  } finally {
    await src.close();
  }
}

/**
 * Compressions libvips does not read the way the file means them, so it is
 * no second reader there: measured on our lossless 33005 fixture (which we
 * and OpenSlide decode exactly), libvips 8.14 returns other colours (mean
 * absolute difference about 45), as it does on the real TCGA JPEG 2000 SVS.
 */
export const VIPS_NOT_A_REFERENCE: Record<number, string> = {
  33005: 'libvips reads Aperio RGB JPEG 2000 (33005) in wrong colours',
};

/** A `w` × `h` crop at (x, y) as RGB (grey replicated, alpha dropped). */
export function cropRgb(img: VipsImage, x: number, y: number, w: number, h: number): Uint8Array {
  const out = new Uint8Array(w * h * 3);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const s = ((y + r) * img.width + x + c) * img.bands;
      const d = (r * w + c) * 3;
      const grey = img.bands < 3;
      out[d] = img.data[s] as number;
      out[d + 1] = img.data[grey ? s : s + 1] as number;
      out[d + 2] = img.data[grey ? s : s + 2] as number;
    }
  }
  return out;
}
