/**
 * TIFF Orientation (1–8) between the stored raster and what is shown.
 * Display rectangles map to stored rectangles, and a stored RGB raster is
 * turned into display orientation pixel by pixel.
 */
import type { Rect } from '../../src/core/tile-grid.js';

/** Whether the orientation swaps rows and columns (5–8). */
export function transposes(orientation: number): boolean {
  return orientation >= 5 && orientation <= 8;
}

/**
 * Maps a display pixel (x, y) to the stored pixel shown there. `w`,`h` are
 * the stored width and height.
 */
export function displayToStored(orientation: number, x: number, y: number, w: number, h: number): [number, number] {
  switch (orientation) {
    case 2: return [w - 1 - x, y];
    case 3: return [w - 1 - x, h - 1 - y];
    case 4: return [x, h - 1 - y];
    case 5: return [y, x];
    case 6: return [y, h - 1 - x];
    case 7: return [w - 1 - y, h - 1 - x];
    case 8: return [w - 1 - y, x];
    default: return [x, y];
  }
}

/** Stored rectangle covering a display rectangle. */
export function displayRectToStored(orientation: number, r: Rect, w: number, h: number): Rect {
  const [ax, ay] = displayToStored(orientation, r.x, r.y, w, h);
  const [bx, by] = displayToStored(orientation, r.x + r.width - 1, r.y + r.height - 1, w, h);
  const x0 = Math.min(ax, bx);
  const y0 = Math.min(ay, by);
  return { x: x0, y: y0, width: Math.max(ax, bx) - x0 + 1, height: Math.max(ay, by) - y0 + 1 };
}

/**
 * Turns a stored-orientation RGB raster (sw×sh) into display orientation.
 * Returns the new raster and its size.
 */
export function orientRaster(orientation: number, data: Uint8Array, sw: number, sh: number): { data: Uint8Array; width: number; height: number } {
  if (orientation <= 1 || orientation > 8) return { data, width: sw, height: sh };
  const [dw, dh] = transposes(orientation) ? [sh, sw] : [sw, sh];
  const out = new Uint8Array(dw * dh * 3);
  for (let y = 0; y < dh; y++) {
    for (let x = 0; x < dw; x++) {
      const [sx, sy] = displayToStored(orientation, x, y, sw, sh);
      const s = (sy * sw + sx) * 3;
      const d = (y * dw + x) * 3;
      out[d] = data[s] as number;
      out[d + 1] = data[s + 1] as number;
      out[d + 2] = data[s + 2] as number;
    }
  }
  return { data: out, width: dw, height: dh };
}
