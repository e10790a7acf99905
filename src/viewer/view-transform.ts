/**
 * Coordinates on the client, in one place. Four spaces:
 *
 * - level-0 image pixels (`*Img`): where geometry and mask tiles live;
 * - screen pixels: CSS pixels in the viewer element (pointer events);
 * - canvas pixels: device pixels of an overlay canvas (screen × dpr);
 * - OpenSeadragon's viewport units (the image is 1 wide), which only
 *   `readViewTransform`, `readView` and `goToView` touch.
 *
 * A `ViewTransform` is a snapshot of where level-0 pixels are on screen
 * (screen = origin + image × zoom); every other function is pure and
 * derives from it, so tests/unit/view-transform.test.ts checks them with
 * tables. Tile ranges of a view go through the core tile grid.
 */
import type OpenSeadragon from 'openseadragon';
import type { ViewState } from '../core/deep-link.js';
import { tilesCovering, type TileGrid } from '../core/tile-grid.js';

export interface ViewTransform {
  /** Screen position (CSS px) of level-0 pixel (0, 0). */
  originX: number;
  originY: number;
  /** Screen (CSS) px per level-0 px. */
  zoom: number;
  /** Device px per CSS px. */
  dpr: number;
}

export interface Point {
  x: number;
  y: number;
}

/** canvas = origin + image × scale, in canvas (device) pixels: how overlays draw level-0 geometry. */
export interface CanvasTransform {
  ox: number;
  oy: number;
  scale: number;
}

/** A rectangle of level-0 pixels, [x0, x1) × [y0, y1), real-valued. */
export interface ImageBox {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

// ---- the only places that ask OpenSeadragon

/** Where level-0 pixels are on screen for OpenSeadragon's current (animated) view; null before a slide is open. */
export function readViewTransform(viewer: OpenSeadragon.Viewer, dpr = devicePixelRatio): ViewTransform | null {
  const item = viewer.world.getItemAt(0);
  if (!item) return null;
  const origin = viewer.viewport.viewportToViewerElementCoordinates(item.imageToViewportCoordinates(0, 0, true));
  const zoom = item.viewportToImageZoom(viewer.viewport.getZoom(true));
  return { originX: origin.x, originY: origin.y, zoom, dpr };
}

/** Centre (level-0 px) and zoom (screen px per level-0 px) as drawn now. */
export function readView(viewer: OpenSeadragon.Viewer): ViewState | null {
  const item = viewer.world.getItemAt(0);
  if (!item) return null;
  const vp = viewer.viewport;
  const centre = item.viewportToImageCoordinates(vp.getCenter(true));
  return { x: centre.x, y: centre.y, zoom: item.viewportToImageZoom(vp.getZoom(true)) };
}

/** Moves OpenSeadragon's view to a centre and zoom in level-0 terms. */
export function goToView(viewer: OpenSeadragon.Viewer, view: ViewState, immediately: boolean): void {
  const item = viewer.world.getItemAt(0);
  if (!item) return;
  const vp = viewer.viewport;
  vp.zoomTo(item.imageToViewportZoom(view.zoom), undefined, immediately);
  vp.panTo(item.imageToViewportCoordinates(view.x, view.y), immediately);
  vp.applyConstraints(immediately);
}

// ---- pure conversions

/** A screen point (CSS px in the viewer element) in level-0 pixels. */
export function screenToImage(t: ViewTransform, sx: number, sy: number): Point {
  return { x: (sx - t.originX) / t.zoom, y: (sy - t.originY) / t.zoom };
}

/** A level-0 point on screen (CSS px in the viewer element). */
export function imageToScreen(t: ViewTransform, x: number, y: number): Point {
  return { x: t.originX + x * t.zoom, y: t.originY + y * t.zoom };
}

/** Level-0 pixels per screen pixel: how big a screen-sized thing (a brush, a snap distance) is on the image. */
export function imagePxPerScreenPx(t: ViewTransform): number {
  return 1 / t.zoom;
}

/** The overlay canvases' transform (device pixels). */
export function canvasTransform(t: ViewTransform): CanvasTransform {
  return { ox: t.originX * t.dpr, oy: t.originY * t.dpr, scale: t.zoom * t.dpr };
}

/** The level-0 pixels a canvas of `width` × `height` device pixels shows. */
export function visibleImageBox(t: ViewTransform, width: number, height: number): ImageBox {
  const c = canvasTransform(t);
  return { x0: -c.ox / c.scale, y0: -c.oy / c.scale, x1: (width - c.ox) / c.scale, y1: (height - c.oy) / c.scale };
}

/** The level-0 box a view of `width` × `height` screen pixels shows around its centre. */
export function viewBox(view: ViewState, width: number, height: number): ImageBox {
  const hw = width / 2 / view.zoom;
  const hh = height / 2 / view.zoom;
  return { x0: view.x - hw, y0: view.y - hh, x1: view.x + hw, y1: view.y + hh };
}

/**
 * The view that shows a level-0 box with room around it in a `width` ×
 * `height` screen: the box fills about a third of the shorter side, and a
 * point or a tiny cell is shown as a box of at least `minSide` level-0 px
 * (OpenSeadragon then caps the zoom at the viewer's maximum). With
 * `coveredRight` screen px hidden on the right (the annotation list over the
 * slide) the box is centred in what is left, when that is 200 px or more.
 */
export function viewShowing(box: ImageBox, width: number, height: number, minSide = 64, coveredRight = 0): ViewState {
  const covered = width - coveredRight >= 200 ? Math.max(0, coveredRight) : 0;
  const side = Math.max(box.x1 - box.x0, box.y1 - box.y0, minSide);
  const zoom = Math.max(1e-6, Math.min(width - covered, height) / (side * 3));
  return { x: (box.x0 + box.x1) / 2 + covered / 2 / zoom, y: (box.y0 + box.y1) / 2, zoom };
}

/**
 * The power-of-two reduction whose pixels are at least as fine as the
 * drawing's: level k is drawn at 2^-k or more display px per level-0 px
 * (`pxPerImagePx`), clamped to [0, maxLevel].
 */
export function levelForScale(pxPerImagePx: number, maxLevel = Infinity): number {
  return Math.max(0, Math.min(maxLevel, Math.floor(Math.log2(1 / pxPerImagePx))));
}

/** Tiles of `grid` (in level-0 pixels) that a level-0 box overlaps, through the core tile grid. */
export function tilesInBox(grid: TileGrid, box: ImageBox): { col0: number; row0: number; col1: number; row1: number } {
  return tilesCovering(grid, { x: box.x0, y: box.y0, width: box.x1 - box.x0, height: box.y1 - box.y0 });
}

/** Calls `fn` for every tile of `grid` a level-0 box overlaps, row by row. */
export function forEachTileInBox(grid: TileGrid, box: ImageBox, fn: (col: number, row: number) => void): void {
  const r = tilesInBox(grid, box);
  for (let row = r.row0; row <= r.row1; row++) for (let col = r.col0; col <= r.col1; col++) fn(col, row);
}

/** Where tile (col, row) of `grid` lands on the canvas, in whole device pixels (so an unscaled tile takes the unfiltered copy path). */
export function tileOnCanvas(c: CanvasTransform, grid: TileGrid, col: number, row: number): { x: number; y: number; width: number; height: number } {
  const x = Math.round(c.ox + col * grid.tileWidth * c.scale);
  const y = Math.round(c.oy + row * grid.tileHeight * c.scale);
  return {
    x,
    y,
    width: Math.round(c.ox + (col + 1) * grid.tileWidth * c.scale) - x,
    height: Math.round(c.oy + (row + 1) * grid.tileHeight * c.scale) - y,
  };
}
