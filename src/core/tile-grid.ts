/**
 * Tile math in one place: DZI levels, tile bounds, the last partial tile and
 * the mapping between requested downsamples and stored pyramid levels.
 * The server's regions, the client's mask grid and its level-of-detail tiles
 * all use it. Every function is pure; tests/unit/tile-grid.test.ts holds the
 * tables.
 *
 * Coordinate spaces: `*L0` values are level-0 image pixels, `*Lvl` values are
 * pixels of the level in question.
 */

export interface Size {
  width: number;
  height: number;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Highest DZI level: the one whose size equals the image (level 0 is 1×1). */
export function dziMaxLevel(width: number, height: number): number {
  if (!(width >= 1 && height >= 1)) throw new RangeError(`image size must be positive, got ${width}x${height}`);
  return Math.ceil(Math.log2(Math.max(width, height)));
}

/** Downsample of DZI `level` relative to level 0 of the image. */
export function dziDownsample(maxLevel: number, level: number): number {
  return 2 ** (maxLevel - level);
}

/** Size of DZI `level`: the image size divided by 2^(max-level), rounded up. */
export function dziLevelSize(width: number, height: number, level: number): Size {
  const ds = dziDownsample(dziMaxLevel(width, height), level);
  return { width: Math.ceil(width / ds), height: Math.ceil(height / ds) };
}

export function tileCount(extent: number, tileSize: number): number {
  return Math.ceil(extent / tileSize);
}

/** Grid of tiles over one level; the last column and row may be partial. */
export interface TileGrid {
  levelWidth: number;
  levelHeight: number;
  tileWidth: number;
  tileHeight: number;
  cols: number;
  rows: number;
}

export function makeGrid(levelWidth: number, levelHeight: number, tileWidth: number, tileHeight = tileWidth): TileGrid {
  return {
    levelWidth,
    levelHeight,
    tileWidth,
    tileHeight,
    cols: tileCount(levelWidth, tileWidth),
    rows: tileCount(levelHeight, tileHeight),
  };
}

export function inGrid(grid: TileGrid, col: number, row: number): boolean {
  return Number.isInteger(col) && Number.isInteger(row) && col >= 0 && row >= 0 && col < grid.cols && row < grid.rows;
}

/**
 * Bounds of tile (col,row) in level pixels, clipped to the level. With an
 * overlap (DZI), interior edges grow by `overlap` pixels on each side.
 */
export function tileRect(grid: TileGrid, col: number, row: number, overlap = 0): Rect {
  const x0 = col * grid.tileWidth - (col > 0 ? overlap : 0);
  const y0 = row * grid.tileHeight - (row > 0 ? overlap : 0);
  const x1 = Math.min(grid.levelWidth, (col + 1) * grid.tileWidth + overlap);
  const y1 = Math.min(grid.levelHeight, (row + 1) * grid.tileHeight + overlap);
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/**
 * A grid with no last tile, for overlays whose content may reach past the
 * image (annotations drawn outside it): tiles of `tileSize` from 0 on.
 */
export function unboundedGrid(tileSize: number): TileGrid {
  return makeGrid(Infinity, Infinity, tileSize);
}

/**
 * Range of tiles (inclusive) that cover a rectangle in level pixels: every
 * tile the half-open area [x, x+width) × [y, y+height) overlaps, clipped to
 * the grid. Works for whole-pixel rectangles (a request region) and for
 * real-valued ones (the part of the image a view shows); an empty result has
 * col1 < col0 or row1 < row0.
 */
export function tilesCovering(grid: TileGrid, rect: Rect): { col0: number; row0: number; col1: number; row1: number } {
  const col0 = Math.max(0, Math.floor(rect.x / grid.tileWidth));
  const row0 = Math.max(0, Math.floor(rect.y / grid.tileHeight));
  const col1 = Math.min(grid.cols - 1, Math.ceil((rect.x + rect.width) / grid.tileWidth) - 1);
  const row1 = Math.min(grid.rows - 1, Math.ceil((rect.y + rect.height) / grid.tileHeight) - 1);
  return { col0, row0, col1, row1 };
}

/** Downsample of a stored level as OpenSlide defines it: mean of both axes. */
export function levelDownsample(base: Size, level: Size): number {
  return (base.width / level.width + base.height / level.height) / 2;
}

/**
 * A stored level counts as an exact power-of-two reduction of the base when
 * its size equals base/2^k rounded either way (writers differ on rounding).
 * Returns k, or -1 when the level is not such a reduction.
 */
export function exactPowerOfTwo(base: Size, level: Size): number {
  const ds = levelDownsample(base, level);
  const k = Math.round(Math.log2(ds));
  if (k < 0) return -1;
  const f = 2 ** k;
  const okW = level.width === Math.ceil(base.width / f) || level.width === Math.floor(base.width / f);
  const okH = level.height === Math.ceil(base.height / f) || level.height === Math.floor(base.height / f);
  return okW && okH ? k : -1;
}

/**
 * Picks the stored level to read for a wanted downsample: the coarsest level
 * that still has at least the wanted resolution (downsample ≤ wanted), so we
 * only ever reduce. `downsamples` must be ascending (level 0 first).
 */
export function chooseLevel(downsamples: readonly number[], wanted: number): number {
  let best = 0;
  for (let i = 0; i < downsamples.length; i++) {
    const ds = downsamples[i] as number;
    if (ds <= wanted * (1 + 1e-6)) best = i;
  }
  return best;
}

/** Scale factors a IIIF client may ask tiles at: powers of two down to one tile. */
export function iiifScaleFactors(width: number, height: number, tileSize: number): number[] {
  const out: number[] = [];
  for (let f = 1; ; f *= 2) {
    out.push(f);
    if (Math.ceil(width / f) <= tileSize && Math.ceil(height / f) <= tileSize) break;
    if (f > 2 ** 30) break;
  }
  return out;
}

/** Intersection of two rectangles, or null when empty. */
export function intersectRect(a: Rect, b: Rect): Rect | null {
  const x0 = Math.max(a.x, b.x);
  const y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.width, b.x + b.width);
  const y1 = Math.min(a.y + a.height, b.y + b.height);
  return x1 > x0 && y1 > y0 ? { x: x0, y: y0, width: x1 - x0, height: y1 - y0 } : null;
}
