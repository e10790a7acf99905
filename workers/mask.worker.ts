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

export interface RenderedTile {
  key: string;
  bitmap: ImageBitmap;
}

const api = {
  /** One edit; with `job.render`, also the bitmaps of the changed tiles on screen (saves a round trip). */
  async paint(job: PaintJob, slide: PixelBox): Promise<PaintResult & { bitmaps: RenderedTile[] }> {
    const r = paint(job, slide);
    const bitmaps: RenderedTile[] = [];
    const want = job.render ? new Set(job.render.keys) : null;
    if (job.render && want) {
      for (const c of r.changed) if (want.has(c.key)) bitmaps.push({ key: c.key, bitmap: await bitmap(c.tile, job.render.lut, job.render.outline) });
    }
    return Comlink.transfer({ ...r, bitmaps }, [...r.changed.flatMap((c) => buffersOf(c.tile)), ...bitmaps.map((b) => b.bitmap)]);
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
