/**
 * What a TIFF vendor layout decides (which images form the pyramid, which
 * are label/macro/thumbnail images, which channels make a composite, the
 * calibration) and the rules every layout shares: whether and how a level
 * can be decoded, level ordering, resolution tags, associated-image names.
 * The layouts themselves are in layouts/, listed in tiff-layouts.ts.
 */
import { WsiError } from '../../src/core/errors.js';
import { checkJpegTables } from '../decode/jpeg.js';
import { BLOCK_COMPRESSIONS, isAperioJp2k } from '../decode/block-decoder.js';
import { Compression, Photometric } from '../tiff/tags.js';
import type { TiffFile, TiffImage } from '../tiff/tiff-file.js';
import type { AssociatedKind, ChannelInfo, Vendor } from './types.js';

export type DecodeMode = 'jpeg' | 'sharp' | 'block';

/** One sample plane of a level: an image, and the sample within it for planar-separate data. */
export interface Plane {
  image: TiffImage;
  sample: number;
}

export interface PlannedLevel {
  width: number;
  height: number;
  tileWidth: number;
  tileHeight: number;
  mode: DecodeMode;
  /** One plane for RGB/gray images; one per channel for composites. */
  planes: Plane[];
}

/** A vendor convention for TIFF slides: whether a file follows it, and its layout. */
export interface TiffLayoutRule {
  vendor: Vendor;
  supports(file: TiffFile): boolean;
  plan(file: TiffFile): Layout;
}

export interface Layout {
  vendor: Vendor;
  levels: PlannedLevel[];
  associated: Array<{ kind: AssociatedKind; image: TiffImage }>;
  mpp: number | null;
  objectivePower: number | null;
  channels: ChannelInfo[] | null;
  orientation: number;
  warnings: string[];
}

const COMPRESSION_NAMES: Record<number, string> = {
  1: 'none',
  5: 'lzw',
  6: 'old-style jpeg',
  7: 'jpeg',
  8: 'deflate',
  32773: 'packbits',
  32946: 'deflate',
  33003: 'aperio jpeg 2000 (YCbCr)',
  33005: 'aperio jpeg 2000 (RGB)',
  34712: 'jpeg 2000',
  34887: 'lerc',
  50000: 'zstd',
  50001: 'webp',
  50002: 'jpeg xl',
};

export function compressionName(c: number): string {
  return COMPRESSION_NAMES[c] ?? `compression ${c}`;
}

export const PALETTE: Array<[number, number, number]> = [
  [255, 0, 0],
  [0, 255, 0],
  [0, 0, 255],
  [0, 255, 255],
  [255, 0, 255],
  [255, 255, 0],
  [255, 255, 255],
  [255, 128, 0],
];

/** Checks that a level image is something we can decode, and how. */
export function decodeModeFor(img: TiffImage): DecodeMode {
  const c = img.ifd.compression;
  const field = (name: string, value: number): never => {
    throw new WsiError('UNSUPPORTED_PIXEL_FORMAT', `${img.ifd.path}: ${name} ${value} is not supported`, { field: name, value });
  };
  if (c === Compression.JPEG) {
    if (img.bitsPerSample !== 8) field('BitsPerSample', img.bitsPerSample);
    if (img.ifd.planar !== 1) field('PlanarConfiguration', img.ifd.planar);
    if (![Photometric.MINISBLACK, Photometric.RGB, Photometric.YCBCR].includes(img.photometric as 1 | 2 | 6)) field('Photometric', img.photometric);
    if (img.ifd.samplesPerPixel !== 1 && img.ifd.samplesPerPixel !== 3) field('SamplesPerPixel', img.ifd.samplesPerPixel);
    if (img.jpegTables) checkJpegTables(img.jpegTables);
    return 'jpeg';
  }
  if (c === Compression.WEBP) return 'sharp';
  if (!BLOCK_COMPRESSIONS.has(c)) {
    throw new WsiError('UNSUPPORTED_COMPRESSION', `${img.ifd.path} uses ${compressionName(c)} (TIFF compression ${c}), which this server cannot decode`, {
      compression: c,
    });
  }
  if (isAperioJp2k(c)) {
    if (img.bitsPerSample !== 8) field('BitsPerSample', img.bitsPerSample);
    if (img.ifd.samplesPerPixel !== 3) field('SamplesPerPixel', img.ifd.samplesPerPixel);
    if (img.ifd.planar !== 1) field('PlanarConfiguration', img.ifd.planar);
    return 'block';
  }
  if (![1, 8, 16].includes(img.bitsPerSample)) field('BitsPerSample', img.bitsPerSample);
  if (img.sampleFormat !== 1 && img.sampleFormat !== 2) field('SampleFormat', img.sampleFormat);
  if (img.bitsPerSample === 1 && img.photometric > 1) field('BitsPerSample', 1);
  switch (img.photometric) {
    case Photometric.MINISWHITE:
    case Photometric.MINISBLACK:
      break;
    case Photometric.RGB:
      if (img.ifd.samplesPerPixel < 3) field('SamplesPerPixel', img.ifd.samplesPerPixel);
      break;
    case Photometric.PALETTE:
      if (!img.colorMap || img.bitsPerSample > 8) field('Photometric', img.photometric);
      break;
    default:
      field('Photometric', img.photometric);
  }
  return 'block';
}

/** Index of an alpha sample to composite over white, or -1. */
export function alphaSampleOf(img: TiffImage): number {
  const colour = img.photometric === Photometric.RGB ? 3 : 1;
  if (img.ifd.samplesPerPixel > colour && (img.extraSamples[0] === 1 || img.extraSamples[0] === 2)) return colour;
  return -1;
}

export function keywordKind(text: string | null): AssociatedKind | null {
  if (!text) return null;
  if (/^\s*label\b/im.test(text)) return 'label';
  if (/^\s*(macro|overview)\b/im.test(text)) return 'macro';
  if (/^\s*thumbnail\b/im.test(text)) return 'thumbnail';
  return null;
}

/** True when `img` has level 0's aspect ratio up to rounding. */
export function sameAspect(base: TiffImage, img: TiffImage): boolean {
  const ds = (base.ifd.width / img.ifd.width + base.ifd.height / img.ifd.height) / 2;
  const ew = base.ifd.width / ds;
  const eh = base.ifd.height / ds;
  return Math.abs(img.ifd.width - ew) <= Math.max(2, 0.02 * ew) && Math.abs(img.ifd.height - eh) <= Math.max(2, 0.02 * eh);
}

export function singlePlaneLevel(img: TiffImage): PlannedLevel {
  // RGB in separate planes (PlanarConfiguration 2): one block per sample
  const planes = img.ifd.planar === 2 && img.photometric === Photometric.RGB ? [0, 1, 2] : [0];
  return {
    width: img.ifd.width,
    height: img.ifd.height,
    tileWidth: img.ifd.blockWidth,
    tileHeight: img.ifd.blockHeight,
    mode: decodeModeFor(img),
    planes: planes.map((sample) => ({ image: img, sample })),
  };
}

/** Sorts levels largest first, drops duplicates, and checks they shrink. */
export function orderLevels(images: TiffImage[], warnings: string[]): TiffImage[] {
  const sorted = [...images].sort((a, b) => b.ifd.width * b.ifd.height - a.ifd.width * a.ifd.height);
  const out: TiffImage[] = [];
  for (const img of sorted) {
    const prev = out[out.length - 1];
    if (prev && prev.ifd.width === img.ifd.width && prev.ifd.height === img.ifd.height) {
      warnings.push(`${img.ifd.path} repeats a level size (${img.ifd.width}x${img.ifd.height}) and was ignored`);
      continue;
    }
    if (prev && (img.ifd.width > prev.ifd.width || img.ifd.height > prev.ifd.height)) {
      throw new WsiError('BAD_PYRAMID', `${img.ifd.path} (${img.ifd.width}x${img.ifd.height}) does not fit inside the level above it`);
    }
    out.push(img);
  }
  if (sorted.some((img, i) => img !== images[i])) warnings.push('pyramid levels were stored out of order and have been sorted');
  return out;
}

export function resolutionMpp(img: TiffImage, warnings: string[]): number | null {
  const res = img.xResolution;
  if (res === null) return null;
  const perUnit = img.resolutionUnit === 3 ? 1e4 : img.resolutionUnit === 2 ? 25400 : null;
  if (perUnit === null) return null;
  const mpp = perUnit / res;
  // 72/96/300 dpi defaults give 85–350 µm/px: not a microscope calibration
  if (!(mpp > 0) || mpp > 50) {
    warnings.push(`TIFF resolution (${res.toFixed(2)} px per ${img.resolutionUnit === 3 ? 'cm' : 'inch'}) looks like a default, not a calibration; MPP unknown`);
    return null;
  }
  return mpp;
}

