/**
 * A mask as a pyramidal tiled TIFF, the generic-TIFF layout OpenSlide,
 * libvips and geotiff.js read: level 0 at the slide's full size, then each
 * level halved (src/core/mask/downsample.ts) until it fits in one tile,
 * each a top-level IFD (NewSubfileType = reduced image after the first),
 * 512 × 512 tiles, one 8-bit sample (MinIsBlack), deflate (compression 8).
 *
 * Nothing of a level is held whole: the pyramid is built depth-first from
 * the top tile down, so at any time only the tiles on one path (four
 * children per level) are in memory. Stored level-0 tiles are copied as
 * they are (they already are zlib streams of 512 × 512 bytes), and every
 * tile that is entirely 0 points at one shared stored block, so a mostly
 * empty 50k × 50k mask is a small file.
 */
import { deflateSync } from 'node:zlib';
import { downsample2 } from '../../src/core/mask/downsample.js';
import { MASK_TILE, MASK_TILE_PIXELS } from '../../src/core/mask/mask-grid.js';
import { TiffWriter, type PageHandle } from '../tiff/writer.js';
import { deflateTile, inflateTile } from './tile-codec.js';

export interface ExportTile {
  tx: number;
  ty: number;
  /** Where the tile's data is (read only when needed). */
  seq: number;
  /** Size of the stored (compressed) data. */
  bytes: number;
  /** True when every pixel is 0 (its counts are empty). */
  empty: boolean;
}

export interface ExportSpec {
  width: number;
  height: number;
  /** Microns per level-0 pixel, or null. */
  mpp: number | null;
  /** ImageDescription of level 0 (ASCII; OpenSlide shows it as openslide.comment). */
  description: string;
  tiles: ExportTile[];
  readTile(seq: number): Uint8Array;
  signal?: AbortSignal;
}

export interface ExportResult {
  levels: Array<{ width: number; height: number }>;
  bigTiff: boolean;
  bytes: number;
}

/** Level sizes: halved (rounding up) until a level fits in one tile. */
export function levelSizes(width: number, height: number): Array<{ width: number; height: number }> {
  const out = [{ width, height }];
  let w = width;
  let h = height;
  while (w > MASK_TILE || h > MASK_TILE) {
    w = Math.ceil(w / 2);
    h = Math.ceil(h / 2);
    out.push({ width: w, height: h });
  }
  return out;
}

/** Keeps a description ASCII (non-ASCII characters of JSON strings as \u escapes). */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Zeroes the pixels of an edge tile that lie past the level's edge (returns whether any were set). */
function clearPastEdge(px: Uint8Array, validW: number, validH: number): boolean {
  let changed = false;
  for (let y = 0; y < MASK_TILE; y++) {
    for (let x = y < validH ? validW : 0; x < MASK_TILE; x++) {
      if (px[y * MASK_TILE + x] !== 0) {
        px[y * MASK_TILE + x] = 0;
        changed = true;
      }
    }
  }
  return changed;
}

export async function writeMaskTiff(path: string, spec: ExportSpec): Promise<ExportResult> {
  const levels = levelSizes(spec.width, spec.height);
  const top = levels.length - 1;
  const cols0 = Math.ceil(spec.width / MASK_TILE);
  const rows0 = Math.ceil(spec.height / MASK_TILE);
  const level0 = new Map<string, ExportTile>();
  for (const t of spec.tiles) if (!t.empty && t.tx >= 0 && t.ty >= 0 && t.tx < cols0 && t.ty < rows0) level0.set(`${t.tx},${t.ty}`, t);
  // which tiles of each level have a labelled pixel under them
  const occupied: Array<Set<string>> = levels.map((_, k) => new Set([...level0.values()].map((t) => `${t.tx >> k},${t.ty >> k}`)));

  // BigTIFF only when the file could pass 4 GiB: stored level-0 bytes plus a
  // worst case for every other non-empty tile, plus the tile tables
  let bound = 1 << 20;
  for (const t of level0.values()) bound += t.bytes;
  for (let k = 1; k <= top; k++) bound += (occupied[k] as Set<string>).size * (MASK_TILE_PIXELS + 1024);
  for (const l of levels) bound += Math.ceil(l.width / MASK_TILE) * Math.ceil(l.height / MASK_TILE) * 16;
  const bigTiff = bound > 0xf000_0000;

  const writer = await TiffWriter.create(path, { bigTiff });
  try {
    const resolution = spec.mpp && spec.mpp > 0 ? 10_000 / spec.mpp : undefined;
    const pages: PageHandle[] = levels.map((l, k) =>
      writer.addPage({
        width: l.width,
        height: l.height,
        tileWidth: MASK_TILE,
        tileHeight: MASK_TILE,
        samplesPerPixel: 1,
        bitsPerSample: 8,
        photometric: 1,
        compression: 8,
        // OpenSlide takes directories after the first as levels only when marked reduced-resolution
        ...(k > 0 ? { newSubfileType: 1 } : {}),
        ...(k === 0 ? { description: spec.description } : {}),
        software: 'WSI Annotate mask export',
        // the writer stores rationals in 1/10000 units: keep within 32 bits
        ...(resolution !== undefined && (resolution / 2 ** k) * 10_000 < 0xffff_ffff ? { resolutionPerCm: resolution / 2 ** k } : {}),
      }),
    );

    const build = async (k: number, i: number, j: number): Promise<Uint8Array | null> => {
      spec.signal?.throwIfAborted();
      const lv = levels[k] as { width: number; height: number };
      const page = pages[k] as PageHandle;
      if (i * MASK_TILE >= lv.width || j * MASK_TILE >= lv.height) return null;
      if (!(occupied[k] as Set<string>).has(`${i},${j}`)) return null; // filled with the shared empty block at the end
      const index = j * page.blocksAcross + i;
      const validW = Math.min(MASK_TILE, lv.width - i * MASK_TILE);
      const validH = Math.min(MASK_TILE, lv.height - j * MASK_TILE);
      if (k === 0) {
        const stored = spec.readTile((level0.get(`${i},${j}`) as ExportTile).seq);
        const needPixels = top > 0 || validW < MASK_TILE || validH < MASK_TILE;
        if (!needPixels) {
          await writer.writeBlock(page, index, stored);
          return null;
        }
        const px = await inflateTile(stored);
        // an edge tile keeps nothing past the slide (a slide file replaced by a smaller one)
        const cut = (validW < MASK_TILE || validH < MASK_TILE) && clearPastEdge(px, validW, validH);
        await writer.writeBlock(page, index, cut ? await deflateTile(px) : stored);
        return px;
      }
      const kids: Array<Uint8Array | null> = [];
      for (const [di, dj] of [[0, 0], [1, 0], [0, 1], [1, 1]] as const) kids.push(await build(k - 1, 2 * i + di, 2 * j + dj));
      const block = new Uint8Array(4 * MASK_TILE_PIXELS);
      const W2 = 2 * MASK_TILE;
      kids.forEach((kid, q) => {
        if (!kid) return;
        const ox = (q & 1) * MASK_TILE;
        const oy = (q >> 1) * MASK_TILE;
        for (let y = 0; y < MASK_TILE; y++) block.set(kid.subarray(y * MASK_TILE, (y + 1) * MASK_TILE), (oy + y) * W2 + ox);
      });
      const px = downsample2(block, W2, W2);
      await writer.writeBlock(page, index, await deflateTile(px));
      return k < top ? px : null;
    };
    await build(top, 0, 0);

    // every tile not written is entirely 0: all point at one stored block
    let empty: { offset: number; count: number } | null = null;
    for (const page of pages) {
      for (let b = 0; b < page.offsets.length; b++) {
        if (page.counts[b] !== 0) continue;
        if (!empty) {
          await writer.writeBlock(page, b, deflateSync(new Uint8Array(MASK_TILE_PIXELS), { level: 9 }));
          empty = { offset: page.offsets[b] as number, count: page.counts[b] as number };
        } else writer.setBlock(page, b, empty.offset, empty.count);
      }
    }
    await writer.finish();
    return { levels, bigTiff, bytes: writer.size };
  } catch (err) {
    await writer.abort();
    throw err;
  }
}
