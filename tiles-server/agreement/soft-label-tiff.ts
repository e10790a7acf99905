/**
 * Soft labels for training (issue 14) as a pyramidal tiled TIFF: one 8-bit
 * channel per class (chunky samples, MinIsBlack, the channels after the
 * first marked as unspecified extra samples), deflate — the layout tifffile
 * and libvips read as (height, width, channels) arrays and OpenSlide opens
 * as a generic TIFF (it shows channel 0 as grey: docs/agreement.md). The
 * image is the mask tiles under the ROI (origin and channel list in the
 * ImageDescription JSON), so each 512 × 512 level-0 TIFF tile is one mask
 * tile's values. The levels are those of the mask export
 * (masks/tiff-export.ts: halved, rounding up, until a level fits one 512-px
 * tile or the next would be under 16 px), each a top-level IFD marked
 * reduced-resolution after the first; a level side under 512 px gets the
 * largest multiple of 16 that fits (OpenSlide 3.4.1 reads a tile larger
 * than its level wrong). Each reduced pixel is the mean of the 2 × 2 block
 * under it, half to even (vote-reduce.ts).
 *
 * The pyramid is built depth-first from the top cells down, so only the
 * 512 × 512 cells on one path are held; tiles with no value all point at
 * one stored empty block per tile size.
 */
import { deflateSync } from 'node:zlib';
import { MASK_TILE, MASK_TILE_PIXELS } from '../../src/core/mask/mask-grid.js';
import { levelSizes, tileSide } from '../masks/tiff-export.js';
import { addLevelPages, shareEmptyTiles, writeCellTiles, type LevelGeometry } from '../tiff/level-tiles.js';
import { TiffWriter, type PageHandle } from '../tiff/writer.js';
import { halveVotes } from './vote-reduce.js';

export interface SoftLabelSpec {
  width: number;
  height: number;
  /** Channels (classes) per pixel. */
  channels: number;
  mpp: number | null;
  /** ImageDescription of level 0 (ASCII JSON). */
  description: string;
  /** The values of mask tile (i, j) of the image (512 × 512 × channels, chunky), or null when all are 0. */
  cell(i: number, j: number): Promise<Uint8Array | null>;
  signal?: AbortSignal;
}

export async function writeSoftLabelTiff(path: string, spec: SoftLabelSpec): Promise<{ bytes: number; bigTiff: boolean; levels: Array<{ width: number; height: number }> }> {
  const K = spec.channels;
  const levels = levelSizes(spec.width, spec.height);
  const tiles = levels.map((l) => ({ w: tileSide(l.width), h: tileSide(l.height) }));
  const top = levels.length - 1;
  // BigTIFF when the worst case (every tile of every level stored uncompressed) could pass 4 GiB
  let bound = 1 << 20;
  for (const l of levels) bound += Math.ceil(l.width / MASK_TILE) * Math.ceil(l.height / MASK_TILE) * (MASK_TILE_PIXELS * K + 1024);
  const bigTiff = bound > 0xf000_0000;
  const writer = await TiffWriter.create(path, { bigTiff });
  try {
    const geometry = levels.map((l, k) => ({ ...l, ...(tiles[k] as { w: number; h: number }) }));
    const pages = addLevelPages(writer, geometry, { samples: K, description: spec.description, software: 'WSI Annotate soft-label export', mpp: spec.mpp });
    const encode = (raw: Uint8Array): Uint8Array => deflateSync(raw, { level: 6 });
    const writeCell = (k: number, i: number, j: number, px: Uint8Array): Promise<void> => writeCellTiles(writer, pages[k] as PageHandle, geometry[k] as LevelGeometry, i, j, px, K, encode);

    /** Cell (i, j) of level k, written; returned when a level above needs it (null: all 0 or outside). */
    const build = async (k: number, i: number, j: number): Promise<Uint8Array | null> => {
      spec.signal?.throwIfAborted();
      const lv = levels[k] as { width: number; height: number };
      if (i * MASK_TILE >= lv.width || j * MASK_TILE >= lv.height) return null;
      let px: Uint8Array | null;
      if (k === 0) px = await spec.cell(i, j);
      else {
        const kids: Array<Uint8Array | null> = [];
        for (const [di, dj] of [[0, 0], [1, 0], [0, 1], [1, 1]] as const) kids.push(await build(k - 1, 2 * i + di, 2 * j + dj));
        if (kids.every((kid) => kid === null)) return null;
        // the 1024 × 1024 block of level k-1 under this cell, and how much of it lies inside that level
        const below = levels[k - 1] as { width: number; height: number };
        const W2 = 2 * MASK_TILE;
        const block = new Uint8Array(W2 * W2 * K);
        kids.forEach((kid, q) => {
          if (!kid) return;
          const ox = (q & 1) * MASK_TILE;
          const oy = (q >> 1) * MASK_TILE;
          for (let y = 0; y < MASK_TILE; y++) block.set(kid.subarray(y * MASK_TILE * K, (y + 1) * MASK_TILE * K), ((oy + y) * W2 + ox) * K);
        });
        px = new Uint8Array(MASK_TILE_PIXELS * K);
        halveVotes(block, W2, Math.min(W2, below.width - 2 * i * MASK_TILE), Math.min(W2, below.height - 2 * j * MASK_TILE), K, px, MASK_TILE);
      }
      if (!px) return null;
      await writeCell(k, i, j, px);
      return k < top ? px : null;
    };
    const topLevel = levels[top] as { width: number; height: number };
    for (let j = 0; j * MASK_TILE < topLevel.height; j++) for (let i = 0; i * MASK_TILE < topLevel.width; i++) await build(top, i, j);

    await shareEmptyTiles(writer, pages, geometry, K);
    await writer.finish();
    return { bytes: writer.size, bigTiff, levels };
  } catch (err) {
    await writer.abort();
    throw err;
  }
}
