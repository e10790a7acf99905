import { describe, expect, it } from 'vitest';
import { displayRectToStored, displayToStored, orientRaster } from '../../tiles-server/render/orientation.js';

/** A 3×2 stored raster whose red channel numbers the pixels 0..5. */
const stored = Uint8Array.from([0, 1, 2, 3, 4, 5].flatMap((v) => [v, 0, 0]));
const reds = (r: { data: Uint8Array }): number[] => Array.from({ length: r.data.length / 3 }, (_, i) => r.data[i * 3] as number);

describe('TIFF orientation', () => {
  // expected display rows for each orientation of
  //   0 1 2
  //   3 4 5
  it.each([
    [1, 3, [0, 1, 2, 3, 4, 5]],
    [2, 3, [2, 1, 0, 5, 4, 3]],
    [3, 3, [5, 4, 3, 2, 1, 0]],
    [4, 3, [3, 4, 5, 0, 1, 2]],
    [5, 2, [0, 3, 1, 4, 2, 5]],
    [6, 2, [3, 0, 4, 1, 5, 2]],
    [7, 2, [5, 2, 4, 1, 3, 0]],
    [8, 2, [2, 5, 1, 4, 0, 3]],
  ])('orientation %i shows the raster as the TIFF spec says', (o, width, expected) => {
    const out = orientRaster(o, stored, 3, 2);
    expect(out.width).toBe(width);
    expect(reds(out)).toEqual(expected);
  });

  it('maps display rectangles to the stored pixels they show', () => {
    for (let o = 1; o <= 8; o++) {
      const [dw, dh] = o >= 5 ? [2, 3] : [3, 2];
      for (let y = 0; y < dh; y++) {
        for (let x = 0; x < dw; x++) {
          const r = displayRectToStored(o, { x, y, width: 1, height: 1 }, 3, 2);
          const [sx, sy] = displayToStored(o, x, y, 3, 2);
          expect(r).toEqual({ x: sx, y: sy, width: 1, height: 1 });
        }
      }
      expect(displayRectToStored(o, { x: 0, y: 0, width: dw, height: dh }, 3, 2)).toEqual({ x: 0, y: 0, width: 3, height: 2 });
    }
  });
});
