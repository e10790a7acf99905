/**
 * Soft labels for training (issue 14) as a tiled TIFF: per pixel, how many
 * readers gave each class — one 8-bit channel per class (chunky samples,
 * MinIsBlack, the channels after the first marked as unspecified extra
 * samples), deflate, the layout tifffile and libvips read as a (height,
 * width, channels) array. The image is the mask tiles under the ROI
 * (origin and channel list in the ImageDescription JSON), so each 512 × 512
 * TIFF tile is one mask tile's votes; a side shorter than 512 px gets the
 * largest multiple of 16 that fits (the rule of masks/tiff-export.ts), its
 * tiles cut from the one mask tile there. Tiles with no vote all point at
 * one stored empty block. One level (no reduced levels yet).
 */
import { deflateSync } from 'node:zlib';
import { MASK_TILE, MASK_TILE_PIXELS } from '../../src/core/mask/mask-grid.js';
import { cutTile, tileSide } from '../masks/tiff-export.js';
import { TiffWriter } from '../tiff/writer.js';

export interface SoftLabelSpec {
  width: number;
  height: number;
  /** Channels (classes) per pixel. */
  channels: number;
  mpp: number | null;
  /** ImageDescription (ASCII JSON). */
  description: string;
  /** The votes of mask tile (i, j) of the image (512 × 512 × channels, chunky), or null when it has none. */
  cell(i: number, j: number): Promise<Uint8Array | null>;
  signal?: AbortSignal;
}

export async function writeSoftLabelTiff(path: string, spec: SoftLabelSpec): Promise<{ bytes: number; bigTiff: boolean }> {
  const K = spec.channels;
  const tw = tileSide(spec.width);
  const th = tileSide(spec.height);
  const across = Math.ceil(spec.width / MASK_TILE);
  const down = Math.ceil(spec.height / MASK_TILE);
  // BigTIFF when the worst case (every tile stored uncompressed) could pass 4 GiB
  const bigTiff = across * down * (MASK_TILE_PIXELS * K + 1024) + (1 << 20) > 0xf000_0000;
  const writer = await TiffWriter.create(path, { bigTiff });
  try {
    const resolution = spec.mpp && spec.mpp > 0 ? 10_000 / spec.mpp : undefined;
    const page = writer.addPage({
      width: spec.width,
      height: spec.height,
      tileWidth: tw,
      tileHeight: th,
      samplesPerPixel: K,
      bitsPerSample: 8,
      photometric: 1,
      compression: 8,
      planar: 1,
      ...(K > 1 ? { extraSamples: new Array<number>(K - 1).fill(0) } : {}),
      description: spec.description,
      software: 'WSI Annotate soft-label export',
      ...(resolution !== undefined && resolution * 10_000 < 0xffff_ffff ? { resolutionPerCm: resolution } : {}),
    });
    for (let j = 0; j < down; j++) {
      for (let i = 0; i < across; i++) {
        spec.signal?.throwIfAborted();
        const votes = await spec.cell(i, j);
        if (!votes) continue;
        if (tw === MASK_TILE && th === MASK_TILE) {
          await writer.writeBlock(page, j * page.blocksAcross + i, deflateSync(votes, { level: 6 }));
          continue;
        }
        // a side shorter than a mask tile: that direction has one cell, and its TIFF tiles all start in it
        const cols = tw === MASK_TILE ? [i] : Array.from({ length: Math.ceil(spec.width / tw) }, (_, a) => a);
        const rows = th === MASK_TILE ? [j] : Array.from({ length: Math.ceil(spec.height / th) }, (_, b) => b);
        for (const b of rows) {
          for (const a of cols) {
            const part = cutTile(votes, a * tw - i * MASK_TILE, b * th - j * MASK_TILE, tw, th, K);
            if (part) await writer.writeBlock(page, b * page.blocksAcross + a, deflateSync(part, { level: 6 }));
          }
        }
      }
    }
    let shared: { offset: number; count: number } | null = null;
    for (let b = 0; b < page.offsets.length; b++) {
      if (page.counts[b] !== 0) continue;
      if (!shared) {
        await writer.writeBlock(page, b, deflateSync(new Uint8Array(tw * th * K), { level: 9 }));
        shared = { offset: page.offsets[b] as number, count: page.counts[b] as number };
      } else writer.setBlock(page, b, shared.offset, shared.count);
    }
    await writer.finish();
    return { bytes: writer.size, bigTiff };
  } catch (err) {
    await writer.abort();
    throw err;
  }
}
