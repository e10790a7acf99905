/**
 * The client's coordinates (src/viewer/view-transform.ts) as tables: screen
 * ↔ level-0, the overlay canvas transform, the visible box, the level a
 * zoom draws, and the tiles of a grid a view covers (through the core tile
 * grid) — including the edges where off-by-one bugs live.
 */
import { describe, expect, it } from 'vitest';
import { maskGrid, maskLevelGrid } from '../../src/core/mask/mask-grid.js';
import { makeGrid, unboundedGrid } from '../../src/core/tile-grid.js';
import {
  canvasTransform,
  forEachTileInBox,
  imagePxPerScreenPx,
  imageToScreen,
  levelForScale,
  screenToImage,
  tileOnCanvas,
  tilesInBox,
  viewBox,
  visibleImageBox,
  type ViewTransform,
} from '../../src/viewer/view-transform.js';

const at = (originX: number, originY: number, zoom: number, dpr = 1): ViewTransform => ({ originX, originY, zoom, dpr });

describe('screen ↔ level-0', () => {
  it.each([
    // transform, screen point, level-0 point
    [at(0, 0, 1), [0, 0], [0, 0]],
    [at(0, 0, 1), [640, 360], [640, 360]],
    [at(100, 50, 1), [100, 50], [0, 0]],
    [at(100, 50, 0.5), [300, 250], [400, 400]],
    [at(-2000, -1000, 2), [0, 0], [1000, 500]],
    [at(10, 20, 1 / 40), [20, 30], [400, 400]],
    [at(10, 20, 0.25, 2), [10, 20], [0, 0]],
  ] as const)('%o: screen %o is level-0 %o, and back', (t, s, img) => {
    const p = screenToImage(t, s[0], s[1]);
    expect(p.x).toBeCloseTo(img[0], 9);
    expect(p.y).toBeCloseTo(img[1], 9);
    const q = imageToScreen(t, img[0], img[1]);
    expect(q.x).toBeCloseTo(s[0], 9);
    expect(q.y).toBeCloseTo(s[1], 9);
  });

  it.each([
    [1, 1],
    [0.5, 2],
    [1 / 40, 40],
    [4, 0.25],
  ])('at zoom %f one screen pixel is %f level-0 pixels, whatever the device pixel ratio', (zoom, px) => {
    expect(imagePxPerScreenPx(at(3, 4, zoom, 1))).toBeCloseTo(px, 12);
    expect(imagePxPerScreenPx(at(3, 4, zoom, 2))).toBeCloseTo(px, 12);
  });
});

describe('the overlay canvases (device pixels)', () => {
  it.each([
    [at(0, 0, 1, 1), { ox: 0, oy: 0, scale: 1 }],
    [at(10, 20, 0.5, 2), { ox: 20, oy: 40, scale: 1 }],
    [at(-5, 7, 1 / 40, 1.5), { ox: -7.5, oy: 10.5, scale: 1.5 / 40 }],
  ] as const)('%o draws through %o', (t, c) => {
    const got = canvasTransform(t);
    expect(got.ox).toBeCloseTo(c.ox, 12);
    expect(got.oy).toBeCloseTo(c.oy, 12);
    expect(got.scale).toBeCloseTo(c.scale, 12);
  });

  it.each([
    // transform, canvas w × h (device px), visible level-0 box
    [at(0, 0, 1), 1600, 900, { x0: 0, y0: 0, x1: 1600, y1: 900 }],
    [at(0, 0, 1, 2), 3200, 1800, { x0: 0, y0: 0, x1: 1600, y1: 900 }],
    [at(-1000, -500, 0.5), 800, 600, { x0: 2000, y0: 1000, x1: 3600, y1: 2200 }],
    [at(200, 100, 1 / 40), 1600, 900, { x0: -8000, y0: -4000, x1: 56000, y1: 32000 }],
  ] as const)('%o with a %i × %i canvas shows %o', (t, w, h, box) => {
    const got = visibleImageBox(t, w, h);
    expect(got.x0).toBeCloseTo(box.x0, 9);
    expect(got.y0).toBeCloseTo(box.y0, 9);
    expect(got.x1).toBeCloseTo(box.x1, 9);
    expect(got.y1).toBeCloseTo(box.y1, 9);
  });

  it.each([
    [{ x: 1000, y: 500, zoom: 1 }, 800, 600, { x0: 600, y0: 200, x1: 1400, y1: 800 }],
    [{ x: 1000, y: 500, zoom: 0.5 }, 800, 600, { x0: 200, y0: -100, x1: 1800, y1: 1100 }],
  ])('a view %o of %i × %i screen px covers %o', (view, w, h, box) => {
    expect(viewBox(view, w, h)).toEqual(box);
  });
});

describe('the level a zoom draws', () => {
  it.each([
    // display px per level-0 px, max level, level
    [4, Infinity, 0],
    [1, Infinity, 0],
    [0.75, Infinity, 0],
    [0.5, Infinity, 1],
    [0.49, Infinity, 1],
    [0.25, Infinity, 2],
    [1 / 40, Infinity, 5],
    [1 / 40, 3, 3],
    [1 / 64, Infinity, 6],
  ])('%f px per level-0 px draws level %i (max %f)', (scale, max, level) => {
    expect(levelForScale(scale, max)).toBe(level);
  });
});

describe('tiles a view covers (core tile grid)', () => {
  const mask = maskGrid(3000, 2000); // 6 × 4 tiles of 512

  it.each([
    // box, expected range
    [{ x0: 0, y0: 0, x1: 512, y1: 512 }, { col0: 0, row0: 0, col1: 0, row1: 0 }],
    [{ x0: 0, y0: 0, x1: 512.5, y1: 512 }, { col0: 0, row0: 0, col1: 1, row1: 0 }],
    [{ x0: 511.9, y0: 0, x1: 513, y1: 1 }, { col0: 0, row0: 0, col1: 1, row1: 0 }],
    [{ x0: -300, y0: -300, x1: 100, y1: 100 }, { col0: 0, row0: 0, col1: 0, row1: 0 }],
    [{ x0: 2900, y0: 1900, x1: 9000, y1: 9000 }, { col0: 5, row0: 3, col1: 5, row1: 3 }],
    [{ x0: 4000, y0: 0, x1: 5000, y1: 100 }, { col0: 7, row0: 0, col1: 5, row1: 0 }],
  ])('%o → %o', (box, range) => {
    expect(tilesInBox(mask, box)).toEqual(range);
  });

  it('an integer box gives what the server-side grid gives (one function for both)', () => {
    const g = makeGrid(1000, 700, 256);
    expect(tilesInBox(g, { x0: 250, y0: 0, x1: 260, y1: 600 })).toEqual({ col0: 0, row0: 0, col1: 1, row1: 2 });
  });

  it('pyramid levels of the mask double the tile span', () => {
    expect(maskLevelGrid(50000, 50000, 0)).toMatchObject({ tileWidth: 512, cols: 98, rows: 98 });
    expect(maskLevelGrid(50000, 50000, 3)).toMatchObject({ tileWidth: 4096, cols: 13, rows: 13 });
  });

  it('an unbounded grid (annotation tiles) has no last tile but none before 0', () => {
    const seen: Array<[number, number]> = [];
    forEachTileInBox(unboundedGrid(256), { x0: -10, y0: 600, x1: 600, y1: 700 }, (c, r) => seen.push([c, r]));
    expect(seen).toEqual([
      [0, 2],
      [1, 2],
      [2, 2],
    ]);
  });

  it.each([
    // canvas transform, tile → whole device pixels, adjacent tiles share their edges
    [{ ox: 0, oy: 0, scale: 1 }, 1, 0, { x: 512, y: 0, width: 512, height: 512 }],
    [{ ox: 10.4, oy: -3.6, scale: 0.3 }, 2, 1, { x: 318, y: 150, width: 153, height: 154 }],
  ])('with %o tile (%i, %i) lands at %o', (c, col, row, rect) => {
    expect(tileOnCanvas(c, mask, col, row)).toEqual(rect);
    const next = tileOnCanvas(c, mask, col + 1, row);
    expect(next.x).toBe(rect.x + rect.width);
  });
});
