/**
 * The mask model shared by the browser, the workers and the server.
 *
 * A mask belongs to one slide and one annotator. It is a sparse grid of
 * level-0 tiles of MASK_TILE × MASK_TILE class ids (Uint8, row-major);
 * 0 means unlabelled, 1–255 are class ids from the class registry. Only
 * tiles that were ever touched exist. Tile (tx, ty) covers level-0 pixels
 * [tx·MASK_TILE, (tx+1)·MASK_TILE) × [ty·MASK_TILE, (ty+1)·MASK_TILE); the
 * last row and column of tiles may reach past the slide (those pixels stay 0
 * and are cut off on export).
 *
 * Pixel (x, y) is the square [x, x+1) × [y, y+1) in level-0 image
 * coordinates; its centre is (x + 0.5, y + 0.5). Every rasterizer decides
 * coverage at pixel centres.
 *
 * The tile math itself is the core tile grid's (../tile-grid.ts); this file
 * names the mask's grid.
 */

import { makeGrid, tilesCovering as gridTilesCovering, unboundedGrid, type TileGrid } from '../tile-grid.js';

export const MASK_TILE = 512;
export const MASK_TILE_PIXELS = MASK_TILE * MASK_TILE;
/** 0 = unlabelled. */
export const UNLABELLED = 0;
export const MAX_CLASS_ID = 255;

export function tileKey(tx: number, ty: number): string {
  return `${tx},${ty}`;
}

export function parseTileKey(key: string): [number, number] {
  const [a, b] = key.split(',');
  return [Number(a), Number(b)];
}

/** The mask's tile grid over a slide of this size (level-0 pixels; the last tiles reach past the edge). */
export function maskGrid(width: number, height: number): TileGrid {
  return makeGrid(width, height, MASK_TILE);
}

/**
 * The grid of mask pyramid `level` in level-0 pixels: each tile covers
 * 2^level × 2^level level-0 tiles (level 0 is the mask itself).
 */
export function maskLevelGrid(width: number, height: number, level: number): TileGrid {
  return makeGrid(width, height, MASK_TILE * 2 ** level);
}

/** Tiles across and down for a slide of this size. */
export function maskGridSize(width: number, height: number): { cols: number; rows: number } {
  const { cols, rows } = maskGrid(width, height);
  return { cols, rows };
}

const ANY_SIZE = unboundedGrid(MASK_TILE);

/** Inclusive tile range covering the level-0 pixel box [x0, x1) × [y0, y1) (not clipped to a slide). */
export function tilesCovering(x0: number, y0: number, x1: number, y1: number): { tx0: number; ty0: number; tx1: number; ty1: number } {
  const r = gridTilesCovering(ANY_SIZE, { x: x0, y: y0, width: x1 - x0, height: y1 - y0 });
  return { tx0: r.col0, ty0: r.row0, tx1: r.col1, ty1: r.row1 };
}
