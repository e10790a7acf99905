/** Web Worker: mask edits, pyramid reductions and tile colouring off the main thread (comlink; typed arrays transferred). */
import * as Comlink from 'comlink';
import { MASK_TILE } from '../src/core/mask/mask-grid.js';
import { isUniform, type EncodedTile } from '../src/core/mask/rle.js';
import type { PixelBox } from '../src/core/mask/raster.js';
import { colourTile, compressEncoded, paint, readPack, reduceTiles, type PackedTile, type PaintJob, type PaintResult } from './mask-ops.js';

function buffersOf(t: EncodedTile): ArrayBuffer[] {
  return isUniform(t) ? [] : [t.rle.buffer as ArrayBuffer];
}

async function bitmap(tile: EncodedTile, lut: Uint32Array, outline: boolean): Promise<ImageBitmap> {
  const px = colourTile(tile, lut, outline);
  return createImageBitmap(new ImageData(new Uint8ClampedArray(px.buffer as ArrayBuffer), MASK_TILE, MASK_TILE));
}

const api = {
  paint(job: PaintJob, slide: PixelBox): PaintResult {
    const r = paint(job, slide);
    return Comlink.transfer(r, r.changed.flatMap((c) => buffersOf(c.tile)));
  },
  reduce(children: Array<EncodedTile | null>): EncodedTile {
    const t = reduceTiles(children);
    return Comlink.transfer(t, buffersOf(t));
  },
  async render(tile: EncodedTile, lut: Uint32Array, outline: boolean): Promise<ImageBitmap> {
    const b = await bitmap(tile, lut, outline);
    return Comlink.transfer(b, [b]);
  },
  async readPack(url: string): Promise<PackedTile[]> {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`the mask could not be loaded (${res.status})`);
    const tiles = readPack(await res.arrayBuffer());
    return Comlink.transfer(tiles, tiles.flatMap((t) => buffersOf(t.tile)));
  },
  compress(tile: EncodedTile): Uint8Array {
    const c = compressEncoded(tile);
    return Comlink.transfer(c, [c.buffer as ArrayBuffer]);
  },
};

export type MaskWorkerApi = typeof api;

Comlink.expose(api);
