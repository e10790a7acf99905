/**
 * Spatial index over the store for viewport culling and hit tests: a static
 * Flatbush over everything at the last rebuild, plus what changed since:
 * a small set of handles (edited, brought back) and the handles created
 * since the last rebuild, which are the store's newest (a range, not a set:
 * a page of a million-object load costs nothing here). Queries check the
 * static index (skipping stale entries) and scan the rest through the
 * store's bounds column. When the rest grows, the static index is rebuilt —
 * by a supplied builder that can run in a worker, so a million boxes never
 * block the page.
 */
import Flatbush from 'flatbush';
import { buildIndexBuffer } from '../core/index-buffer.js';
import type { AnnotationStore, ChangeSet, Handle } from './annotation-store.js';

/** Builds a Flatbush over boxes (4 numbers each) and returns its buffer. */
export type IndexBuilder = (boxes: Float64Array) => Promise<ArrayBuffer>;

export const localBuilder: IndexBuilder = (boxes) => Promise.resolve(buildIndexBuffer(boxes));

export class SpatialIndex {
  private static: Flatbush | null = null;
  /** Handle of each static entry. */
  private staticHandles = new Int32Array(0);
  /** Handles whose static entry no longer describes them. */
  private readonly stale = new Set<Handle>();
  /** Changed handles below `tailFrom` not (or no longer) described by the static index. */
  private readonly dynamic = new Set<Handle>();
  /** Handles from here to the store's capacity are newer than the static index (scanned, never in `dynamic`). */
  private tailFrom = 0;
  private rebuilding: Promise<void> | null = null;
  private rebuildWanted = false;
  /** Handles changed while a rebuild was running: their new entries are not in it. */
  private readonly touched = new Set<Handle>();
  lastBuildMs = 0;
  builds = 0;

  constructor(
    private readonly store: AnnotationStore,
    private readonly builder: IndexBuilder = localBuilder,
    /** Dynamic-set size that triggers a rebuild. */
    private readonly foldAt = 4096,
  ) {
    store.observe((cs) => this.onChange(cs));
  }

  private onChange(cs: ChangeSet): void {
    if (this.rebuilding) {
      for (const h of cs.created) this.touched.add(h);
      for (const u of cs.updated) this.touched.add(u.handle);
      for (const d of cs.deleted) this.touched.add(d.handle);
    }
    // handles in the tail are read from the store at each query: nothing to note
    const tail = this.tailFrom;
    for (const h of cs.created) if (h < tail) this.dynamic.add(h);
    for (const u of cs.updated) {
      if (u.handle >= tail) continue;
      this.stale.add(u.handle);
      this.dynamic.add(u.handle);
    }
    for (const d of cs.deleted) {
      if (d.handle >= tail) continue;
      this.stale.add(d.handle);
      this.dynamic.delete(d.handle);
    }
    // fold when the rest is large against the static index: a million
    // loaded in pages costs O(n log n) in all, not a rebuild per page
    if (this.dynamicSize > Math.max(this.foldAt, this.staticHandles.length / 2)) this.rebuild().catch(() => undefined);
  }

  /** Rebuilds the static index from the store (coalesced). */
  rebuild(): Promise<void> {
    if (this.rebuilding) {
      this.rebuildWanted = true;
      return this.rebuilding;
    }
    this.rebuilding = (async () => {
      try {
        await this.build();
      } finally {
        // a failed build (its worker gone) leaves the changes in the dynamic set; the next change tries again
        this.rebuilding = null;
      }
    })();
    return this.rebuilding;
  }

  private async build(): Promise<void> {
    do {
      this.rebuildWanted = false;
      this.touched.clear();
      const t0 = performance.now();
      const n = this.store.capacity;
      const all = this.store.boundsColumn();
      const handles = new Int32Array(this.store.size);
      const boxes = new Float64Array(this.store.size * 4);
      let k = 0;
      for (let h = 0; h < n; h++) {
        if (!this.store.isLive(h)) continue;
        handles[k] = h;
        boxes[k * 4] = all[h * 4] as number;
        boxes[k * 4 + 1] = all[h * 4 + 1] as number;
        boxes[k * 4 + 2] = all[h * 4 + 2] as number;
        boxes[k * 4 + 3] = all[h * 4 + 3] as number;
        k++;
      }
      // everything changed after this point stays dynamic
      const snapshot = new Set(this.dynamic);
      const buf = await this.builder(boxes);
      this.static = Flatbush.from(buf);
      this.staticHandles = handles;
      for (const h of snapshot) {
        if (this.touched.has(h)) continue; // changed again during the build
        this.dynamic.delete(h);
        this.stale.delete(h);
      }
      // the tail up to the snapshot is in the static index now, except what changed during the build
      for (const h of this.touched) {
        if (h < this.tailFrom || h >= n) continue;
        this.stale.add(h);
        if (this.store.isLive(h)) this.dynamic.add(h);
      }
      this.tailFrom = n;
      this.lastBuildMs = performance.now() - t0;
      this.builds++;
    } while (this.rebuildWanted);
  }

  /** Live or not, the handles not in the static index: the changed set and the tail. */
  get dynamicSize(): number {
    return this.dynamic.size + Math.max(0, this.store.capacity - this.tailFrom);
  }

  /** Handles whose bounds intersect the box. */
  query(x0: number, y0: number, x1: number, y1: number, out: Handle[] = []): Handle[] {
    if (this.static) {
      const ids = this.static.search(x0, y0, x1, y1);
      for (const i of ids) {
        const h = this.staticHandles[i] as number;
        if (!this.stale.has(h) && this.store.isLive(h)) out.push(h);
      }
    }
    const b = this.store.boundsColumn();
    const inBox = (h: Handle): boolean => (b[h * 4 + 2] as number) >= x0 && (b[h * 4] as number) <= x1 && (b[h * 4 + 3] as number) >= y0 && (b[h * 4 + 1] as number) <= y1;
    for (const h of this.dynamic) if (this.store.isLive(h) && inBox(h)) out.push(h);
    for (let h = this.tailFrom, end = this.store.capacity; h < end; h++) if (inBox(h) && this.store.isLive(h)) out.push(h);
    return out;
  }
}
