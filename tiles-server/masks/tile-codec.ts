/**
 * Mask tiles on the wire and on disk: 512 × 512 Uint8 class ids, row-major,
 * compressed as a zlib stream (RFC 1950 — what Node's zlib.deflateSync and
 * fflate's zlibSync write). Decoding is bounded: a tile that would inflate
 * past 262,144 bytes is refused before the memory is spent.
 *
 * Also the binary pack a client reads tiles in (application/x-wsi-mask-tiles):
 *   "WSIM", uint32 LE count, then per tile int32 tx, int32 ty, uint32 version,
 *   uint32 byteLength and the compressed bytes.
 */
import { promisify } from 'node:util';
import { deflate, inflate, type ZlibOptions } from 'node:zlib';
import { MASK_TILE, MASK_TILE_PIXELS } from '../../src/core/mask/mask-grid.js';

const inflateAsync = promisify(inflate) as unknown as (buf: Uint8Array, opts: ZlibOptions & { info: true }) => Promise<{ buffer: Buffer; engine: { bytesWritten: number } }>;
const deflateAsync = promisify(deflate);

export const PACK_MAGIC = 'WSIM';
export const PACK_CONTENT_TYPE = 'application/x-wsi-mask-tiles';

/** Pixel counts per class id (index = id). */
export type Counts = Float64Array;

/** Why a tile's data cannot be used; the caller names the tile. */
export class TileDataError extends Error {}

/** Inflates one tile, refusing anything but exactly 512 × 512 bytes in one complete zlib stream. */
export async function inflateTile(data: Uint8Array): Promise<Uint8Array> {
  if (data.byteLength < 2) throw new TileDataError('the data is empty, not a zlib stream');
  let out: { buffer: Buffer; engine: { bytesWritten: number } };
  try {
    out = await inflateAsync(data, { maxOutputLength: MASK_TILE_PIXELS, info: true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_BUFFER_TOO_LARGE') throw new TileDataError(`the data inflates to more than ${MASK_TILE_PIXELS} bytes (a tile is ${MASK_TILE} × ${MASK_TILE} = ${MASK_TILE_PIXELS})`);
    throw new TileDataError(`the data is not a valid zlib stream (RFC 1950): ${e.message}`);
  }
  if (out.buffer.length !== MASK_TILE_PIXELS) {
    throw new TileDataError(`the data inflates to ${out.buffer.length} bytes; a tile is ${MASK_TILE} × ${MASK_TILE} = ${MASK_TILE_PIXELS}`);
  }
  if (out.engine.bytesWritten !== data.byteLength) {
    throw new TileDataError(`${data.byteLength - out.engine.bytesWritten} byte(s) follow the end of the zlib stream`);
  }
  return new Uint8Array(out.buffer.buffer, out.buffer.byteOffset, out.buffer.byteLength);
}

/** Compresses a tile (zlib, level 6). */
export async function deflateTile(pixels: Uint8Array): Promise<Buffer> {
  return deflateAsync(pixels, { level: 6 });
}

export function histogram(pixels: Uint8Array): Counts {
  const c = new Float64Array(256);
  for (let i = 0; i < pixels.length; i++) c[pixels[i] as number]++;
  return c;
}

/** Counts of the labelled classes as a small JSON object ({"3": 1200}); 0 is left out. */
export function countsJson(c: Counts): string {
  const o: Record<string, number> = {};
  for (let id = 1; id < 256; id++) if ((c[id] as number) > 0) o[id] = c[id] as number;
  return JSON.stringify(o);
}

export function addCounts(into: Record<string, number>, json: string): void {
  for (const [id, n] of Object.entries(JSON.parse(json) as Record<string, number>)) into[id] = (into[id] ?? 0) + n;
}

/**
 * The first problem with a decoded tile, or null: a class id that is not
 * in the registry, or a label on a pixel past the slide's edge (the last
 * column and row of tiles reach past it; those pixels stay 0).
 */
export function tileProblem(pixels: Uint8Array, counts: Counts, known: (id: number) => boolean, validWidth: number, validHeight: number): string | null {
  const unknown: number[] = [];
  for (let id = 1; id < 256; id++) if ((counts[id] as number) > 0 && !known(id)) unknown.push(id);
  if (unknown.length > 0) {
    return `class id${unknown.length > 1 ? 's' : ''} ${unknown.slice(0, 10).join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not in the class registry (GET /api/classes)`;
  }
  if (validWidth < MASK_TILE || validHeight < MASK_TILE) {
    for (let y = 0; y < MASK_TILE; y++) {
      const row = y * MASK_TILE;
      const from = y < validHeight ? validWidth : 0;
      for (let x = from; x < MASK_TILE; x++) {
        if (pixels[row + x] !== 0) return `pixel (${x}, ${y}) of the tile is past the slide's edge (the slide ends at tile pixel ${validWidth} × ${validHeight}) and must stay 0`;
      }
    }
  }
  return null;
}

export interface PackTile {
  tx: number;
  ty: number;
  version: number;
  data: Uint8Array;
}

/** The pack as a list of buffers (header, then per tile a 16-byte head and the data). */
export function encodePack(tiles: PackTile[]): Buffer[] {
  const head = Buffer.alloc(8);
  head.write(PACK_MAGIC, 0, 'latin1');
  head.writeUInt32LE(tiles.length, 4);
  const out: Buffer[] = [head];
  for (const t of tiles) {
    const h = Buffer.alloc(16);
    h.writeInt32LE(t.tx, 0);
    h.writeInt32LE(t.ty, 4);
    h.writeUInt32LE(t.version, 8);
    h.writeUInt32LE(t.data.byteLength, 12);
    out.push(h, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return out;
}
