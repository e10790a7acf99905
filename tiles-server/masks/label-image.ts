/**
 * Decodes an imported label image (PNG or TIFF, through libvips/sharp, from
 * the spooled file; its size checked against the header first) into
 * one Uint8 code per pixel. Single-channel images are taken as they are; an
 * RGB(A) image is accepted only when its colour channels are equal and any
 * alpha is opaque (a grey image saved as RGB). 16-bit images are accepted
 * when every value fits in 0–255. ICC profiles are ignored: codes are not
 * colours.
 */
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { WsiError } from '../../src/core/errors.js';
import { readImageHeader } from './image-header.js';

export interface LabelImage {
  width: number;
  height: number;
  /** One code per pixel, row-major. */
  codes: Uint8Array;
  warnings: string[];
}

/** At most this many decoded bytes (pixels × channels × bytes per sample). */
export const MAX_LABEL_BYTES = 400_000_000;

function tooLarge(width: number, height: number, maxPixels: number): WsiError {
  return new WsiError(
    'IMAGE_TOO_LARGE',
    `the label image is ${width} × ${height} pixels (${((width * height) / 1e6).toFixed(1)} megapixels); the limit is ${maxPixels / 1e6} megapixels (MASK_IMPORT_MAX_PIXELS). Nothing was decoded or saved: import it in parts (x/y place each part) or at a coarser downsample.`,
    { width, height, limit: maxPixels },
  );
}

/**
 * Refuses an image whose header claims more than `maxPixels`, before any
 * decoder runs (a 390 KB PNG can claim 20,000²). A header we cannot read is
 * left to the decoder.
 */
export async function checkLabelImageSize(path: string, maxPixels: number): Promise<void> {
  const h = await readImageHeader(path);
  if (h && h.width * h.height > maxPixels) throw tooLarge(h.width, h.height, maxPixels);
}

function undecodable(err: unknown, maxPixels: number): never {
  const msg = (err as Error).message ?? String(err);
  if (/pixel limit/i.test(msg)) throw new WsiError('IMAGE_TOO_LARGE', `the label image is larger than ${maxPixels / 1e6} megapixels (MASK_IMPORT_MAX_PIXELS); import it in parts (x/y place each part)`, { limit: maxPixels });
  throw new WsiError('IMPORT_INVALID', `the image could not be decoded (nothing was saved): ${msg.trim().slice(0, 300)}`);
}

export async function decodeLabelImage(path: string, maxPixels: number): Promise<LabelImage> {
  const input = { limitInputPixels: maxPixels, ignoreIcc: true } as const;
  let meta: Metadata;
  try {
    meta = await sharp(path, input).metadata();
  } catch (err) {
    undecodable(err, maxPixels);
  }
  if (meta.format !== 'png' && meta.format !== 'tiff') {
    throw new WsiError('IMPORT_INVALID', `the body is a ${meta.format} image; a label image must be a lossless PNG or TIFF`);
  }
  const width = meta.width;
  const height = meta.height;
  const channels = meta.channels;
  const wide = meta.depth === 'ushort';
  if (meta.depth !== 'uchar' && !wide) throw new WsiError('IMPORT_INVALID', `the image has ${meta.depth} samples; a label image has 8-bit (or 16-bit) integer samples`);
  if (!width || !height || !channels || channels > 4) throw new WsiError('IMPORT_INVALID', `the image has an unexpected shape (${width} × ${height}, ${channels} channels)`);
  if (width * height > maxPixels) throw tooLarge(width, height, maxPixels);
  const decodedBytes = width * height * channels * (wide ? 2 : 1);
  if (decodedBytes > MAX_LABEL_BYTES) {
    throw new WsiError('IMAGE_TOO_LARGE', `the label image decodes to ${decodedBytes} bytes (${width} × ${height} × ${channels} channel(s)); the limit is ${MAX_LABEL_BYTES}. Save it as one 8-bit channel or import it in parts.`, { limit: MAX_LABEL_BYTES });
  }
  const warnings: string[] = [];
  if ((meta.pages ?? 1) > 1) warnings.push(`the file holds ${meta.pages as number} images; only the first was imported`);
  const grey = channels <= 2;
  const space = grey ? (wide ? 'grey16' : 'b-w') : wide ? 'rgb16' : 'srgb';
  let raw: { data: Buffer; info: OutputInfo };
  try {
    raw = await sharp(path, input)
      .toColourspace(space)
      .raw(wide ? { depth: 'ushort' } : {})
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    undecodable(err, maxPixels);
  }
  const ch = raw.info.channels;
  const colour = ch >= 3 ? 3 : 1;
  const alpha = ch === 2 || ch === 4;
  const n = width * height;
  // the usual case, one 8-bit channel, is used as decoded
  if (ch === 1 && !wide) return { width, height, codes: new Uint8Array(raw.data.buffer, raw.data.byteOffset, n), warnings };
  const samples = wide ? new Uint16Array(raw.data.buffer, raw.data.byteOffset, n * ch) : new Uint8Array(raw.data.buffer, raw.data.byteOffset, n * ch);
  const opaque = wide ? 65535 : 255;
  const codes = new Uint8Array(n);
  for (let p = 0, s = 0; p < n; p++, s += ch) {
    const v = samples[s] as number;
    if (colour === 3 && (samples[s + 1] !== v || samples[s + 2] !== v)) {
      throw new WsiError(
        'INVALID_MASK',
        `the image is RGB and its channels differ at pixel (${p % width}, ${Math.floor(p / width)}): (${v}, ${samples[s + 1] as number}, ${samples[s + 2] as number}). A label image has one channel of class codes; colour images are not label images.`,
      );
    }
    if (alpha && samples[s + ch - 1] !== opaque) {
      throw new WsiError('INVALID_MASK', `the image is transparent at pixel (${p % width}, ${Math.floor(p / width)}); a label image has no transparency (use code 0 for "leave as is")`);
    }
    if (v > 255) throw new WsiError('INVALID_MASK', `pixel (${p % width}, ${Math.floor(p / width)}) has the value ${v}; codes are 0–255`);
    codes[p] = v;
  }
  if (colour === 3) warnings.push('the image is stored as RGB with equal channels; it was read as one channel');
  return { width, height, codes, warnings };
}
