/**
 * The one client-side annotation store. Every edit, local or from the
 * server, goes through `apply` and comes out as a change set tagged with its
 * origin; the spatial index, undo, rendering and sync observe those.
 *
 * Storage is columnar so a million cells fit: each annotation is an integer
 * handle into typed-array columns, and geometry lives flat in chunked
 * coordinate pools. `record(h)` materialises a plain object when a tool or
 * the network needs one.
 */
import type { AnnotationInput, AnnotationKind } from '../core/annotation.js';
import { ANNOTATION_KINDS } from '../core/annotation.js';
import { emptyBounds, extendBounds, flatBounds, flatten, unflatten, type FlatGeometry, type GeomTypeCode } from '../core/flat-geometry.js';
import { COLUMN_LOCKED, columnRecord, type ColumnarColumns } from '../core/columnar-pages.js';

export type Handle = number;
export type Origin = 'local' | 'remote' | 'silent';

/** An annotation as tools and the network see it. `version` 0 = not yet on the server. */
export interface AnnotationRecord extends AnnotationInput {
  version: number;
}

export interface ChangeSet {
  origin: Origin;
  label: string;
  created: Handle[];
  updated: Array<{ handle: Handle; before: AnnotationRecord }>;
  deleted: Array<{ handle: Handle; before: AnnotationRecord }>;
  /** Why a local edit was not applied (the store's edit guard), when it was not. */
  refused?: string;
}

export interface Edit {
  create?: AnnotationRecord[];
  update?: Array<{ id: string; changes: Partial<Omit<AnnotationRecord, 'id'>> }>;
  delete?: string[];
}

/** Who made an object and when it last changed, as the server lists them (absent from older servers). */
export interface Provenance {
  createdBy?: string | null;
  updatedAt?: string | null;
}

/** Geometry of one annotation as views into the pools (do not keep them). */
export interface GeometryView {
  type: GeomTypeCode;
  coords: Float64Array;
  parts: Uint32Array;
}

/** An object's geometry as offsets into the pools (see `locate`): coords[at … at+length), parts[partAt … partAt+partLength). */
export interface GeometrySpan {
  type: GeomTypeCode;
  coords: Float64Array;
  at: number;
  length: number;
  parts: Uint32Array;
  partAt: number;
  partLength: number;
}

const NO_PARTS = new Uint32Array(0);

/** Fields most objects leave empty, kept only for those that have them. */
interface Extra {
  name: string | null;
  note: string | null;
  properties: Record<string, unknown>;
  /** Only when more than 65,535 distinct object types exist (never in practice). */
  objectType?: string;
}

/** Strings kept once each under a stable index (class names, authors): a million objects share a handful. */
class Names {
  readonly list: string[] = [];
  private readonly index = new Map<string, number>();

  /** The index of `name` (added when new); -1 for none. */
  intern(name: string | null | undefined): number {
    if (name === null || name === undefined) return -1;
    let i = this.index.get(name);
    if (i === undefined) {
      i = this.list.length;
      this.list.push(name);
      this.index.set(name, i);
    }
    return i;
  }

  at(i: number): string | null {
    return i < 0 ? null : (this.list[i] ?? null);
  }
}

const CHUNK = 1 << 22; // doubles per coordinate chunk (32 MiB)
const FLAG_DELETED = 1;
const FLAG_LOCKED = 2;

class Pool<T extends Float64Array | Uint32Array> {
  readonly chunks: T[] = [];
  private used = 0;

  constructor(
    private readonly make: (n: number) => T,
    private readonly chunkSize: number,
  ) {}

  /**
   * Takes `data` as a chunk of its own, without copying (a loaded frame's
   * column: nothing else writes to it); returns its chunk. The next `put`
   * starts a new chunk.
   */
  adopt(data: T): number {
    this.chunks.push(data);
    this.used = data.length;
    return this.chunks.length - 1;
  }

  /** Copies `data` in; returns [chunk, offset]. */
  put(data: ArrayLike<number>): [number, number] {
    const n = data.length;
    let last = this.chunks[this.chunks.length - 1];
    if (!last || this.used + n > last.length) {
      last = this.make(Math.max(this.chunkSize, n));
      this.chunks.push(last);
      this.used = 0;
    }
    last.set(data as never, this.used);
    const at = this.used;
    this.used += n;
    return [this.chunks.length - 1, at];
  }
}

function grow<T extends { length: number; set(a: T): void }>(a: T, make: (n: number) => T, need: number): T {
  if (need <= a.length) return a;
  const b = make(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

export class AnnotationStore {
  private n = 0;
  private live = 0;
  private ids: string[] = [];
  private readonly byId = new Map<string, Handle>();
  private version = new Int32Array(1024);
  private flags = new Uint8Array(1024);
  private kind = new Uint8Array(1024);
  private cls = new Int16Array(1024);
  private gtype = new Uint8Array(1024);
  /** objectType, interned (a million detections share one string). */
  private otype = new Uint16Array(1024);
  private readonly objectTypes: string[] = ['annotation'];
  private readonly objectTypeIndex = new Map<string, number>([['annotation', 0]]);
  private cChunk = new Uint16Array(1024);
  private cAt = new Uint32Array(1024);
  private cLen = new Uint32Array(1024);
  private pChunk = new Uint16Array(1024);
  private pAt = new Uint32Array(1024);
  private pLen = new Uint32Array(1024);
  private box = new Float64Array(4096);
  private readonly coords = new Pool<Float64Array>((k) => new Float64Array(k), CHUNK);
  private readonly parts = new Pool<Uint32Array>((k) => new Uint32Array(k), 1 << 18);
  private readonly extras = new Map<Handle, Extra>();
  /** Who drew each object (index into `authors`, -1 unknown) and when it last changed (epoch ms, NaN unknown). */
  private author = new Int32Array(1024);
  private updated = new Float64Array(1024);
  private readonly authors = new Names();
  /** The author of objects created here (the signed-in annotator), or null while unknown. */
  localAuthor: string | null = null;
  private readonly classNames = new Names();
  private readonly observers = new Set<(cs: ChangeSet) => void>();

  get size(): number {
    return this.live;
  }

  /** Handles run 0..capacity-1 (deleted ones included). */
  get capacity(): number {
    return this.n;
  }

  observe(fn: (cs: ChangeSet) => void): () => void {
    this.observers.add(fn);
    return () => this.observers.delete(fn);
  }

  handleOf(id: string): Handle | undefined {
    const h = this.byId.get(id);
    return h !== undefined && !(this.flags[h]! & FLAG_DELETED) ? h : undefined;
  }

  /** The handle `id` has or had here, deleted or not (a deleted one's record can still be read). */
  handleOfAny(id: string): Handle | undefined {
    return this.byId.get(id);
  }

  has(id: string): boolean {
    return this.handleOf(id) !== undefined;
  }

  isLive(h: Handle): boolean {
    return h >= 0 && h < this.n && !(this.flags[h]! & FLAG_DELETED);
  }

  idOf(h: Handle): string {
    return this.ids[h] as string;
  }

  versionOf(h: Handle): number {
    return this.version[h] as number;
  }

  lockedOf(h: Handle): boolean {
    return (this.flags[h]! & FLAG_LOCKED) !== 0;
  }

  kindOf(h: Handle): AnnotationKind {
    return ANNOTATION_KINDS[this.kind[h] as number] as AnnotationKind;
  }

  /** Index of the class in `classes()`, or -1. */
  classIndexOf(h: Handle): number {
    return this.cls[h] as number;
  }

  classOf(h: Handle): string | null {
    const c = this.cls[h] as number;
    return this.classNames.at(c);
  }

  /** Every class name seen so far; indices are stable. */
  classes(): readonly string[] {
    return this.classNames.list;
  }

  internClass(name: string | null): number {
    return this.classNames.intern(name);
  }


  /** Bounds as [x0, y0, x1, y1] (level-0 pixels). */
  bounds(h: Handle): [number, number, number, number] {
    const b = this.box;
    return [b[h * 4] as number, b[h * 4 + 1] as number, b[h * 4 + 2] as number, b[h * 4 + 3] as number];
  }

  /** The raw bounds column (4 numbers per handle), for bulk index builds. */
  boundsColumn(): Float64Array {
    return this.box.subarray(0, this.n * 4);
  }

  /** Where an object's geometry lies in the pools, written into `out` (no allocation: for passes over every object). */
  locate(h: Handle, out: GeometrySpan): GeometrySpan {
    out.type = this.gtype[h] as GeomTypeCode;
    out.coords = this.coords.chunks[this.cChunk[h] as number] as Float64Array;
    out.at = this.cAt[h] as number;
    out.length = this.cLen[h] as number;
    out.partLength = this.pLen[h] as number;
    out.parts = out.partLength === 0 ? NO_PARTS : (this.parts.chunks[this.pChunk[h] as number] as Uint32Array);
    out.partAt = this.pAt[h] as number;
    return out;
  }

  geometry(h: Handle): GeometryView {
    const cc = this.coords.chunks[this.cChunk[h] as number] as Float64Array;
    const at = this.cAt[h] as number;
    const pc = this.parts.chunks[this.pChunk[h] as number];
    const pat = this.pAt[h] as number;
    const plen = this.pLen[h] as number;
    return {
      type: this.gtype[h] as GeomTypeCode,
      coords: cc.subarray(at, at + (this.cLen[h] as number)),
      parts: plen === 0 || !pc ? new Uint32Array(0) : pc.subarray(pat, pat + plen),
    };
  }

  record(h: Handle): AnnotationRecord {
    const g = this.geometry(h);
    const extra = this.extras.get(h);
    return {
      id: this.ids[h] as string,
      kind: this.kindOf(h),
      geometry: unflatten({ type: g.type, coords: g.coords.slice(), parts: g.parts.slice() }),
      classification: this.classOf(h),
      name: extra?.name ?? null,
      note: extra?.note ?? null,
      locked: this.lockedOf(h),
      objectType: extra?.objectType ?? (this.objectTypes[this.otype[h] as number] as string),
      properties: extra?.properties ?? {},
      version: this.version[h] as number,
    };
  }

  objectTypeOf(h: Handle): string {
    return this.extras.get(h)?.objectType ?? (this.objectTypes[this.otype[h] as number] as string);
  }

  nameOf(h: Handle): string | null {
    return this.extras.get(h)?.name ?? null;
  }

  noteOf(h: Handle): string | null {
    return this.extras.get(h)?.note ?? null;
  }

  /** Index of the object's author in `authorNames()`, or -1 when unknown. */
  authorIndexOf(h: Handle): number {
    return this.author[h] as number;
  }

  authorOf(h: Handle): string | null {
    const a = this.author[h] as number;
    return this.authors.at(a);
  }

  /** Every author seen so far; indices are stable. */
  authorNames(): readonly string[] {
    return this.authors.list;
  }

  /** When the object last changed (epoch ms; NaN when unknown). */
  updatedOf(h: Handle): number {
    return this.updated[h] as number;
  }

  /** The raw column of last-change times (epoch ms, one per handle), for tables. */
  updatedColumn(): Float64Array {
    return this.updated.subarray(0, this.n);
  }



  /** Sets who made an object and when it changed: from the server's record, or now and this annotator for a local edit. */
  private stamp(h: Handle, meta: Provenance | null, isNew: boolean): void {
    if (meta) {
      if (meta.createdBy !== undefined || isNew) this.author[h] = this.authors.intern(meta.createdBy);
      const t = meta.updatedAt ? Date.parse(meta.updatedAt) : Number.NaN;
      this.updated[h] = Number.isFinite(t) ? t : isNew ? Number.NaN : (this.updated[h] as number);
      return;
    }
    if (isNew) this.author[h] = this.authors.intern(this.localAuthor);
    this.updated[h] = Date.now();
  }

  private ensure(need: number): void {
    if (need <= this.version.length) return;
    this.version = grow(this.version, (k) => new Int32Array(k), need);
    this.flags = grow(this.flags, (k) => new Uint8Array(k), need);
    this.kind = grow(this.kind, (k) => new Uint8Array(k), need);
    this.cls = grow(this.cls, (k) => new Int16Array(k), need);
    this.gtype = grow(this.gtype, (k) => new Uint8Array(k), need);
    this.otype = grow(this.otype, (k) => new Uint16Array(k), need);
    this.cChunk = grow(this.cChunk, (k) => new Uint16Array(k), need);
    this.cAt = grow(this.cAt, (k) => new Uint32Array(k), need);
    this.cLen = grow(this.cLen, (k) => new Uint32Array(k), need);
    this.pChunk = grow(this.pChunk, (k) => new Uint16Array(k), need);
    this.pAt = grow(this.pAt, (k) => new Uint32Array(k), need);
    this.pLen = grow(this.pLen, (k) => new Uint32Array(k), need);
    this.box = grow(this.box, (k) => new Float64Array(k), need * 4);
    this.author = grow(this.author, (k) => new Int32Array(k), need);
    this.updated = grow(this.updated, (k) => new Float64Array(k), need);
  }

  private setGeometry(h: Handle, f: FlatGeometry): void {
    const [cc, ca] = this.coords.put(f.coords);
    this.cChunk[h] = cc;
    this.cAt[h] = ca;
    this.cLen[h] = f.coords.length;
    this.gtype[h] = f.type;
    if (f.parts.length > 0) {
      const [pc, pa] = this.parts.put(f.parts);
      this.pChunk[h] = pc;
      this.pAt[h] = pa;
    }
    this.pLen[h] = f.parts.length;
    const [x0, y0, x1, y1] = flatBounds(f.coords);
    this.box[h * 4] = x0;
    this.box[h * 4 + 1] = y0;
    this.box[h * 4 + 2] = x1;
    this.box[h * 4 + 3] = y1;
  }

  private setFields(h: Handle, r: AnnotationRecord): void {
    this.version[h] = r.version;
    this.kind[h] = Math.max(0, ANNOTATION_KINDS.indexOf(r.kind));
    this.cls[h] = this.internClass(r.classification);
    this.flags[h] = r.locked ? FLAG_LOCKED : 0;
    let ot = this.objectTypeIndex.get(r.objectType);
    if (ot === undefined && this.objectTypes.length < 65535) {
      ot = this.objectTypes.length;
      this.objectTypes.push(r.objectType);
      this.objectTypeIndex.set(r.objectType, ot);
    }
    this.otype[h] = ot ?? 0;
    const plain = r.name === null && r.note === null && Object.keys(r.properties).length === 0 && ot !== undefined;
    if (plain) this.extras.delete(h);
    else this.extras.set(h, { name: r.name, note: r.note, properties: r.properties, ...(ot === undefined ? { objectType: r.objectType } : {}) });
  }

  /** Adds (or revives) one annotation without notifying. */
  private put(r: AnnotationRecord, geom?: FlatGeometry, meta: Provenance | null = null): Handle {
    let h = this.byId.get(r.id);
    const isNew = h === undefined;
    if (h === undefined) {
      h = this.n++;
      this.ensure(this.n);
      this.ids[h] = r.id;
      this.byId.set(r.id, h);
    } else if (!(this.flags[h]! & FLAG_DELETED)) {
      throw new Error(`annotation ${r.id} already exists`);
    }
    this.setFields(h, r);
    this.setGeometry(h, geom ?? flatten(r.geometry));
    // an object brought back (undo of a delete) keeps its author
    this.stamp(h, meta, isNew);
    this.live++;
    return h;
  }

  /**
   * Why this user may not change anything here (a read-only project, a
   * viewer), or null. Local edits are then not applied at all: the tools are
   * disabled with this reason, and this keeps a shortcut from slipping past.
   */
  readOnly: string | null = null;

  /**
   * Why a local edit may not be applied (a class locked in the Layers table:
   * src/state/class-layers.ts), or null. A refused edit changes nothing, its
   * change set carries the reason, and the refusal listeners hear it (the
   * status line says it: no silent no-op).
   */
  editGuard: ((edit: Edit, store: AnnotationStore) => string | null) | null = null;
  private readonly refusalListeners = new Set<(reason: string, label: string) => void>();

  /** Tells `fn` when a local edit was refused by the edit guard. */
  onRefused(fn: (reason: string, label: string) => void): () => void {
    this.refusalListeners.add(fn);
    return () => this.refusalListeners.delete(fn);
  }

  /** Applies an edit as one change set and tells every observer (a local edit of a read-only store: nothing). */
  apply(edit: Edit, origin: Origin, label = 'Edit'): ChangeSet {
    const cs: ChangeSet = { origin, label, created: [], updated: [], deleted: [] };
    if (origin === 'local' && this.readOnly !== null) return cs;
    const refused = origin === 'local' ? (this.editGuard?.(edit, this) ?? null) : null;
    if (refused !== null) {
      cs.refused = refused;
      for (const fn of this.refusalListeners) fn(refused, label);
      return cs;
    }
    for (const r of edit.create ?? []) {
      const existing = this.handleOf(r.id);
      if (existing !== undefined && origin !== 'local') {
        // the server's copy of something we already hold: take it as an update
        cs.updated.push({ handle: existing, before: this.record(existing) });
        this.setFields(existing, r);
        this.setGeometry(existing, flatten(r.geometry));
        this.stamp(existing, null, false);
        continue;
      }
      // the server's records may say who made them; a local or replayed one is this annotator's
      cs.created.push(this.put(r, undefined, origin === 'remote' ? (r as Provenance) : null));
    }
    for (const u of edit.update ?? []) {
      const h = this.handleOf(u.id);
      if (h === undefined) continue;
      const before = this.record(h);
      const next: AnnotationRecord = { ...before, ...u.changes, id: before.id };
      this.setFields(h, next);
      if (u.changes.geometry) this.setGeometry(h, flatten(u.changes.geometry));
      this.stamp(h, null, false);
      cs.updated.push({ handle: h, before });
    }
    for (const id of edit.delete ?? []) {
      const h = this.handleOf(id);
      if (h === undefined) continue;
      cs.deleted.push({ handle: h, before: this.record(h) });
      this.flags[h] = (this.flags[h] as number) | FLAG_DELETED;
      this.live--;
    }
    if (cs.created.length || cs.updated.length || cs.deleted.length) for (const fn of this.observers) fn(cs);
    return cs;
  }

  /**
   * Adds many server records at once (initial load). Geometry may come
   * pre-flattened from a worker. One change set with origin "remote".
   */
  bulkLoad(items: Array<{ record: Omit<AnnotationRecord, 'geometry'> & Provenance; geometry: FlatGeometry }>): ChangeSet {
    const cs: ChangeSet = { origin: 'remote', label: 'Load', created: [], updated: [], deleted: [] };
    this.ensure(this.n + items.length);
    for (const { record, geometry } of items) {
      const existing = this.handleOf(record.id);
      if (existing !== undefined) {
        // already here (edited locally before the load finished): local wins
        continue;
      }
      cs.created.push(this.put({ ...record, geometry: { type: 'Point', coordinates: [0, 0] } }, geometry, record));
    }
    if (cs.created.length) for (const fn of this.observers) fn(cs);
    return cs;
  }

  /**
   * Adds a decoded columnar page (core/columnar-pages.ts) at once, with no
   * record per object: the page's outlines go into the pools in one copy,
   * each string column is read through its table once. As `bulkLoad`: an
   * object already held (edited locally before the load finished) is left
   * as it is. Returns the change set and each row's handle (-1: skipped).
   */
  bulkLoadColumns(p: ColumnarColumns): { cs: ChangeSet; handles: Int32Array } {
    const cs: ChangeSet = { origin: 'remote', label: 'Load', created: [], updated: [], deleted: [] };
    const n = p.n;
    const handles = new Int32Array(n).fill(-1);
    this.ensure(this.n + n);
    // the frame's outlines become chunks of the pools as they are (no copy: the frame is this store's now)
    const cChunk = this.coords.adopt(p.coords);
    const pChunk = p.parts.length > 0 ? this.parts.adopt(p.parts) : 0;
    // what each string of the table interns to, per column, looked up once per distinct string (-2: not yet)
    const strings = p.strings;
    const memo = (): Int32Array => new Int32Array(strings.length).fill(-2);
    const clsOf = memo();
    const otOf = memo();
    const byOf = memo();
    const timeOf = new Float64Array(strings.length).fill(-1);
    const internedIn = (m: Int32Array, k: number, intern: (s: string) => number): number => {
      if (k < 0) return -1;
      let v = m[k] as number;
      if (v === -2) m[k] = v = intern(strings[k] as string);
      return v;
    };
    const internClass = (c: string): number => this.internClass(c);
    const internAuthor = (a: string): number => this.authors.intern(a);
    const otypeOf = (name: string): number => {
      let ot = this.objectTypeIndex.get(name);
      if (ot === undefined && this.objectTypes.length < 65535) {
        ot = this.objectTypes.length;
        this.objectTypes.push(name);
        this.objectTypeIndex.set(name, ot);
      }
      return ot ?? -1;
    };
    const { coords, coordAt, parts, partAt, id: idCol, name: nameCol, note: noteCol, flags, version, kind, types, classification, objectType, createdBy, updatedAt } = p;
    const box = this.box;
    const scratch = new Float64Array(4);
    for (let i = 0; i < n; i++) {
      const id = strings[idCol[i] as number] as string;
      const existing = this.byId.get(id);
      if (existing !== undefined) {
        // already here and live (edited locally): local wins; a deleted one is brought back the ordinary way
        if (this.flags[existing]! & FLAG_DELETED) {
          const r = columnRecord(p, i);
          const geometry = { type: types[i] as GeomTypeCode, coords: coords.subarray(coordAt[i], coordAt[i + 1]), parts: parts.subarray(partAt[i], partAt[i + 1]) };
          handles[i] = this.put({ ...r, properties: {}, geometry: { type: 'Point', coordinates: [0, 0] } }, geometry, r);
          cs.created.push(handles[i] as number);
        }
        continue;
      }
      // a new handle: nothing of it is held yet (no extras to clear)
      const h = this.n++;
      this.ids[h] = id;
      this.byId.set(id, h);
      handles[i] = h;
      this.version[h] = version[i] as number;
      this.kind[h] = kind[i] as number;
      this.cls[h] = internedIn(clsOf, classification[i] as number, internClass);
      this.flags[h] = (flags[i] as number) & COLUMN_LOCKED ? FLAG_LOCKED : 0;
      const ot = internedIn(otOf, objectType[i] as number, otypeOf);
      this.otype[h] = ot < 0 ? 0 : ot;
      const nk = nameCol[i] as number;
      const tk = noteCol[i] as number;
      if (nk >= 0 || tk >= 0 || ot < 0) {
        this.extras.set(h, { name: nk < 0 ? null : (strings[nk] as string), note: tk < 0 ? null : (strings[tk] as string), properties: {}, ...(ot < 0 ? { objectType: strings[objectType[i] as number] as string } : {}) });
      }
      const c0 = coordAt[i] as number;
      const c1 = coordAt[i + 1] as number;
      this.cChunk[h] = cChunk;
      this.cAt[h] = c0;
      this.cLen[h] = c1 - c0;
      this.gtype[h] = types[i] as number;
      const p0 = partAt[i] as number;
      this.pChunk[h] = pChunk;
      this.pAt[h] = p0;
      this.pLen[h] = (partAt[i + 1] as number) - p0;
      const b = extendBounds(emptyBounds(scratch), coords, c0, c1);
      box[h * 4] = b[0] as number;
      box[h * 4 + 1] = b[1] as number;
      box[h * 4 + 2] = b[2] as number;
      box[h * 4 + 3] = b[3] as number;
      this.author[h] = internedIn(byOf, createdBy[i] as number, internAuthor);
      const uk = updatedAt[i] as number;
      let t = Number.NaN;
      if (uk >= 0) {
        t = timeOf[uk] as number;
        if (t === -1) {
          const parsed = Date.parse(strings[uk] as string);
          timeOf[uk] = t = Number.isFinite(parsed) ? parsed : Number.NaN;
        }
      }
      this.updated[h] = t;
      this.live++;
      cs.created.push(h);
    }
    if (cs.created.length) for (const fn of this.observers) fn(cs);
    return { cs, handles };
  }

  /** Records the server's version after a save (no change set: nothing visible changed). */
  setVersion(id: string, version: number): void {
    const h = this.byId.get(id);
    if (h !== undefined) this.version[h] = version;
  }

  /** Bytes held in typed arrays (columns and geometry pools). */
  typedBytes(): number {
    let n = this.box.byteLength + this.author.byteLength + this.updated.byteLength + this.version.byteLength + this.flags.byteLength + this.kind.byteLength + this.cls.byteLength + this.gtype.byteLength + this.otype.byteLength;
    n += this.cChunk.byteLength + this.cAt.byteLength + this.cLen.byteLength + this.pChunk.byteLength + this.pAt.byteLength + this.pLen.byteLength;
    for (const c of this.coords.chunks) n += c.byteLength;
    for (const c of this.parts.chunks) n += c.byteLength;
    return n;
  }

  /** Handles of all live annotations. */
  *handles(): Generator<Handle> {
    for (let h = 0; h < this.n; h++) if (!(this.flags[h]! & FLAG_DELETED)) yield h;
  }
}
