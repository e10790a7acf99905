/**
 * The annotation list's model: the store's objects as rows, with area and
 * perimeter measured once per object into typed arrays (again only for what
 * an edit touched), sorted by a column (a radix argsort of handles), filtered
 * by class, author and text, and counted per class. Nothing here is per-row
 * UI: the list element draws only the rows in view from `rows`.
 */
import { ANNOTATION_KINDS } from '../core/annotation.js';
import { GeomType } from '../core/flat-geometry.js';
import type { AnnotationStore, ChangeSet, GeometrySpan, Handle } from './annotation-store.js';
import { sortByKey } from './radix-sort.js';

export type SortColumn = 'class' | 'name' | 'kind' | 'area' | 'perimeter' | 'author' | 'updated' | 'review';

/** Review states in the order the list sorts them (the workflow's); an object never submitted sorts after them. */
export const REVIEW_ORDER: readonly string[] = ['draft', 'submitted', 'expert_review', 'changes_requested', 'rejected', 'accepted', 'closed'];

export interface TableFilter {
  /** Class indices (store.classes(), -1 = no class) to keep; null = all. */
  classes: ReadonlySet<number> | null;
  /** Author indices (store.authorNames(), -1 = unknown) to keep; null = all. */
  authors: ReadonlySet<number> | null;
  /** Case-insensitive text to find in the name or the note; '' = all. */
  text: string;
  /** Review states to keep ('' = never submitted); null or absent = all. */
  reviews?: ReadonlySet<string> | null;
}

export interface TableTimings {
  measureMs: number;
  sortMs: number;
  filterMs: number;
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/** Rank of each name in collation order, for sorting by a text column; index 0 is "none" (sorts last). */
function ranks(names: readonly string[]): Float64Array {
  const order = names.map((_, i) => i).sort((a, b) => collator.compare(names[a] as string, names[b] as string) || a - b);
  const r = new Float64Array(names.length + 1);
  r[0] = Number.NaN;
  order.forEach((i, rank) => (r[i + 1] = rank));
  return r;
}

/** Shoelace sum (twice the signed area) and length of one ring or path: `count` vertices from coords[base]. */
function run(c: Float64Array, base: number, count: number, out: { twice: number; length: number }): void {
  let twice = 0;
  let length = 0;
  let x0 = c[base] as number;
  let y0 = c[base + 1] as number;
  const end = base + count * 2;
  for (let i = base + 2; i < end; i += 2) {
    const x1 = c[i] as number;
    const y1 = c[i + 1] as number;
    twice += x0 * y1 - x1 * y0;
    const dx = x1 - x0;
    const dy = y1 - y0;
    length += Math.sqrt(dx * dx + dy * dy);
    x0 = x1;
    y0 = y1;
  }
  out.twice = twice;
  out.length = length;
}

const span: GeometrySpan = { type: GeomType.Point, coords: new Float64Array(0), at: 0, length: 0, parts: new Uint32Array(0), partAt: 0, partLength: 0 };
const ring = { twice: 0, length: 0 };

/**
 * Area (px², 0 for points and lines) and perimeter (px: every ring's
 * length; a line's length; 0 for points) of one object, read straight from
 * the store's pools (this runs over a million objects when the list opens).
 */
export function measure(store: AnnotationStore, h: Handle): [area: number, perimeter: number] {
  const g = store.locate(h, span);
  const c = g.coords;
  if (g.type === GeomType.LineString) {
    run(c, g.at, g.length / 2, ring);
    return [0, ring.length];
  }
  if (g.type !== GeomType.Polygon && g.type !== GeomType.MultiPolygon) return [0, 0];
  let area = 0;
  let perimeter = 0;
  let v = g.at;
  const p = g.parts;
  const pEnd = g.partAt + g.partLength;
  if (g.type === GeomType.Polygon) {
    for (let k = g.partAt; k < pEnd; k++) {
      const n = p[k] as number;
      run(c, v, n, ring);
      area += (k === g.partAt ? 1 : -1) * Math.abs(ring.twice / 2);
      perimeter += ring.length;
      v += n * 2;
    }
  } else {
    for (let k = g.partAt; k < pEnd; ) {
      const rings = p[k++] as number;
      for (let r = 0; r < rings; r++) {
        const n = p[k++] as number;
        run(c, v, n, ring);
        area += (r === 0 ? 1 : -1) * Math.abs(ring.twice / 2);
        perimeter += ring.length;
        v += n * 2;
      }
    }
  }
  return [Math.abs(area), perimeter];
}

export class AnnotationTable {
  /** Per handle: area in px², perimeter in px (valid where `measured` is 1). */
  area = new Float64Array(0);
  perimeter = new Float64Array(0);
  private measured = new Uint8Array(0);
  /** Live handles in sort order (all of them), and the rows shown (filtered). */
  private order: Uint32Array = new Uint32Array(0);
  rows: Uint32Array = new Uint32Array(0);
  /** Live objects per class index + 1 (slot 0: no class). */
  classCounts = new Uint32Array(1);
  /** Live objects per author index + 1 (slot 0: unknown). */
  authorCounts = new Uint32Array(1);
  sortColumn: SortColumn | null = null;
  descending = false;
  filter: TableFilter = { classes: null, authors: null, text: '', reviews: null };
  /** Each object's review state by object id (what the server's review items say; absent: never submitted). */
  private reviewStates: ReadonlyMap<string, string> = new Map();
  /** reviewCounts() until the objects or their review states change. */
  private reviewCountCache: Map<string, number> | null = null;
  /** How an author id reads (a user id as the signed-in user's name); sorting by author follows it. */
  authorLabel: (id: string) => string = (id) => id;
  timings: TableTimings = { measureMs: 0, sortMs: 0, filterMs: 0 };
  /** The store changed since the last refresh (rows may be stale). */
  stale = true;
  private needSort = true;
  private needFilter = true;
  private readonly listeners = new Set<() => void>();
  private readonly off: () => void;

  constructor(readonly store: AnnotationStore) {
    this.off = store.observe((cs) => this.onChange(cs));
  }

  dispose(): void {
    this.off();
    this.listeners.clear();
  }

  /** Called (once per store change) while rows are stale; the view refreshes when it is ready to. */
  onStale(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private onChange(cs: ChangeSet): void {
    const m = this.measured;
    for (const h of cs.created) if (h < m.length) m[h] = 0;
    for (const u of cs.updated) if (u.handle < m.length) m[u.handle] = 0;
    this.stale = true;
    this.needSort = true;
    for (const fn of this.listeners) fn();
  }

  setSort(column: SortColumn | null, descending = false): void {
    if (column === this.sortColumn && descending === this.descending) return;
    this.sortColumn = column;
    this.descending = descending;
    this.needSort = true;
  }

  /** Takes the review state of each object (object id → state); sorting and filtering by it follow. */
  setReviewStates(states: ReadonlyMap<string, string>): void {
    this.reviewStates = states;
    this.reviewCountCache = null;
    if (this.sortColumn === 'review') this.needSort = true;
    if (this.filter.reviews) this.needFilter = true;
  }

  /** An object's review state, or null when it was never submitted. */
  reviewOf(h: Handle): string | null {
    return this.reviewStates.get(this.store.idOf(h)) ?? null;
  }

  /**
   * Live objects per review state ('' = never submitted). Kept until the
   * objects or the review states change: the list's filter reads it at every
   * render, and counting a million objects by id takes tens of ms.
   */
  reviewCounts(): ReadonlyMap<string, number> {
    if (this.reviewCountCache) return this.reviewCountCache;
    const out = new Map<string, number>();
    if (this.reviewStates.size === 0) {
      if (this.order.length) out.set('', this.order.length);
    } else
      for (const h of this.order) {
        const st = this.reviewOf(h) ?? '';
        out.set(st, (out.get(st) ?? 0) + 1);
      }
    this.reviewCountCache = out;
    return out;
  }

  setFilter(f: Partial<TableFilter>): void {
    this.filter = { ...this.filter, ...f };
    this.needFilter = true;
  }

  /** True when `refresh` has work to do. */
  get dirty(): boolean {
    return this.stale || this.needSort || this.needFilter;
  }

  /** Brings measures, order, rows and counts up to date with the store. */
  refresh(): TableTimings {
    const t0 = performance.now();
    if (this.stale) this.measureAll();
    const t1 = performance.now();
    if (this.needSort) this.sort();
    const t2 = performance.now();
    if (this.needFilter) this.applyFilter();
    const t3 = performance.now();
    this.stale = false;
    this.timings = { measureMs: t1 - t0, sortMs: t2 - t1, filterMs: t3 - t2 };
    return this.timings;
  }

  private measureAll(): void {
    const store = this.store;
    const cap = store.capacity;
    if (this.area.length < cap) {
      const grow = (a: Float64Array): Float64Array<ArrayBuffer> => {
        const b = new Float64Array(Math.max(cap, a.length * 2));
        b.set(a);
        return b;
      };
      this.area = grow(this.area);
      this.perimeter = grow(this.perimeter);
      const m = new Uint8Array(this.area.length);
      m.set(this.measured);
      this.measured = m;
    }
    const live = new Uint32Array(store.size);
    const classes = new Uint32Array(store.classes().length + 1);
    const authors = new Uint32Array(store.authorNames().length + 1);
    let k = 0;
    for (let h = 0; h < cap; h++) {
      if (!store.isLive(h)) continue;
      live[k++] = h;
      classes[store.classIndexOf(h) + 1]!++;
      authors[store.authorIndexOf(h) + 1]!++;
      if (this.measured[h]) continue;
      const [a, p] = measure(store, h);
      this.area[h] = a;
      this.perimeter[h] = p;
      this.measured[h] = 1;
    }
    this.order = live.subarray(0, k);
    this.reviewCountCache = null;
    this.classCounts = classes;
    this.authorCounts = authors;
    this.needSort = true;
  }

  /** The sort key of every handle for a column (numbers; NaN sorts last). */
  private keys(column: SortColumn): ArrayLike<number> {
    const store = this.store;
    const cap = store.capacity;
    switch (column) {
      case 'area':
        return this.area;
      case 'perimeter':
        return this.perimeter;
      case 'updated':
        return store.updatedColumn();
      case 'review': {
        const k = new Float64Array(cap).fill(Number.NaN);
        for (const h of this.order) {
          const st = this.reviewOf(h);
          if (st === null) continue;
          const i = REVIEW_ORDER.indexOf(st);
          k[h] = i < 0 ? REVIEW_ORDER.length : i;
        }
        return k;
      }
      default: {
        const k = new Float64Array(cap);
        if (column === 'name') {
          const named: Array<[Handle, string]> = [];
          for (const h of this.order) {
            const n = store.nameOf(h);
            if (n !== null) named.push([h, n]);
          }
          k.fill(Number.NaN);
          named.sort((a, b) => collator.compare(a[1], b[1]) || a[0] - b[0]).forEach(([h], i) => (k[h] = i));
          return k;
        }
        const rank = column === 'class' ? ranks(store.classes()) : column === 'author' ? ranks(store.authorNames().map(this.authorLabel)) : ranks(ANNOTATION_KINDS);
        const of = column === 'class' ? (h: Handle) => store.classIndexOf(h) : column === 'author' ? (h: Handle) => store.authorIndexOf(h) : (h: Handle) => ANNOTATION_KINDS.indexOf(store.kindOf(h));
        for (const h of this.order) k[h] = rank[of(h) + 1] as number;
        return k;
      }
    }
  }

  private sort(): void {
    const col = this.sortColumn;
    if (col === null) {
      // creation order (handles ascending), as measureAll leaves it
      this.order = Uint32Array.from(this.order).sort();
    } else this.order = sortByKey(this.order, this.keys(col), this.descending);
    this.needSort = false;
    this.needFilter = true;
  }

  private applyFilter(): void {
    const { classes, authors } = this.filter;
    const reviews = this.filter.reviews ?? null;
    const text = this.filter.text.trim().toLocaleLowerCase();
    const store = this.store;
    if (!classes && !authors && !reviews && !text) {
      this.rows = this.order;
      this.needFilter = false;
      return;
    }
    const out = new Uint32Array(this.order.length);
    let k = 0;
    for (const h of this.order) {
      if (classes && !classes.has(store.classIndexOf(h))) continue;
      if (authors && !authors.has(store.authorIndexOf(h))) continue;
      if (reviews && !reviews.has(this.reviewOf(h) ?? '')) continue;
      if (text) {
        const name = store.nameOf(h);
        const note = store.noteOf(h);
        if (!(name?.toLocaleLowerCase().includes(text) || note?.toLocaleLowerCase().includes(text))) continue;
      }
      out[k++] = h;
    }
    this.rows = out.subarray(0, k);
    this.needFilter = false;
  }
}
