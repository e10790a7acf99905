/** Decodes JPEG/WebP blocks with libvips (via sharp), off the event loop. */
import sharp from 'sharp';
import { WsiError } from '../../src/core/errors.js';

export interface SharpDecodeOptions {
  /** The block's declared size: larger frames are refused before decoding. */
  maxWidth: number;
  maxHeight: number;
  /** Pixels wanted from the top-left corner (clipped to the frame). */
  width: number;
  height: number;
  output: 'rgb' | 'gray';
}

export interface Decoded {
  data: Uint8Array;
  width: number;
  height: number;
}

export async function decodeWithSharp(input: Buffer, opts: SharpDecodeOptions): Promise<Decoded> {
  try {
    const img = sharp(input, { failOn: 'warning', limitInputPixels: Math.max(1, opts.maxWidth * opts.maxHeight) });
    const meta = await img.metadata();
    const fw = meta.width ?? 0;
    const fh = meta.height ?? 0;
    if (fw > opts.maxWidth || fh > opts.maxHeight) {
      throw new WsiError('TILE_DECODE_OVERFLOW', `encoded frame is ${fw}x${fh}, larger than the ${opts.maxWidth}x${opts.maxHeight} block`);
    }
    const w = Math.min(opts.width, fw);
    const h = Math.min(opts.height, fh);
    let pipe = img;
    if (w !== fw || h !== fh) pipe = pipe.extract({ left: 0, top: 0, width: w, height: h });
    pipe = opts.output === 'gray' ? pipe.toColourspace('b-w') : pipe.removeAlpha().toColourspace('srgb');
    const { data, info } = await pipe.raw().toBuffer({ resolveWithObject: true });
    const want = opts.output === 'gray' ? 1 : 3;
    if (info.channels !== want) throw new WsiError('TILE_DECODE_ERROR', `decoder produced ${info.channels} channels, ${want} expected`);
    return { data, width: info.width, height: info.height };
  } catch (err) {
    if (err instanceof WsiError) throw err;
    const msg = (err as Error).message.split('\n')[0] ?? 'unknown error';
    if (/pixel limit/i.test(msg)) throw new WsiError('TILE_DECODE_OVERFLOW', `encoded frame exceeds the block size: ${msg}`);
    throw new WsiError('TILE_DECODE_ERROR', `tile does not decode: ${msg}`);
  }
}
