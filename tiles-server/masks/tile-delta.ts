/**
 * The difference between two versions of a 512 × 512 mask tile, small
 * enough that the history of a tile painted stroke by stroke costs about
 * what the strokes changed, not a whole tile per stroke.
 *
 * Format ("xor-runs"): the XOR of the two tiles, row-major, as runs — a
 * varint count of unchanged pixels, then (unless the tile ended) a varint
 * (length − 1) of a run of one non-zero XOR value and that value's byte,
 * and so on until the last unchanged run reaches the tile's end — the
 * whole compressed with raw deflate (RFC 1951). XOR makes the difference
 * its own inverse and independent of class ids. Decoding is bounded and
 * strict: it never writes outside the tile, and a stream that does not
 * cover the tile exactly is refused.
 */
import { promisify } from 'node:util';
import { deflateRaw, deflateRawSync, inflateRawSync } from 'node:zlib';
import { MASK_TILE_PIXELS } from '../../src/core/mask/mask-grid.js';
import { TileDataError } from './tile-codec.js';

const deflateRawAsync = promisify(deflateRaw);

/** Worst case of the run stream: every pixel its own run (3 bytes), plus the closing count. */
const MAX_RUNS_BYTES = 3 * MASK_TILE_PIXELS + 8;

function pushVarint(out: number[], v: number): void {
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
}

/** The run stream of prev XOR next (uncompressed). */
export function xorRuns(prev: Uint8Array, next: Uint8Array): Uint8Array {
  if (prev.length !== MASK_TILE_PIXELS || next.length !== MASK_TILE_PIXELS) throw new TileDataError('a tile delta is taken between two whole tiles');
  const out: number[] = [];
  const n = MASK_TILE_PIXELS;
  // unchanged stretches are skipped four pixels at a time where both tiles allow it
  const words = prev.byteOffset % 4 === 0 && next.byteOffset % 4 === 0;
  const pw = words ? new Uint32Array(prev.buffer, prev.byteOffset, n / 4) : null;
  const nw = words ? new Uint32Array(next.buffer, next.byteOffset, n / 4) : null;
  let i = 0;
  while (true) {
    const start = i;
    if (pw && nw) {
      while (i < n && i % 4 !== 0 && prev[i] === next[i]) i++;
      let w = i >>> 2;
      while (w < n / 4 && pw[w] === nw[w]) w++;
      i = Math.max(i, w * 4);
    }
    while (i < n && prev[i] === next[i]) i++;
    pushVarint(out, i - start);
    if (i === n) break;
    const v = (prev[i] as number) ^ (next[i] as number);
    const runStart = i;
    i++;
    while (i < n && ((prev[i] as number) ^ (next[i] as number)) === v) i++;
    pushVarint(out, i - runStart - 1);
    out.push(v);
  }
  return Uint8Array.from(out);
}

/** The delta from `prev` to `next`, compressed. */
export function encodeDelta(prev: Uint8Array, next: Uint8Array): Buffer {
  return deflateRawSync(xorRuns(prev, next), { level: 9 });
}

/** The same, with the compression on the thread pool. */
export async function encodeDeltaAsync(prev: Uint8Array, next: Uint8Array): Promise<Buffer> {
  return deflateRawAsync(xorRuns(prev, next), { level: 9 });
}

/** Applies a delta to `tile` in place (prev → next; applied again, next → prev). */
export function applyDelta(tile: Uint8Array, delta: Uint8Array): void {
  if (tile.length !== MASK_TILE_PIXELS) throw new TileDataError('a tile delta applies to a whole tile');
  let runs: Buffer;
  try {
    runs = inflateRawSync(delta, { maxOutputLength: MAX_RUNS_BYTES });
  } catch (err) {
    throw new TileDataError(`the tile delta is not a valid deflate stream: ${(err as Error).message}`);
  }
  let p = 0;
  let at = 0;
  const varint = (): number => {
    let v = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (at >= runs.length) throw new TileDataError('the tile delta ends inside a run');
      const b = runs[at++] as number;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
    throw new TileDataError('the tile delta holds an overlong run length');
  };
  while (true) {
    p += varint();
    if (p === MASK_TILE_PIXELS) break;
    if (p > MASK_TILE_PIXELS) throw new TileDataError('the tile delta runs past the end of the tile');
    const len = varint() + 1;
    if (at >= runs.length) throw new TileDataError('the tile delta ends inside a run');
    const v = runs[at++] as number;
    if (v === 0 || p + len > MASK_TILE_PIXELS) throw new TileDataError('the tile delta holds a run that is empty or runs past the end of the tile');
    for (const end = p + len; p < end; p++) tile[p] = (tile[p] as number) ^ v;
  }
  if (at !== runs.length) throw new TileDataError(`${runs.length - at} byte(s) follow the end of the tile delta`);
}
