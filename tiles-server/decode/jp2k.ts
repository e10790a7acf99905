/**
 * JPEG 2000 tiles (Aperio SVS compressions 33003 and 33005: each tile a raw
 * J2K codestream) decoded with OpenJPEG compiled to WebAssembly
 * (@cornerstonejs/codec-openjpeg), in the decode worker threads.
 *
 * 33005 holds RGB components; 33003 holds YCbCr components, converted here
 * with the JPEG (JFIF, full-range) equations, as OpenSlide reads these
 * files. Subsampled components are refused with a clear error (not seen in
 * the files we have). The codestream's header is read first: a tile whose
 * declared size, component count or depth is not the TIFF's is refused
 * before any pixel is decoded, so a hostile header cannot make the decoder
 * allocate more than one tile.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { WsiError } from '../../src/core/errors.js';

interface FrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned: boolean;
}

interface J2KDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  decode(): void;
  getFrameInfo(): FrameInfo;
  delete(): void;
}

interface OpenJpegModule {
  J2KDecoder: new () => J2KDecoder;
}

type Factory = (opts: { print: (s: string) => void; printErr: (s: string) => void }) => Promise<OpenJpegModule>;

/** The module and one decoder, made on first use; dropped after a failure (the WebAssembly state may be broken). */
let instance: Promise<{ module: OpenJpegModule; decoder: J2KDecoder }> | null = null;

/**
 * Tiles up to this many pixels are decoded (Aperio writes 240 or 256 px);
 * WebAssembly memory is outside the worker's heap limit and never shrinks,
 * so a larger one is refused rather than let it grow the worker for good.
 */
export const MAX_JP2K_TILE_PIXELS = 4096 * 4096;
/** After a tile this large the module is dropped, so its grown memory goes back. */
const DROP_AFTER_PIXELS = 1024 * 1024;

function load(): Promise<{ module: OpenJpegModule; decoder: J2KDecoder }> {
  instance ??= (async () => {
    const require = createRequire(import.meta.url);
    // the package exports its JavaScript build as "."; the WebAssembly decoder sits beside it
    const dist = dirname(require.resolve('@cornerstonejs/codec-openjpeg'));
    const factory = require(join(dist, 'openjpegwasm_decode.js')) as Factory;
    // OpenJPEG reports progress on stdout; the server's output is its own
    const module = await factory({ print: () => undefined, printErr: () => undefined });
    return { module, decoder: new module.J2KDecoder() };
  })();
  const loading = instance;
  // a failed start is not kept: the next tile tries again
  loading.catch(() => {
    if (instance === loading) instance = null;
  });
  return loading;
}

export type Jp2kColour = 'rgb' | 'ycbcr';

function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

/** The image size and components a codestream's SIZ marker segment declares. */
export interface SizInfo {
  width: number;
  height: number;
  /** Per component: bit depth, signedness and subsampling. */
  components: Array<{ bits: number; signed: boolean; dx: number; dy: number }>;
}

/** Reads the SIZ segment that must follow SOC at the start of a codestream; null when it is not there or is cut short. */
export function readSiz(data: Uint8Array): SizInfo | null {
  if (data.length < 42 || data[0] !== 0xff || data[1] !== 0x4f || data[2] !== 0xff || data[3] !== 0x51) return null;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const lsiz = dv.getUint16(4);
  const count = dv.getUint16(40);
  if (lsiz !== 38 + 3 * count || data.length < 4 + lsiz) return null;
  const components: SizInfo['components'] = [];
  for (let i = 0; i < count; i++) {
    const ssiz = dv.getUint8(42 + 3 * i);
    components.push({ bits: (ssiz & 0x7f) + 1, signed: (ssiz & 0x80) !== 0, dx: dv.getUint8(43 + 3 * i), dy: dv.getUint8(44 + 3 * i) });
  }
  return { width: dv.getUint32(8) - dv.getUint32(16), height: dv.getUint32(12) - dv.getUint32(20), components };
}

/**
 * Decodes one tile's codestream into `width × height` interleaved 8-bit RGB.
 * @throws WsiError TILE_DECODE_ERROR when the codestream is damaged, cut short or does not fit the tile
 */
export async function decodeJp2k(data: Uint8Array, width: number, height: number, colour: Jp2kColour): Promise<Uint8Array> {
  const siz = readSiz(data);
  if (!siz) throw new WsiError('TILE_DECODE_ERROR', 'the tile is not a JPEG 2000 codestream (no SOC and SIZ marker segments at its start)');
  const c = siz.components;
  if (siz.width !== width || siz.height !== height || c.length !== 3 || c.some((k) => k.bits !== 8 || k.signed || k.dx !== 1 || k.dy !== 1)) {
    const desc = c.map((k) => `${k.signed ? 's' : 'u'}${k.bits}${k.dx !== 1 || k.dy !== 1 ? ` subsampled ${k.dx}x${k.dy}` : ''}`).join(', ');
    throw new WsiError('TILE_DECODE_ERROR', `the JPEG 2000 tile declares ${siz.width}x${siz.height} with components [${desc}]; the file says ${width}x${height}, three unsubsampled 8-bit components`);
  }
  if (width * height > MAX_JP2K_TILE_PIXELS) {
    throw new WsiError('TILE_DECODE_OVERFLOW', `JPEG 2000 tiles of ${width}x${height} are larger than this server decodes (${MAX_JP2K_TILE_PIXELS} pixels)`);
  }
  // OpenJPEG decodes a cut-short codestream without complaint: the EOC marker shows it is whole
  if (data[data.length - 2] !== 0xff || data[data.length - 1] !== 0xd9) {
    throw new WsiError('TILE_DECODE_ERROR', 'the JPEG 2000 tile is cut short (no EOC marker at its end)');
  }
  const { decoder } = await load();
  let decoded: Uint8Array;
  try {
    decoder.getEncodedBuffer(data.length).set(data);
    decoder.decode();
    const info = decoder.getFrameInfo();
    if (info.width !== width || info.height !== height || info.componentCount !== 3) {
      throw new WsiError('TILE_DECODE_ERROR', `the JPEG 2000 tile decoded to ${info.width}x${info.height} with ${info.componentCount} components, ${width}x${height} RGB expected`);
    }
    decoded = decoder.getDecodedBuffer();
  } catch (err) {
    if (err instanceof WsiError) throw err;
    instance = null;
    throw new WsiError('TILE_DECODE_ERROR', `the JPEG 2000 tile is damaged (OpenJPEG failed: ${err instanceof Error ? err.message : `error ${String(err)}`})`);
  }
  if (width * height > DROP_AFTER_PIXELS) instance = null;
  const n = width * height;
  if (decoded.length < n * 3) throw new WsiError('TILE_DECODE_ERROR', `the JPEG 2000 tile decoded to ${decoded.length} bytes, ${n * 3} expected`);
  const out = new Uint8Array(n * 3);
  if (colour === 'rgb') {
    out.set(decoded.subarray(0, n * 3));
    return out;
  }
  for (let i = 0; i < n; i++) {
    const y = decoded[3 * i] as number;
    const cb = (decoded[3 * i + 1] as number) - 128;
    const cr = (decoded[3 * i + 2] as number) - 128;
    out[3 * i] = clamp(y + 1.402 * cr);
    out[3 * i + 1] = clamp(y - 0.344136 * cb - 0.714136 * cr);
    out[3 * i + 2] = clamp(y + 1.772 * cb);
  }
  return out;
}
