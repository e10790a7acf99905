/**
 * JPEG-LS frames (DICOM transfer syntaxes 1.2.840.10008.1.2.4.80 and .81)
 * decoded with CharLS compiled to WebAssembly (@cornerstonejs/codec-charls),
 * in the decode worker threads. The frame header (SOF55) is read first: a
 * frame whose declared size, component count or depth is not the one the
 * file declares is refused before any pixel is decoded. The output is the
 * frame's samples pixel-interleaved, in native byte order for 16-bit data.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { WsiError } from '../../src/core/errors.js';

/**
 * The compression id decode requests use for JPEG-LS. TIFF compressions are
 * 16-bit, so an id above 65535 never collides with one.
 */
export const JPEG_LS_COMPRESSION = 0x1_0000 + 80;

interface FrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
}

interface JlsDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  decode(): void;
  getFrameInfo(): FrameInfo;
  getInterleaveMode(): number;
  delete(): void;
}

type Factory = (opts: { print: (s: string) => void; printErr: (s: string) => void }) => Promise<{ JpegLSDecoder: new () => JlsDecoder }>;

let instance: Promise<JlsDecoder> | null = null;

function load(): Promise<JlsDecoder> {
  instance ??= (async () => {
    const require = createRequire(import.meta.url);
    const dist = dirname(require.resolve('@cornerstonejs/codec-charls'));
    const factory = require(join(dist, 'charlswasm_decode.js')) as Factory;
    const module = await factory({ print: () => undefined, printErr: () => undefined });
    return new module.JpegLSDecoder();
  })();
  const loading = instance;
  loading.catch(() => {
    if (instance === loading) instance = null;
  });
  return loading;
}

/** The size and components a JPEG-LS frame header (SOF55) declares; null when there is none. */
export function readJpegLsHeader(data: Uint8Array): FrameInfo | null {
  if (data.length < 4 || data[0] !== 0xff || data[1] !== 0xd8) return null;
  let i = 2;
  while (i + 4 <= data.length) {
    if (data[i] !== 0xff) return null;
    const marker = data[i + 1] as number;
    const len = ((data[i + 2] as number) << 8) | (data[i + 3] as number);
    if (marker === 0xf7) {
      if (len < 8 || i + 2 + len > data.length) return null;
      return {
        bitsPerSample: data[i + 4] as number,
        height: ((data[i + 5] as number) << 8) | (data[i + 6] as number),
        width: ((data[i + 7] as number) << 8) | (data[i + 8] as number),
        componentCount: data[i + 9] as number,
      };
    }
    if (marker === 0xda || len < 2) return null;
    i += 2 + len;
  }
  return null;
}

/**
 * Decodes a JPEG-LS frame of `width × height` with `components` samples of
 * `bits` (≤ 16) each.
 * @throws WsiError TILE_DECODE_ERROR when the frame is damaged or does not fit
 */
export async function decodeJpegLs(data: Uint8Array, width: number, height: number, components: number, bits: number): Promise<Uint8Array> {
  const h = readJpegLsHeader(data);
  if (!h) throw new WsiError('TILE_DECODE_ERROR', 'the frame is not a JPEG-LS codestream (no SOI and SOF55 at its start)');
  const bytesPer = bits > 8 ? 2 : 1;
  if (h.width !== width || h.height !== height || h.componentCount !== components || (h.bitsPerSample > 8 ? 2 : 1) !== bytesPer) {
    throw new WsiError('TILE_DECODE_ERROR', `the JPEG-LS frame declares ${h.width}x${h.height}, ${h.componentCount} components of ${h.bitsPerSample} bits; the file says ${width}x${height}, ${components} of ${bits}`);
  }
  if (data[data.length - 2] !== 0xff || data[data.length - 1] !== 0xd9) throw new WsiError('TILE_DECODE_ERROR', 'the JPEG-LS frame is cut short (no EOI marker at its end)');
  const decoder = await load();
  let decoded: Uint8Array;
  let interleave: number;
  try {
    decoder.getEncodedBuffer(data.length).set(data);
    decoder.decode();
    decoded = decoder.getDecodedBuffer();
    interleave = decoder.getInterleaveMode();
  } catch (err) {
    instance = null;
    throw new WsiError('TILE_DECODE_ERROR', `the JPEG-LS frame is damaged (CharLS failed: ${err instanceof Error ? err.message : `error ${String(err)}`})`);
  }
  const n = width * height;
  const size = n * components * bytesPer;
  if (decoded.length < size) throw new WsiError('TILE_DECODE_ERROR', `the JPEG-LS frame decoded to ${decoded.length} bytes, ${size} expected`);
  if (components === 1 || interleave !== 0) return decoded.slice(0, size);
  // interleave mode "none": one plane per component
  const out = new Uint8Array(size);
  for (let c = 0; c < components; c++) {
    for (let p = 0; p < n; p++) {
      for (let b = 0; b < bytesPer; b++) out[(p * components + c) * bytesPer + b] = decoded[(c * n + p) * bytesPer + b] as number;
    }
  }
  return out;
}
