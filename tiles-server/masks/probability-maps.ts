/**
 * A model's mask given as one probability map per class, turned into a
 * label image (issue 13): each pixel takes the class of highest probability
 * (ties to the smaller class id) when that probability is at least
 * `minProbability`; below it the pixel stays unlabelled (0). A map is a
 * one-channel PNG or TIFF of 8-bit (p = v / 255), 16-bit (p = v / 65535) or
 * 32-bit float samples (p = v, which must lie in [0, 1]). Every map must
 * have the size of the first. Maps are decoded one at a time (a running
 * maximum and its class are all that is kept), each with the pixel cap of
 * label images (the header was checked before: label-image.ts).
 */
import sharp, { type Metadata } from 'sharp';
import { WsiError } from '../../src/core/errors.js';
import { MAX_LABEL_BYTES, type LabelImage } from './label-image.js';

export interface ProbabilityMap {
  classId: number;
  name: string;
  /** The spooled file. */
  path: string;
}

/** The default least probability that labels a pixel. */
export const DEFAULT_MIN_PROBABILITY = 0.5;

async function decodeMap(m: ProbabilityMap, maxPixels: number): Promise<{ width: number; height: number; p: (i: number) => number; n: number }> {
  const input = { limitInputPixels: maxPixels, ignoreIcc: true } as const;
  const bad = (err: unknown): never => {
    const msg = (err as Error).message ?? String(err);
    if (/pixel limit/i.test(msg)) throw new WsiError('IMAGE_TOO_LARGE', `the probability map of "${m.name}" is larger than ${maxPixels / 1e6} megapixels (MASK_IMPORT_MAX_PIXELS)`, { limit: maxPixels });
    throw new WsiError('IMPORT_INVALID', `the probability map of "${m.name}" could not be decoded (nothing was saved): ${msg.trim().slice(0, 300)}`);
  };
  let meta: Metadata;
  try {
    meta = await sharp(m.path, input).metadata();
  } catch (err) {
    return bad(err);
  }
  if (meta.format !== 'png' && meta.format !== 'tiff') throw new WsiError('IMPORT_INVALID', `the probability map of "${m.name}" is a ${meta.format} image; send lossless PNG or TIFF`);
  const { width, height, channels, depth } = meta;
  if (!width || !height || channels !== 1) throw new WsiError('IMPORT_INVALID', `the probability map of "${m.name}" has ${channels ?? '?'} channels; a probability map has one`);
  const bytes = depth === 'uchar' ? 1 : depth === 'ushort' ? 2 : depth === 'float' ? 4 : 0;
  if (bytes === 0) throw new WsiError('IMPORT_INVALID', `the probability map of "${m.name}" has ${depth} samples; use 8-bit, 16-bit or 32-bit float`);
  if (width * height > maxPixels) throw new WsiError('IMAGE_TOO_LARGE', `the probability map of "${m.name}" is ${width} × ${height} pixels; the limit is ${maxPixels / 1e6} megapixels (MASK_IMPORT_MAX_PIXELS)`, { width, height, limit: maxPixels });
  if (width * height * bytes > MAX_LABEL_BYTES) throw new WsiError('IMAGE_TOO_LARGE', `the probability map of "${m.name}" decodes to ${width * height * bytes} bytes; the limit is ${MAX_LABEL_BYTES}`, { limit: MAX_LABEL_BYTES });
  let data: Buffer;
  try {
    data = await sharp(m.path, input).extractChannel(0).raw(depth === 'ushort' ? { depth: 'ushort' } : depth === 'float' ? { depth: 'float' } : {}).toBuffer();
  } catch (err) {
    return bad(err);
  }
  const n = width * height;
  if (bytes === 1) {
    const a = new Uint8Array(data.buffer, data.byteOffset, n);
    return { width, height, n, p: (i) => (a[i] as number) / 255 };
  }
  if (bytes === 2) {
    const a = new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + n * 2));
    return { width, height, n, p: (i) => (a[i] as number) / 65535 };
  }
  const a = new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + n * 4));
  for (let i = 0; i < n; i++) {
    const v = a[i] as number;
    if (!(v >= 0 && v <= 1)) throw new WsiError('INVALID_MASK', `the probability map of "${m.name}" holds ${v} at pixel (${i % width}, ${Math.floor(i / width)}); probabilities lie in [0, 1]`);
  }
  return { width, height, n, p: (i) => a[i] as number };
}

/** The label image the maps make (codes are class ids). */
export async function labelsFromProbabilities(maps: ProbabilityMap[], maxPixels: number, minProbability: number): Promise<LabelImage> {
  const ordered = [...maps].sort((a, b) => a.classId - b.classId);
  let best: Float32Array | null = null;
  let codes: Uint8Array | null = null;
  let size: { width: number; height: number; first: string } | null = null;
  for (const m of ordered) {
    const d = await decodeMap(m, maxPixels);
    if (!size) {
      size = { width: d.width, height: d.height, first: m.name };
      best = new Float32Array(d.n).fill(-1);
      codes = new Uint8Array(d.n);
    } else if (d.width !== size.width || d.height !== size.height) {
      throw new WsiError('MODEL_MASK_SIZE_MISMATCH', `the probability maps differ in size: "${size.first}" is ${size.width} × ${size.height}, "${m.name}" is ${d.width} × ${d.height}; every map covers the same pixels`, {
        first: { class: size.first, width: size.width, height: size.height },
        other: { class: m.name, width: d.width, height: d.height },
      });
    }
    const b = best as Float32Array;
    const c = codes as Uint8Array;
    // in ascending class id, replaced only by a strictly higher probability: a tie goes to the smaller id
    for (let i = 0; i < d.n; i++) {
      const p = Math.fround(d.p(i));
      if (p > (b[i] as number)) {
        b[i] = p;
        c[i] = m.classId;
      }
    }
  }
  if (!size || !best || !codes) throw new WsiError('MODEL_MASK_CLASSES', 'no probability map was sent');
  // compared in float32, as the maxima are kept: an 8-bit 128 (0.50196…) is at least 0.5
  const min = Math.fround(minProbability);
  for (let i = 0; i < codes.length; i++) if ((best[i] as number) < min) codes[i] = 0;
  return { width: size.width, height: size.height, codes, warnings: [] };
}
