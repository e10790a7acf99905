/**
 * Tile request lists, as DZI (level, col, row) triples, so every server is
 * asked for exactly the same tiles: a random mix over all levels, and pan
 * traces of a viewer moving across the slide at full resolution.
 */
import { dziLevelSize, dziMaxLevel } from '../../src/core/tile-grid.js';

export type TileRef = [level: number, col: number, row: number];

/** xorshift32: a small seeded generator, so every run asks for the same things. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/** Level uniform over all DZI levels, then a tile uniform within the level. */
export function randomMix(width: number, height: number, tileSize: number, count: number, seed: number): TileRef[] {
  const r = rng(seed);
  const max = dziMaxLevel(width, height);
  const out: TileRef[] = [];
  for (let i = 0; i < count; i++) {
    const level = Math.floor(r() * (max + 1));
    const size = dziLevelSize(width, height, level);
    const cols = Math.ceil(size.width / tileSize);
    const rows = Math.ceil(size.height / tileSize);
    out.push([level, Math.floor(r() * cols), Math.floor(r() * rows)]);
  }
  return out;
}

/**
 * A viewer (1920×1080) panning at full resolution: it starts somewhere,
 * drifts in a slowly turning direction 96 px per frame, and requests each
 * tile when it first comes into view (as a tile cache would).
 */
export function panTrace(width: number, height: number, tileSize: number, frames: number, seed: number): TileRef[] {
  const r = rng(seed);
  const level = dziMaxLevel(width, height);
  const vw = 1920;
  const vh = 1080;
  let x = r() * (width - vw);
  let y = r() * (height - vh);
  let angle = r() * Math.PI * 2;
  const seen = new Set<number>();
  const cols = Math.ceil(width / tileSize);
  const out: TileRef[] = [];
  for (let f = 0; f < frames; f++) {
    angle += (r() - 0.5) * 0.3;
    x += Math.cos(angle) * 96;
    y += Math.sin(angle) * 96;
    if (x < 0 || x > width - vw) {
      angle = Math.PI - angle;
      x = Math.min(Math.max(0, x), width - vw);
    }
    if (y < 0 || y > height - vh) {
      angle = -angle;
      y = Math.min(Math.max(0, y), height - vh);
    }
    for (let row = Math.floor(y / tileSize); row <= Math.floor((y + vh - 1) / tileSize); row++) {
      for (let col = Math.floor(x / tileSize); col <= Math.floor((x + vw - 1) / tileSize); col++) {
        const key = row * cols + col;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push([level, col, row]);
      }
    }
  }
  return out;
}
