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
 */

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

/** Tiles across and down for a slide of this size. */
export function maskGridSize(width: number, height: number): { cols: number; rows: number } {
  return { cols: Math.ceil(width / MASK_TILE), rows: Math.ceil(height / MASK_TILE) };
}

/** Inclusive tile range covering the level-0 pixel box [x0, x1) × [y0, y1). */
export function tilesCovering(x0: number, y0: number, x1: number, y1: number): { tx0: number; ty0: number; tx1: number; ty1: number } {
  return {
    tx0: Math.floor(x0 / MASK_TILE),
    ty0: Math.floor(y0 / MASK_TILE),
    tx1: Math.floor((x1 - 1) / MASK_TILE),
    ty1: Math.floor((y1 - 1) / MASK_TILE),
  };
}
