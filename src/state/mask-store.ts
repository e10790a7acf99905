/**
 * The painted mask of the open slide (this annotator's), on the client: a
 * sparse map of level-0 tiles in their resident form, each with the server
 * version it builds on (0 = not on the server yet). Every edit goes through
 * `apply` and comes out as a change tagged with its origin, like the
 * annotation store: undo, sync, the pyramid and the display observe it.
 */
import { MASK_TILE_PIXELS, parseTileKey } from '../core/mask/mask-grid.js';
import { EMPTY_TILE, tileBytes, tileCounts, type EncodedTile } from '../core/mask/rle.js';
import type { Origin } from './annotation-store.js';

export interface MaskTileChange {
  key: string;
  before: EncodedTile;
  after: EncodedTile;
  /** Server version `before` was based on. */
  baseVersion: number;
}

export interface MaskChange {
  origin: Origin;
  label: string;
  tiles: MaskTileChange[];
}

export interface MaskTileWrite {
  key: string;
  tile: EncodedTile;
  /** Set the server version too (loads and remote updates). */
  version?: number;
}

interface Entry {
  tile: EncodedTile;
  version: number;
}

export class MaskStore {
  private readonly tiles = new Map<string, Entry>();
  private readonly observers = new Set<(c: MaskChange) => void>();

  observe(fn: (c: MaskChange) => void): () => void {
    this.observers.add(fn);
    return () => this.observers.delete(fn);
  }

  get size(): number {
    return this.tiles.size;
  }

  has(key: string): boolean {
    return this.tiles.has(key);
  }

  /** The tile's content (empty when it was never painted). */
  get(key: string): EncodedTile {
    return this.tiles.get(key)?.tile ?? EMPTY_TILE;
  }

  versionOf(key: string): number {
    return this.tiles.get(key)?.version ?? 0;
  }

  /** Records the server's version after a save (nothing visible changes). */
  setVersion(key: string, version: number): void {
    const e = this.tiles.get(key);
    if (e && e.version < version) e.version = version;
  }

  keys(): IterableIterator<string> {
    return this.tiles.keys();
  }

  /**
   * Writes tiles and tells the observers. Every write is in the change, even
   * one that leaves a tile as it was: edits come from the mask worker, which
   * returns only the tiles whose content changed, so this store does not
   * compare them again.
   */
  apply(writes: MaskTileWrite[], origin: Origin, label: string): MaskChange {
    const change: MaskChange = { origin, label, tiles: [] };
    for (const w of writes) {
      const prev = this.tiles.get(w.key);
      const before = prev?.tile ?? EMPTY_TILE;
      const baseVersion = prev?.version ?? 0;
      this.tiles.set(w.key, { tile: w.tile, version: w.version ?? baseVersion });
      change.tiles.push({ key: w.key, before, after: w.tile, baseVersion });
    }
    if (change.tiles.length) for (const fn of this.observers) fn(change);
    return change;
  }

  /** Bytes the tiles hold in memory (typed arrays plus a per-tile allowance for the map entry). */
  residentBytes(): number {
    let n = 0;
    for (const e of this.tiles.values()) n += tileBytes(e.tile) + 96;
    return n;
  }

  /** Pixels per class id over all tiles (index = id; 0 = unlabelled within painted tiles). */
  counts(): Float64Array {
    const c = new Float64Array(256);
    for (const e of this.tiles.values()) tileCounts(e.tile, c);
    return c;
  }

  /** Labelled (non-zero) pixels. */
  paintedPixels(): number {
    const c = this.counts();
    return this.tiles.size * MASK_TILE_PIXELS - (c[0] as number);
  }

  /** Tile coordinates of every stored tile. */
  *coordinates(): Generator<[number, number]> {
    for (const k of this.tiles.keys()) yield parseTileKey(k);
  }
}
