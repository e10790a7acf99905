/**
 * The DICOM transfer syntaxes a whole-slide frame can be read in, one
 * registry entry each: whether its frames are complete baseline JPEGs a
 * browser shows as they are, and how one frame becomes RGB. JPEG goes to
 * libvips (sharp), JPEG 2000 and JPEG-LS to the decode worker pool, native
 * samples are converted in place. Anything else is UNSUPPORTED_COMPRESSION
 * naming the transfer syntax.
 */
import { WsiError } from '../../src/core/errors.js';
import type { BlockDecodeRequest } from '../decode/block-decoder.js';
import { assembleJpeg, checkJpegTile } from '../decode/jpeg.js';
import { JPEG_LS_COMPRESSION } from '../decode/jpegls.js';
import type { DecodePool } from '../decode/pool.js';
import { decodeWithSharp } from '../decode/sharp-decode.js';
import { Compression, Photometric } from '../tiff/tags.js';
import type { DicomInstance } from './dicom-header.js';

export interface FrameCodec {
  /** Compression name reported in the slide's metadata. */
  name: string;
  /** Frames are complete baseline JPEGs (after `asJpeg`) that browsers show as they are. */
  passthrough: boolean;
  /** Refuses, at open, an instance whose pixel format this codec cannot give as RGB. */
  check(inst: DicomInstance): void;
  /** Decodes one whole frame (Columns × Rows) to RGB. */
  decode(frame: Buffer, inst: DicomInstance, pool: DecodePool, signal?: AbortSignal): Promise<Uint8Array>;
}

const TRANSFER_SYNTAX_NAMES: Record<string, string> = {
  '1.2.840.10008.1.2.1.99': 'Deflated Explicit VR Little Endian',
  '1.2.840.10008.1.2.4.57': 'JPEG Lossless',
  '1.2.840.10008.1.2.4.70': 'JPEG Lossless SV1',
  '1.2.840.10008.1.2.5': 'RLE Lossless',
  '1.2.840.10008.1.2.4.100': 'MPEG2',
  '1.2.840.10008.1.2.4.102': 'MPEG-4 AVC/H.264',
  '1.2.840.10008.1.2.4.201': 'High-Throughput JPEG 2000 (lossless)',
  '1.2.840.10008.1.2.4.202': 'High-Throughput JPEG 2000 with RPCL (lossless)',
  '1.2.840.10008.1.2.4.203': 'High-Throughput JPEG 2000',
};

const RGB_LIKE = new Set(['RGB', 'YBR_FULL', 'YBR_FULL_422', 'YBR_ICT', 'YBR_RCT']);
const MONOCHROME = new Set(['MONOCHROME1', 'MONOCHROME2']);

function unsupportedPixels(inst: DicomInstance, codec: string): WsiError {
  return new WsiError(
    'UNSUPPORTED_PIXEL_FORMAT',
    `${codec} frames with ${inst.samplesPerPixel} samples of ${inst.bitsAllocated} bits, ${inst.photometric || 'no PhotometricInterpretation'}, are not supported`,
    { photometric: inst.photometric, samplesPerPixel: inst.samplesPerPixel, bitsAllocated: inst.bitsAllocated },
  );
}

/** 8-bit colour (3 samples) or grey (1 sample) frames in one of the photometric interpretations we convert. */
function checkEightBit(inst: DicomInstance, codec: string): void {
  const colour = inst.samplesPerPixel === 3 && RGB_LIKE.has(inst.photometric);
  const grey = inst.samplesPerPixel === 1 && MONOCHROME.has(inst.photometric);
  if (inst.bitsAllocated !== 8 || !(colour || grey) || inst.pixelRepresentation !== 0) throw unsupportedPixels(inst, codec);
}

function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

/** Full-range YCbCr (JFIF equations, as DICOM YBR_FULL) to RGB, in place. */
function ybrToRgb(px: Uint8Array): Uint8Array {
  for (let i = 0; i + 2 < px.length; i += 3) {
    const y = px[i] as number;
    const cb = (px[i + 1] as number) - 128;
    const cr = (px[i + 2] as number) - 128;
    px[i] = clamp(y + 1.402 * cr);
    px[i + 1] = clamp(y - 0.344136 * cb - 0.714136 * cr);
    px[i + 2] = clamp(y + 1.772 * cb);
  }
  return px;
}

/** Grey samples to RGB (MONOCHROME1 inverted). */
function greyToRgb(grey: Uint8Array, invert: boolean): Uint8Array {
  const out = new Uint8Array(grey.length * 3);
  for (let i = 0; i < grey.length; i++) {
    const v = invert ? 255 - (grey[i] as number) : (grey[i] as number);
    out[3 * i] = v;
    out[3 * i + 1] = v;
    out[3 * i + 2] = v;
  }
  return out;
}

const JFIF = Buffer.from('JFIF\0', 'latin1');
const ADOBE = Buffer.from('Adobe', 'latin1');

/**
 * A JPEG frame as a browser must see it. PhotometricInterpretation RGB
 * means the components were coded without a colour transform; decoders
 * assume YCbCr unless an Adobe APP14 marker says transform 0, so one is
 * added (and a JFIF APP0, which would override it, dropped) when the frame
 * has no Adobe marker of its own.
 */
export function frameAsJpeg(frame: Buffer, inst: DicomInstance): Buffer {
  if (inst.photometric !== 'RGB' || inst.samplesPerPixel !== 3) return frame;
  if (frame.length < 4 || frame[0] !== 0xff || frame[1] !== 0xd8) return frame;
  const kept: Buffer[] = [frame.subarray(0, 2)];
  let i = 2;
  while (i + 4 <= frame.length && frame[i] === 0xff) {
    const marker = frame[i + 1] as number;
    if (marker === 0xda || !((marker >= 0xe0 && marker <= 0xef) || marker === 0xdb || marker === 0xc4 || marker === 0xdd || marker === 0xfe || (marker >= 0xc0 && marker <= 0xcf))) break;
    const len = frame.readUInt16BE(i + 2);
    const seg = frame.subarray(i, i + 2 + len);
    if (marker === 0xee && seg.subarray(4, 9).equals(ADOBE)) return frame;
    if (!(marker === 0xe0 && seg.subarray(4, 9).equals(JFIF))) kept.push(seg);
    i += 2 + len;
  }
  kept.push(frame.subarray(i));
  return assembleJpeg(null, Buffer.concat(kept), true);
}

const jpeg: FrameCodec = {
  name: 'jpeg',
  passthrough: true,
  check: (inst) => checkEightBit(inst, 'JPEG'),
  async decode(frame, inst) {
    const data = frameAsJpeg(frame, inst);
    checkJpegTile(data, inst.columns, inst.rows, inst.samplesPerPixel);
    const dec = await decodeWithSharp(data, { maxWidth: inst.columns, maxHeight: inst.rows, width: inst.columns, height: inst.rows, output: 'rgb' });
    if (dec.width !== inst.columns || dec.height !== inst.rows) {
      throw new WsiError('TILE_DECODE_ERROR', `the JPEG frame decodes to ${dec.width}x${dec.height}, ${inst.columns}x${inst.rows} expected`);
    }
    return inst.photometric === 'MONOCHROME1' ? dec.data.map((v) => 255 - v) : dec.data;
  },
};

/** A codestream ending in EOC/EOI and the 0x00 that pads an odd fragment to even length, without the pad. */
function withoutPadding(frame: Buffer): Buffer {
  const n = frame.length;
  return n >= 3 && frame[n - 1] === 0 && frame[n - 3] === 0xff && frame[n - 2] === 0xd9 ? frame.subarray(0, n - 1) : frame;
}

/** Frames the decode pool turns into RGB through a block request. */
function pooled(name: string, check: (inst: DicomInstance) => void, request: (inst: DicomInstance) => Pick<BlockDecodeRequest, 'compression' | 'samples' | 'bitsPerSample' | 'photometric'>): FrameCodec {
  return {
    name,
    passthrough: false,
    check,
    async decode(frame, inst, pool, signal) {
      const req: BlockDecodeRequest = {
        width: inst.columns,
        height: inst.rows,
        sampleFormat: 1,
        predictor: 1,
        alphaSample: -1,
        output: 'rgb',
        littleEndian: true,
        ...request(inst),
      };
      return (await pool.decode(req, withoutPadding(frame), signal)).data;
    },
  };
}

const jpeg2000 = pooled(
  'jpeg2000',
  (inst) => {
    checkEightBit(inst, 'JPEG 2000');
    if (inst.samplesPerPixel !== 3) throw unsupportedPixels(inst, 'JPEG 2000');
  },
  // OpenJPEG undoes a multi-component transform (YBR_ICT, YBR_RCT) itself; YBR_FULL samples are converted after it
  (inst) => ({ compression: inst.photometric === 'YBR_FULL' ? Compression.APERIO_JP2K_YCBCR : Compression.APERIO_JP2K_RGB, samples: 3, bitsPerSample: 8, photometric: Photometric.RGB }),
);

const TIFF_PHOTOMETRIC: Record<string, number> = { RGB: Photometric.RGB, MONOCHROME2: Photometric.MINISBLACK, MONOCHROME1: Photometric.MINISWHITE };

const jpegLs = pooled(
  'jpeg-ls',
  (inst) => {
    const ok = (inst.samplesPerPixel === 3 && inst.photometric === 'RGB' && inst.bitsAllocated === 8) || (inst.samplesPerPixel === 1 && MONOCHROME.has(inst.photometric) && (inst.bitsAllocated === 8 || inst.bitsAllocated === 16));
    if (!ok || inst.pixelRepresentation !== 0) throw unsupportedPixels(inst, 'JPEG-LS');
  },
  (inst) => ({ compression: JPEG_LS_COMPRESSION, samples: inst.samplesPerPixel, bitsPerSample: inst.bitsAllocated, photometric: TIFF_PHOTOMETRIC[inst.photometric] ?? Photometric.RGB }),
);

function nativeCodec(littleEndian: boolean): FrameCodec {
  return {
    name: 'none',
    passthrough: false,
    check(inst) {
      const colour = inst.samplesPerPixel === 3 && (inst.photometric === 'RGB' || inst.photometric === 'YBR_FULL') && inst.bitsAllocated === 8;
      const grey = inst.samplesPerPixel === 1 && MONOCHROME.has(inst.photometric) && (inst.bitsAllocated === 8 || inst.bitsAllocated === 16);
      if (!(colour || grey) || inst.pixelRepresentation !== 0) throw unsupportedPixels(inst, 'uncompressed');
    },
    async decode(frame, inst) {
      const n = inst.columns * inst.rows;
      if (inst.samplesPerPixel === 3) {
        let px = Uint8Array.from(frame.subarray(0, n * 3));
        if (inst.planarConfiguration === 1) {
          const planes = px;
          px = new Uint8Array(n * 3);
          for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) px[p * 3 + c] = planes[c * n + p] as number;
        }
        return inst.photometric === 'YBR_FULL' ? ybrToRgb(px) : px;
      }
      if (inst.bitsAllocated === 8) return greyToRgb(frame.subarray(0, n), inst.photometric === 'MONOCHROME1');
      // 16-bit grey: the stored bits scaled to 8
      const shift = Math.max(0, Math.min(16, inst.bitsStored) - 8);
      const grey = new Uint8Array(n);
      for (let p = 0; p < n; p++) grey[p] = Math.min(255, (littleEndian ? frame.readUInt16LE(p * 2) : frame.readUInt16BE(p * 2)) >> shift);
      return greyToRgb(grey, inst.photometric === 'MONOCHROME1');
    },
  };
}

const CODECS: Record<string, FrameCodec> = {
  '1.2.840.10008.1.2': nativeCodec(true),
  '1.2.840.10008.1.2.1': nativeCodec(true),
  '1.2.840.10008.1.2.2': nativeCodec(false),
  '1.2.840.10008.1.2.4.50': jpeg,
  // 12-bit extended JPEG holding 8-bit samples decodes like baseline, but is not passed through
  '1.2.840.10008.1.2.4.51': { ...jpeg, passthrough: false },
  '1.2.840.10008.1.2.4.90': jpeg2000,
  '1.2.840.10008.1.2.4.91': jpeg2000,
  '1.2.840.10008.1.2.4.80': jpegLs,
  '1.2.840.10008.1.2.4.81': jpegLs,
};

/** The codec of a transfer syntax, its pixel format checked; UNSUPPORTED_COMPRESSION or UNSUPPORTED_PIXEL_FORMAT otherwise. */
export function codecFor(inst: DicomInstance): FrameCodec {
  const codec = CODECS[inst.transferSyntax];
  if (!codec) {
    const name = TRANSFER_SYNTAX_NAMES[inst.transferSyntax];
    throw new WsiError('UNSUPPORTED_COMPRESSION', `frames in transfer syntax ${inst.transferSyntax}${name ? ` (${name})` : ''} cannot be decoded`, { transferSyntax: inst.transferSyntax });
  }
  codec.check(inst);
  return codec;
}
