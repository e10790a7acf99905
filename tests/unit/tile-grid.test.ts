import { describe, expect, it } from 'vitest';
import {
  chooseLevel,
  dziLevelSize,
  dziMaxLevel,
  exactPowerOfTwo,
  iiifScaleFactors,
  inGrid,
  levelDownsample,
  makeGrid,
  tileRect,
  tilesCovering,
} from '../../src/core/tile-grid.js';

describe('DZI levels', () => {
  it.each([
    [1, 1, 0],
    [2, 1, 1],
    [256, 256, 8],
    [257, 10, 9],
    [50000, 50000, 16],
    [46000, 32914, 16],
    [65536, 100, 16],
    [65537, 100, 17],
  ])('%ix%i has max level %i', (w, h, max) => {
    expect(dziMaxLevel(w, h)).toBe(max);
  });

  it.each([
    // width, height, level, expected size (ceil at every level)
    [50000, 50000, 16, 50000, 50000],
    [50000, 50000, 15, 25000, 25000],
    [50000, 50000, 8, 196, 196],
    [50000, 50000, 0, 1, 1],
    [1500, 1100, 11, 1500, 1100],
    [1500, 1100, 10, 750, 550],
    [1500, 1100, 9, 375, 275],
    [1500, 1100, 8, 188, 138],
    [690, 1472, 10, 345, 736],
    [690, 1472, 9, 173, 368],
  ])('%ix%i level %i is %ix%i', (w, h, level, ew, eh) => {
    expect(dziLevelSize(w, h, level)).toEqual({ width: ew, height: eh });
  });

  it('refuses an empty image', () => {
    expect(() => dziMaxLevel(0, 10)).toThrow(RangeError);
  });
});

describe('tile grid', () => {
  const grid = makeGrid(1000, 700, 256);

  it('counts tiles, last ones partial', () => {
    expect(grid.cols).toBe(4);
    expect(grid.rows).toBe(3);
  });

  it.each([
    [0, 0, { x: 0, y: 0, width: 256, height: 256 }],
    [3, 0, { x: 768, y: 0, width: 232, height: 256 }],
    [0, 2, { x: 0, y: 512, width: 256, height: 188 }],
    [3, 2, { x: 768, y: 512, width: 232, height: 188 }],
  ])('tile %i,%i bounds', (col, row, rect) => {
    expect(tileRect(grid, col, row)).toEqual(rect);
  });

  it('applies DZI overlap on interior edges only', () => {
    expect(tileRect(grid, 0, 0, 1)).toEqual({ x: 0, y: 0, width: 257, height: 257 });
    expect(tileRect(grid, 1, 1, 1)).toEqual({ x: 255, y: 255, width: 258, height: 258 });
    expect(tileRect(grid, 3, 2, 1)).toEqual({ x: 767, y: 511, width: 233, height: 189 });
  });

  it.each([
    [0, 0, true],
    [3, 2, true],
    [4, 0, false],
    [0, 3, false],
    [-1, 0, false],
    [0.5, 0, false],
    [Number.NaN, 0, false],
  ])('inGrid(%s, %s) = %s', (c, r, ok) => {
    expect(inGrid(grid, c, r)).toBe(ok);
  });

  it('finds tiles covering a rectangle', () => {
    expect(tilesCovering(grid, { x: 250, y: 0, width: 10, height: 600 })).toEqual({ col0: 0, row0: 0, col1: 1, row1: 2 });
    expect(tilesCovering(grid, { x: 0, y: 0, width: 256, height: 256 })).toEqual({ col0: 0, row0: 0, col1: 0, row1: 0 });
    expect(tilesCovering(grid, { x: 900, y: 650, width: 5000, height: 5000 })).toEqual({ col0: 3, row0: 2, col1: 3, row1: 2 });
  });
});

describe('stored level mapping', () => {
  const base = { width: 46000, height: 32914 };

  it.each([
    // Aperio ×4 levels (floor), libvips-style ceil, and non-powers
    [{ width: 11500, height: 8228 }, 2],
    [{ width: 2875, height: 2057 }, 4],
    [{ width: 23000, height: 16457 }, 1],
    [{ width: 46000, height: 32914 }, 0],
    [{ width: 15333, height: 10971 }, -1],
  ])('level %o is 2^%i', (level, k) => {
    expect(exactPowerOfTwo(base, level)).toBe(k);
  });

  it('uses OpenSlide downsample definition', () => {
    expect(levelDownsample(base, { width: 11500, height: 8228 })).toBeCloseTo((4 + 32914 / 8228) / 2, 10);
  });

  it.each([
    [[1, 4, 16], 1, 0],
    [[1, 4, 16], 3.99, 0],
    [[1, 4, 16], 4, 1],
    [[1, 4.0003, 16.001], 4, 0],
    [[1, 4.0003, 16.001], 4.0003, 1],
    [[1, 4, 16], 100, 2],
    [[1, 2, 4, 8], 6, 2],
  ])('downsamples %o, wanted %s -> level %i', (ds, wanted, level) => {
    expect(chooseLevel(ds, wanted)).toBe(level);
  });

  it('lists IIIF scale factors down to one tile', () => {
    expect(iiifScaleFactors(1000, 700, 256)).toEqual([1, 2, 4]);
    expect(iiifScaleFactors(256, 100, 256)).toEqual([1]);
    expect(iiifScaleFactors(50000, 50000, 256)).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256]);
  });
});
