/**
 * Decides what the images of a TIFF are: which form the pyramid, which are
 * label/macro/thumbnail images, which channels make a composite, and the
 * slide's calibration. One function per vendor convention.
 */
import { WsiError } from '../../src/core/errors.js';
import { checkJpegTables } from '../decode/jpeg.js';
import { BLOCK_COMPRESSIONS, isAperioJp2k } from '../decode/block-decoder.js';
import { Compression, Photometric } from '../tiff/tags.js';
import type { TiffFile, TiffImage } from '../tiff/tiff-file.js';
import { isAperioDescription, parseAperioDescription } from './aperio-description.js';
import { parseOmeXml } from './ome-xml.js';
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

const PALETTE: Array<[number, number, number]> = [
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

function keywordKind(text: string | null): AssociatedKind | null {
  if (!text) return null;
  if (/^\s*label\b/im.test(text)) return 'label';
  if (/^\s*(macro|overview)\b/im.test(text)) return 'macro';
  if (/^\s*thumbnail\b/im.test(text)) return 'thumbnail';
  return null;
}

/** True when `img` has level 0's aspect ratio up to rounding. */
function sameAspect(base: TiffImage, img: TiffImage): boolean {
  const ds = (base.ifd.width / img.ifd.width + base.ifd.height / img.ifd.height) / 2;
  const ew = base.ifd.width / ds;
  const eh = base.ifd.height / ds;
  return Math.abs(img.ifd.width - ew) <= Math.max(2, 0.02 * ew) && Math.abs(img.ifd.height - eh) <= Math.max(2, 0.02 * eh);
}

function singlePlaneLevel(img: TiffImage): PlannedLevel {
  const mode = decodeModeFor(img);
  if (img.ifd.planar === 2 && img.photometric === Photometric.RGB) {
    return {
      width: img.ifd.width,
      height: img.ifd.height,
      tileWidth: img.ifd.blockWidth,
      tileHeight: img.ifd.blockHeight,
      mode,
      planes: [0, 1, 2].map((sample) => ({ image: img, sample })),
    };
  }
  return {
    width: img.ifd.width,
    height: img.ifd.height,
    tileWidth: img.ifd.blockWidth,
    tileHeight: img.ifd.blockHeight,
    mode,
    planes: [{ image: img, sample: 0 }],
  };
}

/** Sorts levels largest first, drops duplicates, and checks they shrink. */
function orderLevels(images: TiffImage[], warnings: string[]): TiffImage[] {
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

function resolutionMpp(img: TiffImage, warnings: string[]): number | null {
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

function aperioLayout(file: TiffFile): Layout {
  const warnings: string[] = [];
  const chain = file.images.filter((i) => i.ifd.chainIndex >= 0);
  const first = chain[0] as TiffImage;
  const desc = parseAperioDescription(first.description ?? '');
  warnings.push(...desc.warnings);
  const associated: Layout['associated'] = [];
  const levelImages: TiffImage[] = [];
  for (const img of chain) {
    if (img.ifd.tiled && keywordKind(img.description?.split(/\r?\n/).slice(1).join('\n') ?? null) === null) {
      levelImages.push(img);
      continue;
    }
    const tail = img.description?.split(/\r?\n/).slice(1).join('\n') ?? null;
    const kind = keywordKind(tail) ?? (img.ifd.chainIndex === 1 ? 'thumbnail' : 'other');
    associated.push({ kind, image: img });
  }
  const ordered = orderLevels(levelImages, warnings);
  return {
    vendor: 'aperio',
    levels: ordered.map(singlePlaneLevel),
    associated,
    mpp: desc.mpp ?? resolutionMpp(first, warnings),
    objectivePower: desc.appMag,
    channels: null,
    orientation: first.orientation,
    warnings,
  };
}

function genericLayout(file: TiffFile): Layout {
  const warnings: string[] = [];
  const chain = file.images.filter((i) => i.ifd.chainIndex >= 0);
  const candidates = [...chain];
  // pyramids written as SubIFDs of the first image (libvips subifd, QPTIFF-like)
  const firstSubs = (chain[0]?.ifd.subIfds ?? []).map((s) => file.images.find((i) => i.ifd === s)).filter((i): i is TiffImage => !!i);
  candidates.push(...firstSubs);
  const associated: Layout['associated'] = [];
  const rest: TiffImage[] = [];
  for (const img of candidates) {
    const kind = keywordKind(img.description);
    if (kind) associated.push({ kind, image: img });
    else rest.push(img);
  }
  if (rest.length === 0) throw new WsiError('NO_PYRAMID_LEVELS', 'the file holds only label/macro/thumbnail images');
  const base = rest.reduce((a, b) => (b.ifd.width * b.ifd.height > a.ifd.width * a.ifd.height ? b : a));
  const levelImages: TiffImage[] = [];
  for (const img of rest) {
    if (img === base) levelImages.push(img);
    else if (!sameAspect(base, img)) associated.push({ kind: 'other', image: img });
    else if (base.ifd.tiled && !img.ifd.tiled) associated.push({ kind: 'thumbnail', image: img });
    else levelImages.push(img);
  }
  const ordered = orderLevels(levelImages, warnings);
  return {
    vendor: 'generic-tiff',
    levels: ordered.map(singlePlaneLevel),
    associated,
    mpp: resolutionMpp(base, warnings),
    objectivePower: null,
    channels: null,
    orientation: base.orientation,
    warnings,
  };
}

function omeLayout(file: TiffFile, xml: string): Layout {
  const warnings: string[] = [];
  const images = parseOmeXml(xml);
  const chain = file.images.filter((i) => i.ifd.chainIndex >= 0);
  const isAssociatedName = (n: string): AssociatedKind | null => keywordKind(n) ?? (/macro|overview/i.test(n) ? 'macro' : /label/i.test(n) ? 'label' : null);
  const main = images
    .filter((im) => isAssociatedName(im.name) === null)
    .reduce<(typeof images)[number] | null>((a, b) => (!a || b.sizeX * b.sizeY > a.sizeX * a.sizeY ? b : a), null);
  if (!main) throw new WsiError('OME_XML_INVALID', 'OME-XML describes no image');
  const channelCount = Math.max(1, main.sizeC);
  const planeImages: TiffImage[] = [];
  for (let c = 0; c < channelCount; c++) {
    const ifdIndex = main.channelIfds[c] ?? c;
    const img = chain[ifdIndex];
    if (!img) throw new WsiError('OME_XML_INVALID', `OME-XML puts channel ${c} in IFD ${ifdIndex}, which the file does not have`);
    if (img.ifd.width !== main.sizeX || img.ifd.height !== main.sizeY) {
      throw new WsiError('OME_XML_INVALID', `IFD ${ifdIndex} is ${img.ifd.width}x${img.ifd.height}, OME-XML says ${main.sizeX}x${main.sizeY}`);
    }
    planeImages.push(img);
  }
  const first = planeImages[0] as TiffImage;
  const subImages = (img: TiffImage): TiffImage[] =>
    img.ifd.subIfds.map((s) => file.images.find((i) => i.ifd === s)).filter((i): i is TiffImage => !!i);
  const rgb = first.ifd.samplesPerPixel >= 3 || (channelCount === 1 && first.photometric === Photometric.RGB);

  let levels: PlannedLevel[];
  let channels: ChannelInfo[] | null = null;
  if (rgb || channelCount === 1) {
    const ordered = orderLevels([first, ...subImages(first)], warnings);
    levels = ordered.map(singlePlaneLevel);
  } else {
    const perChannel = planeImages.map((img) => [img, ...subImages(img)]);
    const depth = Math.min(...perChannel.map((l) => l.length));
    if (perChannel.some((l) => l.length !== depth)) warnings.push('channels have different pyramid depths; extra levels ignored');
    levels = [];
    for (let k = 0; k < depth; k++) {
      const imgs = perChannel.map((l) => l[k] as TiffImage);
      const ref = imgs[0] as TiffImage;
      if (imgs.some((i) => i.ifd.width !== ref.ifd.width || i.ifd.height !== ref.ifd.height || i.ifd.blockWidth !== ref.ifd.blockWidth || i.ifd.blockHeight !== ref.ifd.blockHeight)) {
        throw new WsiError('BAD_PYRAMID', `channels of pyramid level ${k} differ in size or tiling`);
      }
      const modes = imgs.map(decodeModeFor);
      levels.push({
        width: ref.ifd.width,
        height: ref.ifd.height,
        tileWidth: ref.ifd.blockWidth,
        tileHeight: ref.ifd.blockHeight,
        mode: modes[0] as DecodeMode,
        planes: imgs.map((image) => ({ image, sample: 0 })),
      });
    }
    for (let k = 1; k < levels.length; k++) {
      const a = levels[k - 1] as PlannedLevel;
      const b = levels[k] as PlannedLevel;
      if (b.width > a.width || b.height > a.height) throw new WsiError('BAD_PYRAMID', `pyramid level ${k} is larger than level ${k - 1}`);
    }
    channels = main.channels.slice(0, channelCount).map((ch, i) => ({
      name: ch.name,
      color: ch.color ?? (channelCount === 1 ? [255, 255, 255] : (PALETTE[i % PALETTE.length] as [number, number, number])),
    }));
    while (channels.length < channelCount) channels.push({ name: `Channel ${channels.length}`, color: PALETTE[channels.length % PALETTE.length] as [number, number, number] });
  }
  const associated: Layout['associated'] = [];
  for (const im of images) {
    const kind = isAssociatedName(im.name);
    const idx = im.channelIfds[0];
    if (!kind || idx === null || idx === undefined) continue;
    const img = chain[idx];
    if (img) associated.push({ kind, image: img });
  }
  return {
    vendor: 'ome-tiff',
    levels,
    associated,
    mpp: main.physicalSizeX !== null && main.physicalSizeX <= 50 ? main.physicalSizeX : resolutionMpp(first, warnings),
    objectivePower: main.nominalMagnification,
    channels,
    orientation: 1,
    warnings,
  };
}

export function planLayout(file: TiffFile): Layout {
  const first = file.images.find((i) => i.ifd.chainIndex === 0);
  if (!first) throw new WsiError('NO_PYRAMID_LEVELS', 'the file has no images');
  let layout: Layout;
  if (isAperioDescription(first.description)) layout = aperioLayout(file);
  else if (first.description && /<OME[\s>]/.test(first.description)) layout = omeLayout(file, first.description);
  else layout = genericLayout(file);
  if (layout.levels.length === 0) throw new WsiError('NO_PYRAMID_LEVELS', 'the file has no image that can be a pyramid level');
  layout.warnings.unshift(...file.structure.warnings);
  if (layout.orientation < 1 || layout.orientation > 8) {
    layout.warnings.push(`Orientation ${layout.orientation} is invalid and was ignored`);
    layout.orientation = 1;
  }
  return layout;
}
