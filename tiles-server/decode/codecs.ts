/**
 * Bounded decompressors for TIFF blocks, as tolerant as libtiff and no more.
 *
 * Each one decodes into a buffer of the block's size and stops when it is
 * full: data that would write past the end of the block is ignored, as
 * libtiff ignores it (real LZW writers, PerkinElmer's QPTIFF among them,
 * overrun their strips a little; libtiff stops deflate and PackBits at the
 * buffer size the same way). So a decompression bomb costs at most one
 * block's worth of memory and of work, and is never allocated past it.
 *
 * Data that ends before the block is full returns the bytes it gave; the
 * caller (block-decoder.ts) decides what the shortfall means. Data that is
 * not a valid stream (an LZW code beyond the table, a corrupt deflate
 * stream) is a TILE_DECODE_ERROR, as it is an error in libtiff.
 */
import { constants, createInflate, createInflateRaw, inflateRawSync, inflateSync } from 'node:zlib';
import { WsiError } from '../../src/core/errors.js';

const corrupt = (kind: string, why: string): WsiError => new WsiError('TILE_DECODE_ERROR', `${kind} data is corrupt (${why})`);

/**
 * Streams `input` through zlib until `maxOut` bytes came out or the stream
 * ends. Used when the stream holds more than the block (the one-shot path
 * cannot stop there) or failed part-way (libtiff, too, never reads past a
 * full block, so a bad checksum after it does not matter).
 */
function inflateStreamed(input: Uint8Array, maxOut: number, raw: boolean): Promise<{ out: Uint8Array; error: Error | null }> {
  return new Promise((resolve) => {
    const out = new Uint8Array(maxOut);
    let n = 0;
    let settled = false;
    const z = (raw ? createInflateRaw : createInflate)({ finishFlush: constants.Z_SYNC_FLUSH });
    const finish = (error: Error | null): void => {
      if (settled) return;
      settled = true;
      z.destroy();
      resolve({ out: out.subarray(0, n), error });
    };
    z.on('data', (chunk: Buffer) => {
      if (settled) return;
      const take = Math.min(chunk.length, maxOut - n);
      out.set(chunk.subarray(0, take), n);
      n += take;
      // destroying here stops zlib before it produces the next chunk
      if (n >= maxOut) finish(null);
    });
    z.on('error', (err) => finish(n >= maxOut ? null : err));
    z.on('end', () => finish(null));
    z.end(input);
  });
}

/** Deflate (zlib, or raw deflate as a fallback): at most `maxOut` bytes, the rest of the stream ignored. */
export async function inflateBounded(input: Uint8Array, maxOut: number): Promise<Uint8Array> {
  const max = Math.max(1, maxOut);
  // zlib's header: compression method 8 in the low nibble
  const looksZlib = input.length > 0 && ((input[0] ?? 0) & 0x0f) === 8;
  const attempt = async (raw: boolean): Promise<Uint8Array> => {
    try {
      // a stream cut short gives what it has (Z_SYNC_FLUSH) instead of failing
      return (raw ? inflateRawSync : inflateSync)(input, { maxOutputLength: max, finishFlush: constants.Z_SYNC_FLUSH });
    } catch {
      // more than the block, or an error part-way: decode up to the block and look again
    }
    const { out, error } = await inflateStreamed(input, max, raw);
    if (error) throw corrupt('deflate', (error as NodeJS.ErrnoException).code ?? error.message);
    return out;
  };
  try {
    return await attempt(false);
  } catch (err) {
    if (looksZlib || input.length === 0) throw err;
    return attempt(true);
  }
}

/**
 * TIFF LZW (MSB-first codes, 9–12 bits, early change), as libtiff decodes
 * it: into a buffer of `maxOut` bytes; a string that runs past the end is cut
 * there and the codes after it are not read.
 */
export function lzwDecodeBounded(input: Uint8Array, maxOut: number): Uint8Array {
  const CLEAR = 256;
  const EOI = 257;
  const out = new Uint8Array(maxOut);
  const prefix = new Int32Array(4096);
  const suffix = new Uint8Array(4096);
  const first = new Uint8Array(4096);
  const length = new Uint16Array(4096);
  for (let i = 0; i < 256; i++) {
    prefix[i] = -1;
    suffix[i] = i;
    first[i] = i;
    length[i] = 1;
  }
  let next = 258;
  let width = 9;
  let old = -1;
  let outPos = 0;
  let bitPos = 0;
  const totalBits = input.length * 8;

  /** Writes the string of `code` (its characters past the end of the block are dropped). */
  const emit = (code: number): void => {
    const end = outPos + (length[code] as number);
    let c = code;
    for (let k = end - 1; k >= outPos; k--) {
      if (k < maxOut) out[k] = suffix[c] as number;
      c = prefix[c] as number;
    }
    outPos = Math.min(end, maxOut);
  };

  while (outPos < maxOut && bitPos + width <= totalBits) {
    // read `width` bits MSB-first
    const byteIndex = bitPos >>> 3;
    const word = (((input[byteIndex] ?? 0) << 16) | ((input[byteIndex + 1] ?? 0) << 8) | (input[byteIndex + 2] ?? 0)) >>> 0;
    const code = (word >>> (24 - (bitPos & 7) - width)) & ((1 << width) - 1);
    bitPos += width;

    if (code === EOI) break;
    if (code === CLEAR) {
      next = 258;
      width = 9;
      old = -1;
      continue;
    }
    if (old === -1) {
      if (code > 255) throw corrupt('LZW', `the stream starts with code ${code} after a clear`);
      emit(code);
      old = code;
      continue;
    }
    let firstChar: number;
    if (code < next) {
      emit(code);
      firstChar = first[code] as number;
    } else if (code === next) {
      // string(old) + first(old)
      firstChar = first[old] as number;
      emit(old);
      if (outPos < maxOut) out[outPos++] = firstChar;
    } else {
      throw corrupt('LZW', `code ${code} is beyond the table (${next})`);
    }
    if (next < 4096) {
      prefix[next] = old;
      suffix[next] = firstChar;
      first[next] = first[old] as number;
      length[next] = Math.min(65535, (length[old] as number) + 1);
      next++;
      if (next >= (1 << width) - 1 && width < 12) width++;
    }
    old = code;
  }
  return out.subarray(0, outPos);
}

/**
 * PackBits as libtiff decodes it: runs are cut at the end of the block
 * (−128 is a no-op, as the spec says), and a run the data does not hold
 * ends the decoding.
 */
export function packbitsDecodeBounded(input: Uint8Array, maxOut: number): Uint8Array {
  const out = new Uint8Array(maxOut);
  let o = 0;
  let i = 0;
  while (i < input.length && o < maxOut) {
    const h = ((input[i++] as number) << 24) >> 24;
    if (h >= 0) {
      const n = Math.min(h + 1, maxOut - o);
      if (i + n > input.length) break;
      out.set(input.subarray(i, i + n), o);
      o += n;
      i += n;
    } else if (h !== -128) {
      const n = Math.min(1 - h, maxOut - o);
      if (i >= input.length) break;
      out.fill(input[i++] as number, o, o + n);
      o += n;
    }
  }
  return out.subarray(0, o);
}
