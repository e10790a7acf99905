/**
 * Decodes one TIFF block (tile or strip) into 8-bit samples. Compression goes
 * through geotiff.js's decoder registry, with bounded replacements registered
 * for the codecs whose stock decoders grow without limit. Predictors are
 * applied by geotiff.js's BaseDecoder. Pure (no I/O, no shared state), so it
 * runs the same in a worker or in a test.
 *
 * LZW, deflate and PackBits data that ends before the block is full (a strip
 * cut short) decodes to what it holds and zeros after it, and the result says
 * so (`short`): libtiff reads the same bytes and then reports an error; we
 * show them and the slide carries a warning instead of a 422.
 */
import { addDecoder, BaseDecoder, getDecoder } from 'geotiff';
import { ZSTDDecoder } from 'zstddec';
import { WsiError } from '../../src/core/errors.js';
import { Compression, Photometric } from '../tiff/tags.js';
import { ownedBuffer } from './bytes.js';
import { inflateBounded, lzwDecodeBounded, packbitsDecodeBounded } from './codecs.js';
import { decodeJp2k } from './jp2k.js';
import { decodeJpegLs, JPEG_LS_COMPRESSION } from './jpegls.js';

export interface BlockDecodeRequest {
  compression: number;
  /** Block width and the rows actually present in this block. */
  width: number;
  height: number;
  /** Samples stored in this block (1 for planar-separate blocks). */
  samples: number;
  bitsPerSample: number;
  /** 1 unsigned, 2 signed, 3 float. */
  sampleFormat: number;
  predictor: number;
  photometric: number;
  /** Palette (TIFF ColorMap, 3×2^bits 16-bit values), when photometric is palette. */
  colorMap?: number[] | undefined;
  /** Index of an alpha extra sample to composite over white, or -1. */
  alphaSample: number;
  /** 'rgb': 3 interleaved 8-bit channels; 'gray': 1 channel (one plane of a multi-channel image). */
  output: 'rgb' | 'gray';
  /** Byte order of multi-byte samples (the file's). */
  littleEndian: boolean;
}

/** Compressed data that ended before its block was full: bytes it gave, bytes the block holds. */
export interface ShortBlock {
  decoded: number;
  expected: number;
}

export interface DecodedBlock {
  /** 8-bit RGB (3 interleaved channels) or gray, `width` × `height`. */
  data: Uint8Array;
  /** Set when the data ended early; the samples past `decoded` are 0. */
  short: ShortBlock | null;
}

/** Decoder parameters: the block size, and (set by the decoder) how many bytes the data gave. */
type Params = ConstructorParameters<typeof BaseDecoder>[0] & { maxBytes: number; produced: number };

const toArrayBuffer = ownedBuffer;

/** Registers what a decompressor produced and returns it as a whole block (zeros after a short stream). */
function wholeBlock(decoder: BaseDecoder, out: Uint8Array): ArrayBufferLike {
  const params = decoder.parameters as Params;
  params.produced = out.length;
  if (out.length >= params.maxBytes) return toArrayBuffer(out);
  const block = new Uint8Array(params.maxBytes);
  block.set(out);
  return block.buffer;
}

class BoundedDeflate extends BaseDecoder {
  override async decodeBlock(buffer: ArrayBufferLike): Promise<ArrayBufferLike> {
    return wholeBlock(this, await inflateBounded(new Uint8Array(buffer), (this.parameters as Params).maxBytes));
  }
}
class BoundedLzw extends BaseDecoder {
  override decodeBlock(buffer: ArrayBufferLike): ArrayBufferLike {
    return wholeBlock(this, lzwDecodeBounded(new Uint8Array(buffer), (this.parameters as Params).maxBytes));
  }
}
class BoundedPackbits extends BaseDecoder {
  override decodeBlock(buffer: ArrayBufferLike): ArrayBufferLike {
    return wholeBlock(this, packbitsDecodeBounded(new Uint8Array(buffer), (this.parameters as Params).maxBytes));
  }
}

const zstd = new ZSTDDecoder();
let zstdReady: Promise<void> | null = null;
/** Content size declared by a zstd frame header, or null when absent. */
export function zstdContentSize(b: Uint8Array): number | null {
  if (b.length < 6 || b[0] !== 0x28 || b[1] !== 0xb5 || b[2] !== 0x2f || b[3] !== 0xfd) return null;
  const fhd = b[4] as number;
  const fcsFlag = fhd >> 6;
  const single = (fhd >> 5) & 1;
  const dictBytes = [0, 1, 2, 4][fhd & 3] as number;
  const fcsBytes = fcsFlag === 0 ? single : [0, 2, 4, 8][fcsFlag] as number;
  if (fcsBytes === 0) return null;
  const at = 5 + (single ? 0 : 1) + dictBytes;
  if (at + fcsBytes > b.length) return null;
  let v = 0;
  for (let i = fcsBytes - 1; i >= 0; i--) v = v * 256 + (b[at + i] as number);
  return fcsBytes === 2 ? v + 256 : v;
}

class BoundedZstd extends BaseDecoder {
  override decodeBlock(buffer: ArrayBufferLike): ArrayBufferLike {
    const max = (this.parameters as Params).maxBytes;
    const input = new Uint8Array(buffer);
    const declared = zstdContentSize(input);
    if (declared !== null && declared > max) {
      throw new WsiError('TILE_DECODE_OVERFLOW', `zstd frame declares ${declared} bytes, more than the block (${max} bytes)`);
    }
    let out: Uint8Array;
    try {
      out = zstd.decode(input, max);
    } catch (err) {
      throw new WsiError('TILE_DECODE_ERROR', `zstd data is corrupt (${(err as Error).message})`);
    }
    // zstddec hands back ZSTD_decompress's result length; an error code
    // (a negative size_t in wasm32) yields an empty result
    if (out.length === 0 && input.length > 0) throw new WsiError('TILE_DECODE_ERROR', 'zstd data is corrupt or does not fit the block');
    if (out.length > max) throw new WsiError('TILE_DECODE_OVERFLOW', `zstd data expands past the block size (${max} bytes)`);
    return toArrayBuffer(out);
  }
}

let registered = false;
function registerBoundedDecoders(): void {
  if (registered) return;
  registered = true;
  addDecoder([Compression.DEFLATE, Compression.ADOBE_DEFLATE], () => Promise.resolve(BoundedDeflate), undefined, false);
  addDecoder(Compression.LZW, () => Promise.resolve(BoundedLzw), undefined, false);
  addDecoder(Compression.PACKBITS, () => Promise.resolve(BoundedPackbits), undefined, false);
  addDecoder(
    Compression.ZSTD,
    async () => {
      zstdReady ??= zstd.init();
      await zstdReady;
      return BoundedZstd;
    },
    undefined,
    false,
  );
}

/** Compressions this module decodes (JPEG and WebP go to libvips instead). */
export const BLOCK_COMPRESSIONS: ReadonlySet<number> = new Set<number>([
  Compression.NONE,
  Compression.LZW,
  Compression.DEFLATE,
  Compression.ADOBE_DEFLATE,
  Compression.PACKBITS,
  Compression.ZSTD,
  Compression.LERC,
  Compression.APERIO_JP2K_YCBCR,
  Compression.APERIO_JP2K_RGB,
]);

/** Aperio's JPEG 2000 compressions: a raw codestream per tile, 8-bit, three components. */
export function isAperioJp2k(compression: number): boolean {
  return compression === Compression.APERIO_JP2K_YCBCR || compression === Compression.APERIO_JP2K_RGB;
}

export function blockBytes(req: Pick<BlockDecodeRequest, 'width' | 'height' | 'samples' | 'bitsPerSample'>): number {
  return Math.ceil((req.width * req.samples * req.bitsPerSample) / 8) * req.height;
}

/** Decompresses a block and converts it to 8-bit RGB or gray. */
export async function decodeBlock(req: BlockDecodeRequest, data: Uint8Array): Promise<DecodedBlock> {
  if (isAperioJp2k(req.compression)) {
    const rgb = await decodeJp2k(data, req.width, req.height, req.compression === Compression.APERIO_JP2K_YCBCR ? 'ycbcr' : 'rgb');
    return { data: toEightBit({ ...req, samples: 3, bitsPerSample: 8, sampleFormat: 1, photometric: Photometric.RGB, alphaSample: -1 }, rgb), short: null };
  }
  if (req.compression === JPEG_LS_COMPRESSION) {
    // DICOM JPEG-LS frames: samples come out in native (little-endian) order
    const samples = await decodeJpegLs(data, req.width, req.height, req.samples, req.bitsPerSample);
    return { data: toEightBit({ ...req, littleEndian: true }, samples), short: null };
  }
  registerBoundedDecoders();
  const expected = blockBytes(req);
  let raw: Uint8Array;
  let short: ShortBlock | null = null;
  if (req.compression === Compression.NONE) {
    raw = data;
  } else {
    const params: Params = {
      tileWidth: req.width,
      tileHeight: req.height,
      planarConfiguration: 1,
      bitsPerSample: Array.from({ length: req.samples }, () => req.bitsPerSample),
      predictor: req.predictor,
      samplesPerPixel: req.samples,
      maxBytes: expected,
      produced: -1,
    };
    let decoder: BaseDecoder;
    try {
      decoder = await getDecoder(req.compression, params);
    } catch (err) {
      throw new WsiError('UNSUPPORTED_COMPRESSION', `compression ${req.compression} cannot be decoded: ${(err as Error).message}`, {
        compression: req.compression,
      });
    }
    const copy = ownedBuffer(data);
    try {
      raw = new Uint8Array(await decoder.decode(copy));
    } catch (err) {
      if (err instanceof WsiError) throw err;
      throw new WsiError('TILE_DECODE_ERROR', `block decode failed: ${(err as Error).message}`);
    }
    if (params.produced >= 0 && params.produced < expected) {
      short = { decoded: params.produced, expected };
      // after the predictor, so what the data did not hold reads as 0
      raw.fill(0, params.produced);
    }
  }
  if (raw.byteLength < expected) {
    throw new WsiError('TILE_DECODE_ERROR', `block decoded to ${raw.byteLength} bytes, ${expected} expected`, {
      decoded: raw.byteLength,
      expected,
    });
  }
  return { data: toEightBit(req, raw), short };
}

/** Maps one sample value to 0..255 over the full range of its type. */
function sampleReader(req: BlockDecodeRequest, raw: Uint8Array): (index: number) => number {
  const { bitsPerSample: bits, sampleFormat } = req;
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  // Block data stays in the file's byte order after decompression.
  const le = req.littleEndian;
  if (bits === 8) return sampleFormat === 2 ? (i) => ((raw[i] as number) ^ 0x80) : (i) => raw[i] as number;
  if (bits === 16) return sampleFormat === 2 ? (i) => (dv.getInt16(i * 2, le) + 32768) >>> 8 : (i) => dv.getUint16(i * 2, le) >>> 8;
  if (bits === 1) return (i) => (((raw[i >>> 3] as number) >> (7 - (i & 7))) & 1) * 255;
  throw new WsiError('UNSUPPORTED_PIXEL_FORMAT', `BitsPerSample ${bits} is not supported`, { field: 'BitsPerSample', value: bits });
}

function toEightBit(req: BlockDecodeRequest, raw: Uint8Array): Uint8Array {
  const { width, height, samples, photometric } = req;
  const n = width * height;
  const read = sampleReader(req, raw);
  const rowSamples = req.bitsPerSample === 1 ? Math.ceil((width * samples) / 8) * 8 : width * samples;
  const at = (p: number, s: number): number => read(Math.floor(p / width) * rowSamples + (p % width) * samples + s);

  if (req.output === 'gray') {
    const out = new Uint8Array(n);
    if (req.bitsPerSample === 8 && samples === 1 && req.sampleFormat !== 2) {
      out.set(raw.subarray(0, n));
      return out;
    }
    for (let p = 0; p < n; p++) out[p] = at(p, 0);
    return out;
  }

  const out = new Uint8Array(n * 3);
  if (photometric === Photometric.RGB && req.bitsPerSample === 8 && samples === 3 && req.sampleFormat !== 2) {
    out.set(raw.subarray(0, n * 3));
    return out;
  }
  const alpha = req.alphaSample;
  for (let p = 0; p < n; p++) {
    let r: number;
    let g: number;
    let b: number;
    if (photometric === Photometric.RGB) {
      r = at(p, 0);
      g = at(p, 1);
      b = at(p, 2);
    } else if (photometric === Photometric.PALETTE && req.colorMap) {
      const idx = req.bitsPerSample === 8 ? (raw[p] as number) : at(p, 0);
      const size = req.colorMap.length / 3;
      r = (req.colorMap[idx] ?? 0) >>> 8;
      g = (req.colorMap[size + idx] ?? 0) >>> 8;
      b = (req.colorMap[2 * size + idx] ?? 0) >>> 8;
    } else {
      const v = at(p, 0);
      r = g = b = photometric === Photometric.MINISWHITE ? 255 - v : v;
    }
    if (alpha >= 0) {
      const a = at(p, alpha);
      r = (r * a + 255 * (255 - a)) / 255;
      g = (g * a + 255 * (255 - a)) / 255;
      b = (b * a + 255 * (255 - a)) / 255;
    }
    out[p * 3] = r;
    out[p * 3 + 1] = g;
    out[p * 3 + 2] = b;
  }
  return out;
}
