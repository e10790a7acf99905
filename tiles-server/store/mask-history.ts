/**
 * How `mask_history` keeps every version of a mask tile compactly, in
 * TypeScript so any SQL store can hold it (the rows are plain BLOBs):
 *
 * - a **keyframe** (`zlib`) is the whole tile as its writer sent it: a
 *   zlib stream of the 262,144 class ids. Version 1 of a tile, and every
 *   KEYFRAME_EVERY-th version after it (33, 65, …), is one; so is any
 *   version whose delta would not be smaller;
 * - every other version is a **delta** (`xor-runs`, masks/tile-delta.ts)
 *   from the version just before it.
 *
 * A version is rebuilt from the last keyframe at or before it plus at most
 * KEYFRAME_EVERY − 1 deltas, so reading any version costs a bounded amount
 * of work, and every acknowledged version comes back byte for byte.
 */
import { inflateSync } from 'node:zlib';
import { MASK_TILE, MASK_TILE_PIXELS } from '../../src/core/mask/mask-grid.js';
import { applyDelta, encodeDelta, encodeDeltaAsync } from '../masks/tile-delta.js';
import { TileDataError } from '../masks/tile-codec.js';

export const KEYFRAME_EVERY = 32;

export type HistoryEncoding = 'zlib' | 'xor-runs';

export interface EncodedVersion {
  encoding: HistoryEncoding;
  data: Uint8Array;
}

export interface HistoryRow {
  version: number;
  encoding: HistoryEncoding;
  data: Uint8Array;
}

/** Each encoding: whether it stands alone, and how to get the tile from it and the version before. */
const ENCODINGS: Record<HistoryEncoding, { keyframe: boolean; decode(data: Uint8Array, before: Uint8Array | null): Uint8Array }> = {
  zlib: {
    keyframe: true,
    decode: (data) => {
      let out: Buffer;
      try {
        out = inflateSync(data, { maxOutputLength: MASK_TILE_PIXELS });
      } catch (err) {
        throw new TileDataError(`a stored tile is not a valid zlib stream: ${(err as Error).message}`);
      }
      if (out.length !== MASK_TILE_PIXELS) throw new TileDataError(`a stored tile inflates to ${out.length} bytes, not ${MASK_TILE} × ${MASK_TILE}`);
      return new Uint8Array(out.buffer, out.byteOffset, out.length);
    },
  },
  'xor-runs': {
    keyframe: false,
    decode: (data, before) => {
      if (!before) throw new TileDataError('a tile delta has no version before it');
      applyDelta(before, data);
      return before;
    },
  },
};

/** The tile of a keyframe (a writer's zlib stream); a fresh buffer. */
export function decodeKeyframe(data: Uint8Array): Uint8Array {
  return ENCODINGS.zlib.decode(data, null);
}

export function isEncoding(v: unknown): v is HistoryEncoding {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(ENCODINGS, v);
}

export function isKeyframe(encoding: HistoryEncoding): boolean {
  return ENCODINGS[encoding].keyframe;
}

/** Versions that must be keyframes whatever their delta would cost. */
export function keyframeDue(version: number): boolean {
  return (version - 1) % KEYFRAME_EVERY === 0;
}

function choose(delta: Uint8Array, writerBytes: Uint8Array): EncodedVersion {
  return delta.byteLength < writerBytes.byteLength ? { encoding: 'xor-runs', data: delta } : { encoding: 'zlib', data: writerBytes };
}

/**
 * How version `version` is stored, given the tile before it (`before`, null
 * for a new tile), the tile itself and the zlib bytes its writer sent.
 */
export function encodeVersion(version: number, before: Uint8Array | null, tile: Uint8Array, writerBytes: Uint8Array): EncodedVersion {
  if (!before || keyframeDue(version)) return { encoding: 'zlib', data: writerBytes };
  return choose(encodeDelta(before, tile), writerBytes);
}

/** The same, compressing on the thread pool (for work done before a transaction). */
export async function encodeVersionAsync(version: number, before: Uint8Array | null, tile: Uint8Array, writerBytes: Uint8Array): Promise<EncodedVersion> {
  if (!before || keyframeDue(version)) return { encoding: 'zlib', data: writerBytes };
  return choose(await encodeDeltaAsync(before, tile), writerBytes);
}

/**
 * Replays rows of one tile in version order, from a keyframe: yields every
 * version's tile (the same buffer, changed in place: copy what must
 * outlive the step) with its row. Refuses a chain that does not start with
 * a keyframe or skips a version.
 */
export function* replay<R extends HistoryRow>(rows: Iterable<R>): Generator<{ tile: Uint8Array; row: R }> {
  let tile: Uint8Array | null = null;
  let last = 0;
  for (const row of rows) {
    if (!isEncoding(row.encoding)) throw new TileDataError(`version ${row.version} of a tile is stored as "${String(row.encoding)}", which this server does not know`);
    const enc = ENCODINGS[row.encoding];
    if (!enc.keyframe && (tile === null || row.version !== last + 1)) throw new TileDataError(`version ${row.version} of a tile is a delta without the version before it`);
    tile = enc.decode(row.data, tile);
    last = row.version;
    yield { tile, row };
  }
}

/** The tile at the last of `rows` (which start at a keyframe); a fresh buffer. */
export function rebuild(rows: HistoryRow[]): Uint8Array {
  let out: Uint8Array | null = null;
  for (const { tile } of replay(rows)) out = tile;
  if (!out) throw new TileDataError('no stored version to rebuild the tile from');
  return out;
}
