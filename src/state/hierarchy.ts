/**
 * The live parent–child hierarchy of the loaded annotations (the rule:
 * core/hierarchy-rule.ts). Built on first use from the spatial index, then
 * kept current from the store's change sets: an edit recomputes only the
 * objects it can affect — the edited objects themselves and, when a ROI was
 * created, moved, reshaped or deleted, the objects whose centroid lies in
 * its old or new bounds — so one edit among a million cells stays cheap.
 */
import type { AnnotationRecord, AnnotationStore, ChangeSet, Handle } from './annotation-store.js';
import type { SpatialIndex } from './spatial-index.js';
import { flatBounds, flatten } from '../core/flat-geometry.js';
import { centroidOf, containerArea, containsPoint, ranksAbove } from '../core/hierarchy-rule.js';

const ROOT = -1;
/** Objects handled between two yields of the first build. */
const SLICE = 50_000;

export class Hierarchy {
  private parent = new Int32Array(0);
  private area = new Float64Array(0);
  private cx = new Float64Array(0);
  private cy = new Float64Array(0);
  private readonly children = new Map<Handle, Set<Handle>>();
  private built = false;
  private building: Promise<void> | null = null;
  /** Change sets that arrived while the build was running: applied once it is done. */
  private readonly during: ChangeSet[] = [];
  private readonly unobserve: () => void;
  /** Reused by findParent (a million look-ups make no garbage of their own). */
  private readonly scratch: Handle[] = [];
  /** Objects whose parent was worked out again by the last change (for tests and benches). */
  lastRecomputed = 0;

  constructor(
    private readonly store: AnnotationStore,
    private readonly index: SpatialIndex,
  ) {
    this.unobserve = store.observe((cs) => {
      if (this.built) this.onChange(cs);
      else if (this.building) this.during.push(cs);
    });
  }

  /** Stops following the store. */
  dispose(): void {
    this.unobserve();
  }

  get ready(): boolean {
    return this.built;
  }

  /**
   * Builds the hierarchy of everything loaded (once; later edits keep it
   * current). Works in slices of SLICE objects, yielding between them so a
   * million cells never freeze the page; edits made meanwhile are applied
   * when it is done.
   */
  build(): Promise<void> {
    if (this.built) return Promise.resolve();
    this.building ??= this.buildAll();
    return this.building;
  }

  private async buildAll(): Promise<void> {
    if (this.index.dynamicSize > 4096) await this.index.rebuild();
    const n = this.store.capacity;
    this.grow(n);
    const yieldNow = (): Promise<void> => new Promise((r) => setTimeout(r, 0));
    for (let h = 0; h < n; h++) {
      if (this.store.isLive(h)) this.measure(h);
      if (h % SLICE === SLICE - 1) await yieldNow();
    }
    // ROI by ROI, largest (highest rank) first: every object whose centroid a ROI holds takes it as its
    // parent, so the last to claim an object is the smallest ROI holding it — one pass over each ROI's
    // box, rather than a point search per object
    const rois: Handle[] = [];
    for (let h = 0; h < n; h++) if (this.store.isLive(h) && (this.area[h] as number) > 0) rois.push(h);
    rois.sort((a, b) => (this.ranks(a, b) ? -1 : 1));
    const parent = this.parent;
    let work = 0;
    for (const r of rois) {
      const g = this.store.geometry(r);
      const [x0, y0, x1, y1] = this.store.bounds(r);
      const found = this.scratch;
      found.length = 0;
      for (const h of this.index.query(x0, y0, x1, y1, found)) {
        if (h === r || h >= n) continue;
        const x = this.cx[h] as number;
        const y = this.cy[h] as number;
        if (x < x0 || x > x1 || y < y0 || y > y1) continue;
        if ((this.area[h] as number) > 0 && !this.ranks(r, h)) continue;
        if (containsPoint(g, x, y)) parent[h] = r;
      }
      work += found.length;
      if (work > SLICE) {
        work = 0;
        await yieldNow();
      }
    }
    for (let h = 0; h < n; h++) {
      const p = parent[h] as number;
      if (p !== ROOT && this.store.isLive(h)) {
        parent[h] = ROOT;
        this.attach(h, p);
      }
    }
    this.built = true;
    // what changed during the build: objects edited after they were measured, and those created past n
    for (const cs of this.during.splice(0)) this.onChange(cs);
  }

  private grow(n: number): void {
    if (n <= this.parent.length) return;
    const size = Math.max(n, this.parent.length * 2, 1024);
    const p = new Int32Array(size).fill(ROOT);
    p.set(this.parent);
    this.parent = p;
    for (const k of ['area', 'cx', 'cy'] as const) {
      const a = new Float64Array(size);
      a.set(this[k]);
      this[k] = a;
    }
  }

  private measure(h: Handle): void {
    const g = this.store.geometry(h);
    this.area[h] = containerArea(this.store.objectTypeOf(h), g);
    const [x, y] = centroidOf(g);
    this.cx[h] = x;
    this.cy[h] = y;
  }

  /** True when ROI a ranks above ROI b (may be its parent). */
  private ranks(a: Handle, b: Handle): boolean {
    return ranksAbove(this.area[a] as number, this.store.idOf(a), this.area[b] as number, this.store.idOf(b));
  }

  /** The smallest ROI containing h's centroid that may be its parent, or ROOT. */
  private findParent(h: Handle): Handle {
    const x = this.cx[h] as number;
    const y = this.cy[h] as number;
    if (!Number.isFinite(x) || !Number.isFinite(y)) return ROOT;
    const selfArea = this.area[h] as number;
    const selfId = this.store.idOf(h);
    let best = ROOT;
    const found = this.scratch;
    found.length = 0;
    for (const c of this.index.query(x, y, x, y, found)) {
      const a = this.area[c] as number;
      if (c === h || a <= 0) continue;
      if (selfArea > 0 && !ranksAbove(a, this.store.idOf(c), selfArea, selfId)) continue;
      if (best !== ROOT && !ranksAbove(this.area[best] as number, this.store.idOf(best), a, this.store.idOf(c))) continue;
      if (containsPoint(this.store.geometry(c), x, y)) best = c;
    }
    return best;
  }

  private attach(h: Handle, p: Handle): void {
    const old = this.parent[h] as number;
    if (old !== ROOT) this.children.get(old)?.delete(h);
    this.parent[h] = p;
    if (p === ROOT) return;
    let set = this.children.get(p);
    if (!set) this.children.set(p, (set = new Set()));
    set.add(h);
  }

  private onChange(cs: ChangeSet): void {
    this.grow(this.store.capacity);
    const redo = new Set<Handle>();
    const regions: Array<[number, number, number, number]> = [];
    const wasRoi = (r: AnnotationRecord): void => {
      const f = flatten(r.geometry);
      if (containerArea(r.objectType, f) > 0) regions.push(flatBounds(f.coords));
    };
    for (const d of cs.deleted) {
      wasRoi(d.before);
      this.attach(d.handle, ROOT);
      this.children.delete(d.handle);
      this.area[d.handle] = 0;
    }
    for (const u of cs.updated) wasRoi(u.before);
    for (const h of [...cs.created, ...cs.updated.map((u) => u.handle)]) {
      this.measure(h);
      redo.add(h);
      if ((this.area[h] as number) > 0) regions.push(this.store.bounds(h));
    }
    for (const [x0, y0, x1, y1] of regions) {
      for (const h of this.index.query(x0, y0, x1, y1)) {
        const x = this.cx[h] as number;
        const y = this.cy[h] as number;
        if (x >= x0 && x <= x1 && y >= y0 && y <= y1) redo.add(h);
      }
    }
    for (const h of redo) if (this.store.isLive(h)) this.attach(h, this.findParent(h));
    this.lastRecomputed = redo.size;
  }

  /** The parent ROI's handle, or null at the top level (or before build()). */
  parentOf(h: Handle): Handle | null {
    const p = this.parent[h];
    return p === undefined || p === ROOT ? null : p;
  }

  childrenOf(h: Handle): Handle[] {
    return [...(this.children.get(h) ?? [])];
  }

  isRoi(h: Handle): boolean {
    return (this.area[h] as number) > 0;
  }

  /** The ROIs loaded, largest first (a parent before its children). */
  rois(): Handle[] {
    const out: Handle[] = [];
    for (let h = 0; h < this.store.capacity; h++) if (this.store.isLive(h) && (this.area[h] as number) > 0) out.push(h);
    return out.sort((a, b) => (this.area[b] as number) - (this.area[a] as number));
  }

  /**
   * Objects that are not ROIs (cells, detections, points) anywhere under
   * ROI h, nested ROIs included, per class name ("" = no class).
   */
  countsUnder(h: Handle): Map<string, number> {
    const out = new Map<string, number>();
    const stack = [h];
    while (stack.length > 0) {
      const p = stack.pop() as Handle;
      for (const c of this.children.get(p) ?? []) {
        if ((this.area[c] as number) > 0) stack.push(c);
        else {
          const k = this.store.classOf(c) ?? '';
          out.set(k, (out.get(k) ?? 0) + 1);
        }
      }
    }
    return out;
  }
}
