/**
 * Writing a pyramid level's tiles cell by cell, shared by the pyramidal
 * TIFF exports (masks/tiff-export.ts, agreement/soft-label-tiff.ts): a
 * level is made of 512 × 512 cells; a level side under 512 px has smaller
 * tiles (masks/tiff-export.ts tileSide), which all start in its one cell
 * in that direction; tiles left unwritten are all 0 and point at one stored
 * empty block per tile size.
 */
import { deflateSync } from 'node:zlib';
import { MASK_TILE } from '../../src/core/mask/mask-grid.js';
import type { PageHandle, TiffWriter } from './writer.js';

export interface LevelPagesSpec {
  /** Samples (channels) per pixel, chunky; those after the first are unspecified extra samples. */
  samples: number;
  /** ImageDescription of level 0. */
  description: string;
  software: string;
  /** Level 0's µm per pixel, written as its resolution (halved per level); null: none. */
  mpp: number | null;
}

export interface LevelGeometry {
  width: number;
  height: number;
  /** The level's tile size. */
  w: number;
  h: number;
}

/**
 * One top-level IFD per level: 8-bit MinIsBlack deflate tiles, the levels
 * after the first marked reduced-resolution (OpenSlide takes them as levels
 * only then), the description on level 0.
 */
export function addLevelPages(writer: TiffWriter, levels: readonly LevelGeometry[], spec: LevelPagesSpec): PageHandle[] {
  const K = spec.samples;
  const resolution = spec.mpp && spec.mpp > 0 ? 10_000 / spec.mpp : undefined;
  return levels.map((l, k) =>
    writer.addPage({
      width: l.width,
      height: l.height,
      tileWidth: l.w,
      tileHeight: l.h,
      samplesPerPixel: K,
      bitsPerSample: 8,
      photometric: 1,
      compression: 8,
      planar: 1,
      ...(k > 0 ? { newSubfileType: 1 } : {}),
      ...(K > 1 ? { extraSamples: new Array<number>(K - 1).fill(0) } : {}),
      ...(k === 0 ? { description: spec.description } : {}),
      software: spec.software,
      // the writer stores rationals in 1/10000 units: keep within 32 bits
      ...(resolution !== undefined && (resolution / 2 ** k) * 10_000 < 0xffff_ffff ? { resolutionPerCm: resolution / 2 ** k } : {}),
    }),
  );
}

/** Copies the `w` × `h` tile at (x, y) of a 512 × 512 cell of `k` samples per pixel (0 past the cell); null when it is all 0. */
export function cutTile(cell: Uint8Array, x: number, y: number, w: number, h: number, k = 1): Uint8Array | null {
  const out = new Uint8Array(w * h * k);
  let any = false;
  for (let r = 0; r < h && y + r < MASK_TILE; r++) {
    const row = cell.subarray(((y + r) * MASK_TILE + x) * k, ((y + r) * MASK_TILE + Math.min(MASK_TILE, x + w)) * k);
    out.set(row, r * w * k);
    if (!any && row.some((v) => v !== 0)) any = true;
  }
  return any ? out : null;
}

/** Writes cell (i, j) of a level (512 × 512 × `k` samples, chunky) as the level's tiles inside it, each through `encode`. */
export async function writeCellTiles(writer: TiffWriter, page: PageHandle, lv: LevelGeometry, i: number, j: number, px: Uint8Array, k: number, encode: (raw: Uint8Array) => Uint8Array | Promise<Uint8Array>): Promise<void> {
  const { w, h } = lv;
  if (w === MASK_TILE && h === MASK_TILE) {
    await writer.writeBlock(page, j * page.blocksAcross + i, await encode(px));
    return;
  }
  // a level narrower (or shorter) than 512 px has one cell across (or down): its tiles all start in it
  const across = w === MASK_TILE ? [i] : Array.from({ length: Math.ceil(lv.width / w) }, (_, a) => a);
  const down = h === MASK_TILE ? [j] : Array.from({ length: Math.ceil(lv.height / h) }, (_, b) => b);
  for (const b of down) {
    for (const a of across) {
      const part = cutTile(px, a * w - i * MASK_TILE, b * h - j * MASK_TILE, w, h, k);
      if (part) await writer.writeBlock(page, b * page.blocksAcross + a, await encode(part));
    }
  }
}

/** Points every tile not written (all 0) at one stored empty block per tile size. */
export async function shareEmptyTiles(writer: TiffWriter, pages: readonly PageHandle[], levels: readonly LevelGeometry[], k: number): Promise<void> {
  const empty = new Map<number, { offset: number; count: number }>();
  for (const [n, page] of pages.entries()) {
    const { w, h } = levels[n] as LevelGeometry;
    for (let b = 0; b < page.offsets.length; b++) {
      if (page.counts[b] !== 0) continue;
      const shared = empty.get(w * h);
      if (!shared) {
        await writer.writeBlock(page, b, deflateSync(new Uint8Array(w * h * k), { level: 9 }));
        empty.set(w * h, { offset: page.offsets[b] as number, count: page.counts[b] as number });
      } else writer.setBlock(page, b, shared.offset, shared.count);
    }
  }
}
