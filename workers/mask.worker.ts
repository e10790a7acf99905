/** Web Worker: mask edits, pyramid reductions and tile colouring off the main thread (comlink; typed arrays transferred). */
import * as Comlink from 'comlink';
import { MASK_TILE } from '../src/core/mask/mask-grid.js';
import { isUniform, type EncodedTile } from '../src/core/mask/rle.js';
import { colourTile, compressEncoded, paint, readPack, reduceTiles } from './mask-ops.js';
import type { MaskWorkerApi, RenderedTile } from './protocol.js';

function buffersOf(t: EncodedTile): ArrayBuffer[] {
  return isUniform(t) ? [] : [t.rle.buffer as ArrayBuffer];
}

async function bitmap(tile: EncodedTile, lut: Uint32Array, outline: boolean): Promise<ImageBitmap> {
  const px = colourTile(tile, lut, outline);
  return createImageBitmap(new ImageData(new Uint8ClampedArray(px.buffer as ArrayBuffer), MASK_TILE, MASK_TILE));
}

const api: MaskWorkerApi = {
  async paint(job, slide) {
    const r = paint(job, slide);
    const bitmaps: RenderedTile[] = [];
    const want = job.render ? new Set(job.render.keys) : null;
    if (job.render && want) {
      for (const c of r.changed) if (want.has(c.key)) bitmaps.push({ key: c.key, bitmap: await bitmap(c.tile, job.render.lut, job.render.outline) });
    }
    return Comlink.transfer({ ...r, bitmaps }, [...r.changed.flatMap((c) => buffersOf(c.tile)), ...bitmaps.map((b) => b.bitmap)]);
  },
  async reduce(children) {
    const t = reduceTiles(children);
    return Comlink.transfer(t, buffersOf(t));
  },
  async render(tile, lut, outline) {
    const b = await bitmap(tile, lut, outline);
    return Comlink.transfer(b, [b]);
  },
  async readPack(url, headers) {
    const res = await fetch(url, { headers });
    if (!res.ok) throw new Error(`the mask could not be loaded (${res.status})`);
    const tiles = readPack(await res.arrayBuffer());
    return Comlink.transfer(tiles, tiles.flatMap((t) => buffersOf(t.tile)));
  },
  async compress(tile) {
    const c = compressEncoded(tile);
    return Comlink.transfer(c, [c.buffer as ArrayBuffer]);
  },
};

Comlink.expose(api);
