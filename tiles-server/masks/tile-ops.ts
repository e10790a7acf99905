/**
 * The body of POST …/masks/{annotator}/tiles: `{ops: [{tx, ty, ifMatch,
 * data}]}`, checked op by op. Shape and grid problems are found before any
 * tile is inflated; then each tile's data must be one zlib stream of exactly
 * 512 × 512 class ids that are all in the registry, with nothing labelled
 * past the slide's edge. The first problem refuses the whole batch.
 */
import { WsiError } from '../../src/core/errors.js';
import { MASK_TILE, maskGridSize } from '../../src/core/mask/mask-grid.js';
import type { TileWrite } from '../store/mask-store.js';
import { TileDataError, countsJson, histogram, inflateTile, tileProblem } from './tile-codec.js';

export const MAX_OPS = 2000;

interface RawOp {
  tx: number;
  ty: number;
  ifMatch: number;
  data: string;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Checks the shape of every op and that its tile lies on the slide's grid. */
export function parseTileOps(body: unknown, width: number, height: number): RawOp[] {
  const ops = (body as { ops?: unknown } | null)?.ops;
  if (!Array.isArray(ops) || ops.length === 0) throw new WsiError('BAD_REQUEST', 'send {"ops": [{tx, ty, ifMatch, data}]} with at least one tile');
  if (ops.length > MAX_OPS) throw new WsiError('PAYLOAD_TOO_LARGE', `a batch holds at most ${MAX_OPS} tiles (this one has ${ops.length}); send it in parts`, { limit: MAX_OPS });
  const { cols, rows } = maskGridSize(width, height);
  return ops.map((raw: unknown, i): RawOp => {
    const where = `ops[${i}]`;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new WsiError('BAD_REQUEST', `${where} must be an object {tx, ty, ifMatch, data}`, { index: i });
    const o = raw as Record<string, unknown>;
    const { tx, ty } = o;
    if (!Number.isInteger(tx) || !Number.isInteger(ty)) throw new WsiError('BAD_REQUEST', `${where}: tx and ty must be integers`, { index: i });
    if (o['ifMatch'] === undefined || o['ifMatch'] === null) {
      throw new WsiError('PRECONDITION_REQUIRED', `${where}: ifMatch (the tile version you edited, 0 for a new tile) is required, so a stale write cannot overwrite a newer one`, { index: i });
    }
    const ifMatch = o['ifMatch'];
    if (typeof ifMatch !== 'number' || !Number.isInteger(ifMatch) || ifMatch < 0) throw new WsiError('BAD_REQUEST', `${where}: ifMatch must be a non-negative integer`, { index: i });
    const x = tx as number;
    const y = ty as number;
    if (x < 0 || y < 0 || x >= cols || y >= rows) {
      throw new WsiError('BAD_REQUEST', `${where}: tile (${x}, ${y}) is outside the slide's tile grid (${cols} × ${rows} tiles of ${MASK_TILE} px for ${width} × ${height} px)`, { index: i, tx: x, ty: y });
    }
    if (typeof o['data'] !== 'string') throw new WsiError('INVALID_MASK', `${where} (tile ${x}, ${y}): data must be a base64 string of the zlib-compressed tile`, { index: i, tx: x, ty: y });
    return { tx: x, ty: y, ifMatch, data: o['data'] };
  });
}

/** Decodes and checks each tile; returns what the store writes. */
export async function validateTileOps(ops: RawOp[], width: number, height: number, known: (id: number) => boolean, signal?: AbortSignal): Promise<TileWrite[]> {
  const out: TileWrite[] = [];
  for (let i = 0; i < ops.length; i++) {
    signal?.throwIfAborted();
    const op = ops[i] as RawOp;
    const refuse = (problem: string): never => {
      throw new WsiError('INVALID_MASK', `ops[${i}] (tile ${op.tx}, ${op.ty}): ${problem}`, { index: i, tx: op.tx, ty: op.ty });
    };
    if (op.data.length % 4 !== 0 || !BASE64.test(op.data)) refuse('data is not base64');
    const data = Buffer.from(op.data, 'base64');
    let pixels: Uint8Array;
    try {
      pixels = await inflateTile(data);
    } catch (err) {
      if (err instanceof TileDataError) refuse(err.message);
      throw err;
    }
    const counts = histogram(pixels);
    const validW = Math.min(MASK_TILE, width - op.tx * MASK_TILE);
    const validH = Math.min(MASK_TILE, height - op.ty * MASK_TILE);
    const problem = tileProblem(pixels, counts, known, validW, validH);
    if (problem) refuse(problem);
    out.push({ tx: op.tx, ty: op.ty, ifMatch: op.ifMatch, data, pixels: countsJson(counts) });
  }
  return out;
}
