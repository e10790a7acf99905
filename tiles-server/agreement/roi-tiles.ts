/**
 * The ROI one mask tile at a time, for the passes that write or export
 * per-pixel results of several readers (the accepted consensus, the soft
 * labels): the mask tiles under the ROI's box, the ROI's pixels inside one
 * tile as spans (the rasterizer's pixel-centre, even-odd rule: the pixels
 * the agreement counts), and the readers' current tiles there, inflated
 * (an unpainted tile: all 0).
 */
import { MASK_TILE, MASK_TILE_PIXELS } from '../../src/core/mask/mask-grid.js';
import { polygonSpans, type PixelBox } from '../../src/core/mask/raster.js';
import { inflateTile } from '../masks/tile-codec.js';
import type { MaskStore } from '../store/mask-store.js';

const ZERO = new Uint8Array(MASK_TILE_PIXELS);

/** The inclusive range of mask tiles under a box. */
export function tilesUnder(box: PixelBox): { tx0: number; ty0: number; tx1: number; ty1: number } {
  return { tx0: Math.floor(box.x0 / MASK_TILE), ty0: Math.floor(box.y0 / MASK_TILE), tx1: Math.floor((box.x1 - 1) / MASK_TILE), ty1: Math.floor((box.y1 - 1) / MASK_TILE) };
}

/** The ROI's pixels inside tile (tx, ty) as [start, length] pairs of tile-local indices (y · 512 + x), flat; empty when none. */
export function roiSpans(roi: { rings: number[][]; box: PixelBox }, tx: number, ty: number): number[] {
  const T = MASK_TILE;
  const clip = { x0: Math.max(roi.box.x0, tx * T), y0: Math.max(roi.box.y0, ty * T), x1: Math.min(roi.box.x1, (tx + 1) * T), y1: Math.min(roi.box.y1, (ty + 1) * T) };
  const spans: number[] = [];
  if (clip.x1 <= clip.x0 || clip.y1 <= clip.y0) return spans;
  polygonSpans(roi.rings, clip, (y, x0, x1) => spans.push((y - ty * T) * T + x0 - tx * T, x1 - x0));
  return spans;
}

/** Each reader's current tile (tx, ty), inflated (a shared all-0 tile where the reader painted none; do not change it). */
export async function readerTiles(store: MaskStore, slideId: string, readers: readonly string[], tx: number, ty: number): Promise<{ tiles: Uint8Array[]; painted: boolean }> {
  const heads = readers.map((r) => store.head(slideId, r, tx, ty));
  return { tiles: await Promise.all(heads.map((h) => (h ? inflateTile(h.data) : ZERO))), painted: heads.some((h) => h !== null) };
}
