/**
 * The disagreement map of a slide for a set of readers: per 64 × 64 block
 * of level-0 pixels, the mean over the pixels some reader painted of the
 * share of readers who disagree with the pixel's most frequent label
 * (unlabelled counting as a label), built once from the counting workers'
 * block sums and kept as a pyramid (each level sums 2 × 2 blocks of the one
 * below, weighted by painted pixels), so a map tile at any magnification is
 * cut from one small array. Tiles are PNGs of MAP_TILE × MAP_TILE blocks;
 * level 0 has one pixel per block (a viewer magnifies it, unsmoothed, up
 * to 40×), each level above halves it.
 *
 * Colour: transparent where nobody painted or everyone agrees; otherwise
 * yellow to red with opacity rising with the share, scaled by the most a
 * share can be (1 − 1/readers), so full disagreement is opaque red.
 */
import sharp from 'sharp';
import { WsiError } from '../../src/core/errors.js';
import { BLOCKS_PER_TILE, MAP_BLOCK, type MapTiles } from './count-job.js';

/** Blocks per side of a map tile. */
export const MAP_TILE = 256;

interface Level {
  cols: number;
  rows: number;
  sum: Float32Array;
  painted: Float32Array;
}

/** Encoded tiles kept per map. */
const PNG_CACHE = 512;

export class DisagreementMap {
  readonly levels: Level[] = [];
  private readonly pngs = new Map<string, Promise<Buffer>>();
  /** Blocks with something painted. */
  readonly paintedBlocks: number;
  /** How long the build took (wall and the process's CPU, all threads), when known. */
  buildMs: number | null = null;
  buildCpuMs: number | null = null;

  constructor(
    readonly slideWidth: number,
    readonly slideHeight: number,
    readonly readers: number,
    parts: readonly MapTiles[],
  ) {
    const cols = Math.ceil(slideWidth / MAP_BLOCK);
    const rows = Math.ceil(slideHeight / MAP_BLOCK);
    const base: Level = { cols, rows, sum: new Float32Array(cols * rows), painted: new Float32Array(cols * rows) };
    const B = BLOCKS_PER_TILE;
    for (const p of parts) {
      for (let i = 0; i < p.tx.length; i++) {
        const tx = p.tx[i] as number;
        const ty = p.ty[i] as number;
        for (let by = 0; by < B; by++) {
          const r = ty * B + by;
          if (r >= rows) break;
          for (let bx = 0; bx < B; bx++) {
            const c = tx * B + bx;
            if (c >= cols) break;
            const k = i * B * B + by * B + bx;
            base.sum[r * cols + c] = p.sum[k] as number;
            base.painted[r * cols + c] = p.painted[k] as number;
          }
        }
      }
    }
    let painted = 0;
    for (let i = 0; i < base.painted.length; i++) if ((base.painted[i] as number) > 0) painted++;
    this.paintedBlocks = painted;
    this.levels.push(base);
    let below = base;
    while (below.cols > MAP_TILE || below.rows > MAP_TILE) {
      const c2 = Math.ceil(below.cols / 2);
      const r2 = Math.ceil(below.rows / 2);
      const up: Level = { cols: c2, rows: r2, sum: new Float32Array(c2 * r2), painted: new Float32Array(c2 * r2) };
      for (let r = 0; r < below.rows; r++) {
        for (let c = 0; c < below.cols; c++) {
          const k = (r >> 1) * c2 + (c >> 1);
          up.sum[k] = (up.sum[k] as number) + (below.sum[r * below.cols + c] as number);
          up.painted[k] = (up.painted[k] as number) + (below.painted[r * below.cols + c] as number);
        }
      }
      this.levels.push(up);
      below = up;
    }
  }

  /** The mean share of disagreeing readers in block (c, r) of `level`, or null where nothing is painted. */
  value(level: number, c: number, r: number): number | null {
    const l = this.levels[level];
    if (!l || c < 0 || r < 0 || c >= l.cols || r >= l.rows) return null;
    const n = l.painted[r * l.cols + c] as number;
    return n > 0 ? (l.sum[r * l.cols + c] as number) / n : null;
  }

  /** What a viewer needs to lay the map over the slide. */
  describe(): Record<string, unknown> {
    return {
      block: MAP_BLOCK,
      tileSize: MAP_TILE,
      width: this.levels[0]?.cols ?? 0,
      height: this.levels[0]?.rows ?? 0,
      levels: this.levels.length,
      paintedBlocks: this.paintedBlocks,
      buildMs: this.buildMs,
      buildCpuMs: this.buildCpuMs,
      maxShare: 1 - 1 / this.readers,
      levelRule: 'level 0: one pixel per 64 × 64 level-0 block; each level above halves it (painted-pixel-weighted means)',
    };
  }

  /** Tile (col, row) of `level` as RGBA. */
  rgba(level: number, col: number, row: number): { data: Buffer; width: number; height: number } {
    const l = this.levels[level];
    if (!l) throw new WsiError('TILE_OUT_OF_RANGE', `the map has levels 0 to ${this.levels.length - 1}`);
    const x0 = col * MAP_TILE;
    const y0 = row * MAP_TILE;
    if (x0 >= l.cols || y0 >= l.rows) throw new WsiError('TILE_OUT_OF_RANGE', `level ${level} of the map has ${Math.ceil(l.cols / MAP_TILE)} × ${Math.ceil(l.rows / MAP_TILE)} tiles`);
    const width = Math.min(MAP_TILE, l.cols - x0);
    const height = Math.min(MAP_TILE, l.rows - y0);
    const data = Buffer.alloc(width * height * 4);
    const top = 1 - 1 / this.readers;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const k = (y0 + y) * l.cols + x0 + x;
        const n = l.painted[k] as number;
        if (!(n > 0)) continue;
        const v = Math.min(1, (l.sum[k] as number) / n / top);
        if (!(v > 0)) continue;
        const o = (y * width + x) * 4;
        data[o] = 255 - Math.round(35 * v);
        data[o + 1] = Math.round(220 * (1 - v));
        data[o + 2] = 0;
        data[o + 3] = Math.round(60 + 195 * v);
      }
    }
    return { data, width, height };
  }

  /** A tile as PNG; the map never changes, so each tile is encoded once (the last PNG_CACHE kept). */
  png(level: number, col: number, row: number): Promise<Buffer> {
    const key = `${level}/${col}/${row}`;
    let p = this.pngs.get(key);
    if (p) {
      // most recently used last
      this.pngs.delete(key);
      this.pngs.set(key, p);
      return p;
    }
    const t = this.rgba(level, col, row);
    p = sharp(t.data, { raw: { width: t.width, height: t.height, channels: 4 } }).png({ compressionLevel: 3 }).toBuffer();
    this.pngs.set(key, p);
    p.catch(() => this.pngs.delete(key));
    if (this.pngs.size > PNG_CACHE) this.pngs.delete(this.pngs.keys().next().value as string);
    return p;
  }
}
