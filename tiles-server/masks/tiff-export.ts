/**
 * A mask as a pyramidal tiled TIFF, the generic-TIFF layout OpenSlide,
 * libvips and geotiff.js read: level 0 at the slide's full size, then each
 * level halved (src/core/mask/downsample.ts) until it fits in one 512-px
 * tile, each a top-level IFD (NewSubfileType = reduced image after the
 * first), one 8-bit sample (MinIsBlack), deflate (compression 8).
 *
 * Tiles are 512 × 512, except that no tile is wider or taller than its
 * level: a level narrower or shorter than 512 px gets the largest multiple
 * of 16 that fits it in that direction (a 375 × 250 level: 368 × 240 tiles).
 * Since libtiff 4.5.0-6+deb12u4 (Debian's security update),
 * TIFFReadRGBATile returns garbage for a tile wider *or* taller than its
 * image, and OpenSlide 3.4.1 reads non-JPEG tiles through it; measured, a
 * level smaller than its tile in either direction reads wrong, a level of
 * several tiles with partial edge tiles reads right. For the same reason the
 * pyramid stops before a level would be under 16 px (the smallest TIFF tile)
 * in either direction.
 *
 * Nothing of a level is held whole: the pyramid is built depth-first from
 * its top tiles down, so at any time only the 512 × 512 cells on one path
 * (four children per level) are in memory. Stored level-0 tiles are copied
 * as they are (they already are zlib streams of 512 × 512 bytes) when the
 * level's tiles are 512 × 512, and every tile that is entirely 0 points at
 * one shared stored block (one per tile size), so a mostly empty
 * 50k × 50k mask is a small file.
 */
import { downsample2 } from '../../src/core/mask/downsample.js';
import { MASK_TILE, MASK_TILE_PIXELS } from '../../src/core/mask/mask-grid.js';
import { addLevelPages, shareEmptyTiles, writeCellTiles, type LevelGeometry } from '../tiff/level-tiles.js';
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

/** The smallest tile side TIFF allows (tile sides are multiples of 16). */
const MIN_TILE = 16;

/**
 * Level sizes: halved (rounding up) until a level fits in one 512-px tile,
 * or until the next level would be under 16 px in either direction.
 */
export function levelSizes(width: number, height: number): Array<{ width: number; height: number }> {
  const out = [{ width, height }];
  let w = width;
  let h = height;
  while (w > MASK_TILE || h > MASK_TILE) {
    const nw = Math.ceil(w / 2);
    const nh = Math.ceil(h / 2);
    if (nw < MIN_TILE || nh < MIN_TILE) break;
    w = nw;
    h = nh;
    out.push({ width: w, height: h });
  }
  return out;
}

/** Tile side for a level extent: 512, or the largest multiple of 16 not past a smaller level (16 at least). */
export function tileSide(extent: number): number {
  return extent >= MASK_TILE ? MASK_TILE : Math.max(MIN_TILE, extent - (extent % MIN_TILE));
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
  const tiles = levels.map((l) => ({ w: tileSide(l.width), h: tileSide(l.height) }));
  const top = levels.length - 1;
  const cols0 = Math.ceil(spec.width / MASK_TILE);
  const rows0 = Math.ceil(spec.height / MASK_TILE);
  const level0 = new Map<string, ExportTile>();
  for (const t of spec.tiles) if (!t.empty && t.tx >= 0 && t.ty >= 0 && t.tx < cols0 && t.ty < rows0) level0.set(`${t.tx},${t.ty}`, t);
  // which 512 × 512 cells of each level have a labelled pixel under them
  const occupied: Array<Set<string>> = levels.map((_, k) => new Set([...level0.values()].map((t) => `${t.tx >> k},${t.ty >> k}`)));

  // BigTIFF only when the file could pass 4 GiB: stored level-0 bytes plus a
  // worst case for every other non-empty cell, plus the tile tables
  let bound = 1 << 20;
  for (const t of level0.values()) bound += t.bytes;
  for (let k = 1; k <= top; k++) bound += (occupied[k] as Set<string>).size * (MASK_TILE_PIXELS + 1024);
  for (const [k, l] of levels.entries()) bound += Math.ceil(l.width / (tiles[k] as { w: number }).w) * Math.ceil(l.height / (tiles[k] as { h: number }).h) * 16;
  const bigTiff = bound > 0xf000_0000;

  const writer = await TiffWriter.create(path, { bigTiff });
  try {
    const geometry = levels.map((l, k) => ({ ...l, ...(tiles[k] as { w: number; h: number }) }));
    const pages = addLevelPages(writer, geometry, { samples: 1, description: spec.description, software: 'WSI Annotate mask export', mpp: spec.mpp });
    const whole = (k: number): boolean => (tiles[k] as { w: number }).w === MASK_TILE && (tiles[k] as { h: number }).h === MASK_TILE;

    /** Writes cell (i, j) of level k as the level's tiles inside it (one, unless the level is smaller than a cell). */
    const writeCell = (k: number, i: number, j: number, px: Uint8Array): Promise<void> => writeCellTiles(writer, pages[k] as PageHandle, geometry[k] as LevelGeometry, i, j, px, 1, deflateTile);

    const build = async (k: number, i: number, j: number): Promise<Uint8Array | null> => {
      spec.signal?.throwIfAborted();
      const lv = levels[k] as { width: number; height: number };
      const page = pages[k] as PageHandle;
      if (i * MASK_TILE >= lv.width || j * MASK_TILE >= lv.height) return null;
      if (!(occupied[k] as Set<string>).has(`${i},${j}`)) return null; // filled with the shared empty block at the end
      const validW = Math.min(MASK_TILE, lv.width - i * MASK_TILE);
      const validH = Math.min(MASK_TILE, lv.height - j * MASK_TILE);
      if (k === 0) {
        const stored = spec.readTile((level0.get(`${i},${j}`) as ExportTile).seq);
        const edge = validW < MASK_TILE || validH < MASK_TILE;
        if (top === 0 && !edge && whole(0)) {
          await writer.writeBlock(page, j * page.blocksAcross + i, stored);
          return null;
        }
        const px = await inflateTile(stored);
        // an edge tile keeps nothing past the slide (a slide file replaced by a smaller one)
        const cut = edge && clearPastEdge(px, validW, validH);
        if (whole(0) && !cut) await writer.writeBlock(page, j * page.blocksAcross + i, stored);
        else await writeCell(0, i, j, px);
        return top > 0 ? px : null;
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
      await writeCell(k, i, j, px);
      return k < top ? px : null;
    };
    // the top level fits in one cell, unless the pyramid stopped early (a level would be under 16 px)
    const topLevel = levels[top] as { width: number; height: number };
    for (let j = 0; j * MASK_TILE < topLevel.height; j++) for (let i = 0; i * MASK_TILE < topLevel.width; i++) await build(top, i, j);

    // every tile not written is entirely 0: all of one size point at one stored block
    await shareEmptyTiles(writer, pages, geometry, 1);
    await writer.finish();
    return { levels, bigTiff, bytes: writer.size };
  } catch (err) {
    await writer.abort();
    throw err;
  }
}
