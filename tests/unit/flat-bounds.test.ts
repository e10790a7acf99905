// The one home of bounding boxes over flat coordinates (src/core/flat-geometry.ts),
// used by the geometry index, the object agreement and the ROI rasterizer.
import { describe, expect, it } from 'vitest';
import { emptyBounds, extendBounds, flatBounds, ringsBounds } from '../../src/core/flat-geometry.js';

describe('bounds over flat coordinates', () => {
  it('is the empty box for no points, and ignores a trailing lone coordinate', () => {
    expect(flatBounds([])).toEqual([Infinity, Infinity, -Infinity, -Infinity]);
    expect(flatBounds([3, 4, 1, 9, 7])).toEqual([1, 4, 3, 9]);
    expect(ringsBounds([])).toEqual([Infinity, Infinity, -Infinity, -Infinity]);
  });

  it('takes a sub-range', () => {
    const c = [100, 100, 0, 5, 2, -1, 100, 100];
    expect(flatBounds(c, 2, 6)).toEqual([0, -1, 2, 5]);
  });

  it('joins several rings and fills a given box in place, forgetting what it held', () => {
    const box = new Float64Array([-50, -50, 50, 50]);
    const got = ringsBounds([[0, 0, 10, 0, 10, 10], new Float32Array([-2, 3, 4, 20])], box);
    expect(got).toBe(box);
    expect(Array.from(box)).toEqual([-2, 0, 10, 20]);
  });

  it('grows a box without shrinking it', () => {
    const box = emptyBounds([0, 0, 0, 0]);
    extendBounds(box, [5, 5]);
    extendBounds(box, [1, 7, 3, 6]);
    expect(box).toEqual([1, 5, 5, 7]);
  });
});
