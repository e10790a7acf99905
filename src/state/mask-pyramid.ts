/**
 * The mask pyramid above the level-0 tiles, for display at every zoom:
 * level k tile (tx, ty) covers 2^k × 2^k level-0 tiles and is the reduction
 * (src/core/mask/downsample.ts) of its four level k−1 children. Tiles are
 * computed on demand (in the mask worker), cached in their resident form,
 * and dropped up the whole ancestry when a level-0 tile below changes.
 * Subtrees without any painted tile are known to be empty without work.
 */
import { MASK_TILE, parseTileKey, tileKey } from '../core/mask/mask-grid.js';
import type { EncodedTile } from '../core/mask/rle.js';
import type { MaskChange, MaskStore } from './mask-store.js';

export type Reducer = (children: Array<EncodedTile | null>) => Promise<EncodedTile>;

export class MaskPyramid {
  /** Highest level: the whole slide in one tile. */
  readonly maxLevel: number;
  private readonly cache = new Map<string, EncodedTile>();
  private readonly inflight = new Map<string, Promise<EncodedTile | null>>();
  /** Bumped per key on every invalidation, so a result computed from stale children is not cached. */
  private readonly generation = new Map<string, number>();
  /** Per level, how many level-0 tiles lie under each tile (only keys with any). */
  private readonly occupied: Array<Map<string, number>>;
  private readonly listeners = new Set<(keys: string[]) => void>();
  /** Level-0 keys counted in `occupied`. */
  private readonly seen = new Set<string>();

  constructor(
    private readonly store: MaskStore,
    width: number,
    height: number,
    private readonly reduce: Reducer,
  ) {
    let level = 0;
    while (Math.max(width, height) / 2 ** level > MASK_TILE) level++;
    this.maxLevel = level;
    this.occupied = Array.from({ length: level + 1 }, () => new Map());
    for (const k of store.keys()) {
      this.seen.add(k);
      this.occupy(k);
    }
    store.observe((c) => this.onChange(c));
  }

  /** Called with `level/tx,ty` keys whose content changed (for the display). */
  onInvalidate(fn: (keys: string[]) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private occupy(key0: string): void {
    const [tx, ty] = parseTileKey(key0);
    for (let k = 1; k <= this.maxLevel; k++) {
      const m = this.occupied[k] as Map<string, number>;
      const key = tileKey(tx >> k, ty >> k);
      m.set(key, (m.get(key) ?? 0) + 1);
    }
  }

  private onChange(c: MaskChange): void {
    const dropped: string[] = [];
    for (const t of c.tiles) {
      const [tx, ty] = parseTileKey(t.key);
      // a tile new to the store adds to the occupancy
      if (!this.seen.has(t.key)) {
        this.seen.add(t.key);
        this.occupy(t.key);
      }
      dropped.push(`0/${t.key}`);
      for (let k = 1; k <= this.maxLevel; k++) {
        const key = `${k}/${tileKey(tx >> k, ty >> k)}`;
        this.cache.delete(key);
        this.inflight.delete(key);
        this.generation.set(key, (this.generation.get(key) ?? 0) + 1);
        dropped.push(key);
      }
    }
    for (const fn of this.listeners) fn(dropped);
  }

  /** True when nothing is painted under this tile. */
  isEmpty(level: number, tx: number, ty: number): boolean {
    if (level === 0) return !this.store.has(tileKey(tx, ty));
    return !(this.occupied[level] as Map<string, number>).has(tileKey(tx, ty));
  }

  /** The tile at a level (null = empty), computing what is missing below it. */
  get(level: number, tx: number, ty: number): Promise<EncodedTile | null> {
    if (this.isEmpty(level, tx, ty)) return Promise.resolve(null);
    if (level === 0) return Promise.resolve(this.store.get(tileKey(tx, ty)));
    const key = `${level}/${tileKey(tx, ty)}`;
    const cached = this.cache.get(key);
    if (cached) return Promise.resolve(cached);
    const running = this.inflight.get(key);
    if (running) return running;
    const gen = this.generation.get(key) ?? 0;
    const p = (async (): Promise<EncodedTile | null> => {
      const children = await Promise.all([0, 1, 2, 3].map((i) => this.get(level - 1, 2 * tx + (i & 1), 2 * ty + (i >> 1))));
      const tile = await this.reduce(children);
      if ((this.generation.get(key) ?? 0) === gen) {
        this.cache.set(key, tile);
        this.inflight.delete(key);
      }
      return tile;
    })();
    this.inflight.set(key, p);
    return p;
  }

  /** The cached tile, without computing (null when not cached or empty). */
  peek(level: number, tx: number, ty: number): EncodedTile | null {
    if (level === 0) return this.store.has(tileKey(tx, ty)) ? this.store.get(tileKey(tx, ty)) : null;
    return this.cache.get(`${level}/${tileKey(tx, ty)}`) ?? null;
  }

  /** Level keys of every tile that exists at `level` (for tests and stats). */
  keysAt(level: number): string[] {
    if (level === 0) return [...this.store.keys()];
    return [...(this.occupied[level] as Map<string, number>).keys()];
  }

  /** Bytes held by cached pyramid tiles. */
  cachedBytes(): number {
    let n = 0;
    for (const t of this.cache.values()) n += 'rle' in t ? t.rle.byteLength : 8;
    return n;
  }
}
