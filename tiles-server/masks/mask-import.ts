/**
 * Placing an imported label image on a mask. Each image pixel covers
 * downsample × downsample level-0 pixels (nearest neighbour) with the
 * image's top-left at level-0 (x, y). Code 0 leaves the mask as it is; any
 * other code overwrites with its class id (through `lut`, code → id). What
 * falls past the slide is cut.
 */
import { MASK_TILE, MASK_TILE_PIXELS } from '../../src/core/mask/mask-grid.js';
import type { LabelImage } from './label-image.js';

export interface Placement {
  x: number;
  y: number;
  downsample: number;
  slideWidth: number;
  slideHeight: number;
}

/** The level-0 box the image covers inside the slide ([x0, x1) × [y0, y1)), the tiles it touches, and what was cut. */
export interface ImportRegion {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  tx0: number;
  ty0: number;
  tx1: number;
  ty1: number;
  warnings: string[];
}

export function importRegion(img: Pick<LabelImage, 'width' | 'height'>, p: Placement): ImportRegion {
  const fullX1 = p.x + img.width * p.downsample;
  const fullY1 = p.y + img.height * p.downsample;
  const x1 = Math.min(fullX1, p.slideWidth);
  const y1 = Math.min(fullY1, p.slideHeight);
  const warnings: string[] = [];
  if (fullX1 > p.slideWidth) warnings.push(`the image reaches ${fullX1 - p.slideWidth} level-0 px past the slide's right edge (width ${p.slideWidth}); that part was cut`);
  if (fullY1 > p.slideHeight) warnings.push(`the image reaches ${fullY1 - p.slideHeight} level-0 px past the slide's bottom edge (height ${p.slideHeight}); that part was cut`);
  return {
    x0: p.x,
    y0: p.y,
    x1,
    y1,
    tx0: Math.floor(p.x / MASK_TILE),
    ty0: Math.floor(p.y / MASK_TILE),
    tx1: Math.floor((x1 - 1) / MASK_TILE),
    ty1: Math.floor((y1 - 1) / MASK_TILE),
    warnings,
  };
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Which codes occur in the image, and how often (in slices, so other requests are served meanwhile). */
export async function codeHistogram(img: LabelImage): Promise<Float64Array> {
  const h = new Float64Array(256);
  const c = img.codes;
  const slice = 1 << 22;
  for (let from = 0; from < c.length; from += slice) {
    const to = Math.min(c.length, from + slice);
    for (let i = from; i < to; i++) h[c[i] as number]!++;
    if (to < c.length) await yieldToEventLoop();
  }
  return h;
}

/** Adds the level-0 pixels that image rows [iy0, iy1) set, per class id, to `counts`. */
function countRows(img: LabelImage, p: Placement, r: ImportRegion, lut: Uint8Array, counts: Float64Array, iy0: number, iy1: number): void {
  const d = p.downsample;
  const cols = Math.ceil((r.x1 - r.x0) / d);
  const rowHist = new Float64Array(256);
  // every column is d wide except a cut last one
  const lastW = r.x1 - (r.x0 + (cols - 1) * d);
  for (let iy = iy0; iy < iy1; iy++) {
    const wy = Math.min(r.y0 + (iy + 1) * d, r.y1) - (r.y0 + iy * d);
    rowHist.fill(0);
    const base = iy * img.width;
    for (let ix = 0; ix < cols - 1; ix++) rowHist[img.codes[base + ix] as number]! += d;
    rowHist[img.codes[base + cols - 1] as number]! += lastW;
    for (let code = 1; code < 256; code++) if ((rowHist[code] as number) > 0) counts[lut[code] as number]! += (rowHist[code] as number) * wy;
  }
}

function countsObject(counts: Float64Array): Record<string, number> {
  const out: Record<string, number> = {};
  for (let id = 1; id < 256; id++) if ((counts[id] as number) > 0) out[id] = counts[id] as number;
  return out;
}

/** Level-0 pixels the import sets, per class id (inside the slide only). */
export function importedPixels(img: LabelImage, p: Placement, r: ImportRegion, lut: Uint8Array): Record<string, number> {
  const counts = new Float64Array(256);
  countRows(img, p, r, lut, counts, 0, Math.ceil((r.y1 - r.y0) / p.downsample));
  return countsObject(counts);
}

/** The same, in slices of rows so other requests are served meanwhile. */
export async function importedPixelsAsync(img: LabelImage, p: Placement, r: ImportRegion, lut: Uint8Array): Promise<Record<string, number>> {
  const counts = new Float64Array(256);
  const rows = Math.ceil((r.y1 - r.y0) / p.downsample);
  const step = Math.max(1, Math.floor((1 << 22) / img.width));
  for (let iy = 0; iy < rows; iy += step) {
    countRows(img, p, r, lut, counts, iy, Math.min(rows, iy + step));
    if (iy + step < rows) await yieldToEventLoop();
  }
  return countsObject(counts);
}

/**
 * The tile (tx, ty) with the image applied over `base` (null = a tile that
 * does not exist yet: all 0), or null when nothing changes.
 */
export function composeTile(base: Uint8Array | null, tx: number, ty: number, img: LabelImage, p: Placement, r: ImportRegion, lut: Uint8Array): Uint8Array | null {
  const X0 = tx * MASK_TILE;
  const Y0 = ty * MASK_TILE;
  const u0 = Math.max(0, r.x0 - X0);
  const u1 = Math.min(MASK_TILE, r.x1 - X0);
  const v0 = Math.max(0, r.y0 - Y0);
  const v1 = Math.min(MASK_TILE, r.y1 - Y0);
  if (u1 <= u0 || v1 <= v0) return null;
  const d = p.downsample;
  const ixOf = new Int32Array(u1 - u0);
  for (let u = u0; u < u1; u++) ixOf[u - u0] = Math.floor((X0 + u - p.x) / d);
  const out = new Uint8Array(MASK_TILE_PIXELS);
  if (base) out.set(base);
  const codes = img.codes;
  let changed = false;
  for (let v = v0; v < v1; v++) {
    const rowImg = Math.floor((Y0 + v - p.y) / d) * img.width;
    const rowOut = v * MASK_TILE + u0;
    for (let k = 0; k < ixOf.length; k++) {
      const code = codes[rowImg + (ixOf[k] as number)] as number;
      if (code === 0) continue;
      const id = lut[code] as number;
      if (out[rowOut + k] !== id) {
        out[rowOut + k] = id;
        changed = true;
      }
    }
  }
  return changed ? out : null;
}
