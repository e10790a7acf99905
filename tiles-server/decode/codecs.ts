/**
 * Bounded decompressors for TIFF blocks. Each one knows how many bytes the
 * block may produce and fails with TILE_DECODE_OVERFLOW instead of growing,
 * so a decompression bomb costs at most one tile's worth of memory.
 */
import { inflateSync, inflateRawSync } from 'node:zlib';
import { WsiError } from '../../src/core/errors.js';

function overflow(kind: string, limit: number): never {
  throw new WsiError('TILE_DECODE_OVERFLOW', `${kind} data expands past the block size (${limit} bytes)`, { limit });
}

/** Deflate (zlib, or raw as a fallback) through Node's zlib with an output cap. */
export function inflateBounded(input: Uint8Array, maxOut: number): Uint8Array {
  const opts = { maxOutputLength: Math.max(1, maxOut) };
  try {
    return inflateSync(input, opts);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') overflow('deflate', maxOut);
    if (code === 'Z_DATA_ERROR' && input.length > 0 && ((input[0] ?? 0) & 0x0f) !== 8) {
      try {
        return inflateRawSync(input, opts);
      } catch (err2) {
        if ((err2 as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') overflow('deflate', maxOut);
      }
    }
    throw new WsiError('TILE_DECODE_ERROR', `deflate data is corrupt (${code ?? (err as Error).message})`);
  }
}

/**
 * TIFF LZW (MSB-first codes, 9–12 bits, early change). Writes straight into a
 * buffer of `maxOut` bytes; a code stream that would write more is refused.
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

  const emit = (code: number): void => {
    const len = length[code] as number;
    if (outPos + len > maxOut) overflow('LZW', maxOut);
    let c = code;
    for (let k = outPos + len - 1; k >= outPos; k--) {
      out[k] = suffix[c] as number;
      c = prefix[c] as number;
    }
    outPos += len;
  };

  while (bitPos + width <= totalBits) {
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
      if (code > 255) throw new WsiError('TILE_DECODE_ERROR', `LZW stream starts with code ${code} after a clear`);
      emit(code);
      old = code;
      continue;
    }
    let firstChar: number;
    if (code < next) {
      emit(code);
      firstChar = first[code] as number;
    } else if (code === next) {
      firstChar = first[old] as number;
      // string(old) + first(old)
      const len = (length[old] as number) + 1;
      if (outPos + len > maxOut) overflow('LZW', maxOut);
      emit(old);
      out[outPos++] = firstChar;
    } else {
      throw new WsiError('TILE_DECODE_ERROR', `LZW code ${code} is beyond the table (${next})`);
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

/** PackBits with an output cap (−128 is a no-op, as the spec says). */
export function packbitsDecodeBounded(input: Uint8Array, maxOut: number): Uint8Array {
  const out = new Uint8Array(maxOut);
  let o = 0;
  let i = 0;
  while (i < input.length) {
    const h = ((input[i++] as number) << 24) >> 24;
    if (h >= 0) {
      const n = h + 1;
      if (o + n > maxOut) overflow('PackBits', maxOut);
      if (i + n > input.length) throw new WsiError('TILE_DECODE_ERROR', 'PackBits literal run overruns the data');
      out.set(input.subarray(i, i + n), o);
      o += n;
      i += n;
    } else if (h !== -128) {
      const n = 1 - h;
      if (o + n > maxOut) overflow('PackBits', maxOut);
      if (i >= input.length) throw new WsiError('TILE_DECODE_ERROR', 'PackBits repeat run has no byte');
      out.fill(input[i++] as number, o, o + n);
      o += n;
    }
  }
  return out.subarray(0, o);
}
