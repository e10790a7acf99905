/**
 * Masks for the HTTP routes: slide checks (size and MPP from the slide
 * registry), the writer check (the configured local user paints only their
 * own mask), tile batches, stats, the TIFF export and label-image imports.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, inflateSync } from 'node:zlib';
import type { AnnotationClass } from '../src/core/annotation.js';
import { WsiError } from '../src/core/errors.js';
import { MASK_TILE, MASK_TILE_PIXELS, tilesCovering } from '../src/core/mask/mask-grid.js';
import { generatedColour, parseClassTable } from './masks/class-table.js';
import { decodeLabelImage } from './masks/label-image.js';
import { codeHistogram, composeTile, importRegion, importedPixels, importedPixelsAsync, type Placement } from './masks/mask-import.js';
import { countsJson, deflateTile, encodePack, histogram, inflateTile } from './masks/tile-codec.js';
import { parseTileOps, validateTileOps } from './masks/tile-ops.js';
import { rasterizeAnnotations, type RasterizeRequest } from './masks/rasterize-annotations.js';
import { asciiJson, writeMaskTiff } from './masks/tiff-export.js';
import type { SlideRegistry } from './slides/registry.js';
import type { AnnotationStore } from './store/annotation-store.js';
import { encodeVersionAsync } from './store/mask-history.js';
import { operationHash, type MaskStore, type OperationResult, type TileWrite } from './store/mask-store.js';

export interface SlideInfo {
  id: string;
  width: number;
  height: number;
  mpp: number | null;
}

export interface ClassEntry {
  id: number;
  name: string;
  color: string;
  /** Set for an id the mask holds whose class was removed from the palette. */
  removed?: true;
}

export interface LabelImport {
  image: Buffer;
  table: string | null;
  x: number;
  y: number;
  downsample: number;
}

export interface ExportedFile {
  path: string;
  bytes: number;
  cleanup(): Promise<void>;
}

const ANNOTATOR = /^[\w.@-]{1,64}$/;
export const PYRAMID_RULE =
  'each level halves the one above: a 2x2 block becomes 0 only when all four are 0 (labelled beats unlabelled), else its most frequent class id; ties go to the smaller id';

export class MaskService {
  constructor(
    readonly store: MaskStore,
    private readonly classes: AnnotationStore,
    private readonly registry: SlideRegistry,
    readonly author: string,
  ) {}

  /** Checks that a slide id names a slide in the folder (reading stored tiles needs no more). */
  async slideId(id: string): Promise<string> {
    await this.registry.scan();
    if (!this.registry.entry(id)) throw new WsiError('SLIDE_NOT_FOUND', `no slide with id ${id}`);
    return id;
  }

  /** Checks that a slide id names a readable slide; its size and MPP (for writes, stats and exports). */
  async slide(id: string): Promise<SlideInfo> {
    await this.slideId(id);
    const { meta } = await this.registry.get(id);
    return { id, width: meta.width, height: meta.height, mpp: meta.mpp };
  }

  annotator(raw: string): string {
    let name: string;
    try {
      name = decodeURIComponent(raw);
    } catch {
      throw new WsiError('BAD_REQUEST', 'malformed percent-encoding in the annotator');
    }
    if (!ANNOTATOR.test(name)) throw new WsiError('BAD_REQUEST', 'an annotator is 1–64 characters of letters, digits, . _ @ -');
    return name;
  }

  /** Only the configured local user writes, and only their own mask. */
  requireWriter(annotator: string): void {
    if (annotator !== this.author) throw new WsiError('FORBIDDEN', `this server writes as "${this.author}"; the mask of "${annotator}" is theirs to change`);
  }

  /** The class table: the palette's classes with ids, plus removed classes whose ids `present` holds. */
  classTable(present: Iterable<string | number> = []): ClassEntry[] {
    const out: ClassEntry[] = [];
    for (const c of this.classes.classes()) if (c.id !== null) out.push({ id: c.id, name: c.name, color: c.color });
    const listed = new Set(out.map((c) => c.id));
    const want = new Set([...present].map(Number));
    for (const c of this.classes.everyClassId()) if (want.has(c.id) && !listed.has(c.id)) out.push({ id: c.id, name: c.name, color: c.color, removed: true });
    return out;
  }

  pack(slideId: string, annotator: string, bbox?: [number, number, number, number]): Buffer[] {
    const range = bbox ? tilesCovering(bbox[0], bbox[1], Math.max(bbox[2], bbox[0] + 1), Math.max(bbox[3], bbox[1] + 1)) : undefined;
    return encodePack(this.store.tiles(slideId, annotator, range));
  }

  async writeTiles(s: SlideInfo, annotator: string, opId: string, body: unknown, signal?: AbortSignal): Promise<OperationResult> {
    const ops = parseTileOps(body, s.width, s.height);
    const hash = operationHash(['mask-tiles', s.id, annotator, JSON.stringify(body)]);
    const prior = this.store.prior(opId, s.id, hash);
    if (prior) return prior;
    const known = new Set(this.classTable().filter((c) => !c.removed).map((c) => c.id));
    const writes = await validateTileOps(ops, s.width, s.height, (id) => known.has(id), signal);
    await this.store.prepareHistory(s.id, annotator, writes, signal);
    return this.store.applyBatch(s.id, annotator, opId, hash, this.author, writes);
  }

  summary(s: SlideInfo, annotator: string): Record<string, unknown> {
    const { pixels, tiles } = this.store.counts(s.id, annotator);
    const mpp = s.mpp;
    const areaUm2 = mpp === null ? null : Object.fromEntries(Object.entries(pixels).map(([id, n]) => [id, n * mpp * mpp]));
    return {
      annotator,
      slide: s.id,
      mpp,
      classes: this.classTable(Object.keys(pixels)),
      pixels,
      areaUm2,
      tiles,
    };
  }

  async exportTiff(s: SlideInfo, annotator: string, signal?: AbortSignal): Promise<ExportedFile> {
    const snap = this.store.snapshot(s.id, annotator);
    const present = new Set<string>();
    for (const t of snap) for (const id of Object.keys(JSON.parse(t.pixels) as Record<string, number>)) present.add(id);
    const description = asciiJson({
      format: 'wsi-annotate-mask',
      slide: s.id,
      annotator,
      width: s.width,
      height: s.height,
      mpp: s.mpp,
      tile: MASK_TILE,
      unlabelled: 0,
      classes: this.classTable(present),
      pyramid: PYRAMID_RULE,
      exportedAt: new Date().toISOString(),
    });
    const dir = await mkdtemp(join(tmpdir(), 'wsi-mask-export-'));
    const cleanup = (): Promise<void> => rm(dir, { recursive: true, force: true });
    try {
      const path = join(dir, 'mask.tiff');
      const r = await writeMaskTiff(path, {
        width: s.width,
        height: s.height,
        mpp: s.mpp,
        description,
        tiles: snap.map((t) => ({ tx: t.tx, ty: t.ty, seq: t.seq, bytes: t.bytes, empty: t.pixels === '{}' })),
        readTile: (seq) => this.store.dataAt(seq),
        ...(signal ? { signal } : {}),
      });
      return { path, bytes: r.bytes, cleanup };
    } catch (err) {
      await cleanup();
      throw err;
    }
  }

  /** Which class id each code of the image becomes, and the classes to add; refuses unknown codes. */
  private codeMap(codes: number[], tableText: string | null): { lut: Uint8Array; names: Map<number, string> | null; add: AnnotationClass[]; warnings: string[] } {
    const lut = new Uint8Array(256);
    const palette = this.classes.classes();
    if (tableText === null) {
      const ids = new Set(palette.map((c) => c.id));
      const unknown = codes.filter((c) => !ids.has(c));
      if (unknown.length > 0) {
        throw new WsiError('INVALID_MASK', `the image holds the value${unknown.length > 1 ? 's' : ''} ${unknown.slice(0, 20).join(', ')}, which ${unknown.length > 1 ? 'are' : 'is'} not a class id in the registry (GET /api/classes); send a class table (classes) that names them`, { values: unknown });
      }
      for (const c of codes) lut[c] = c;
      return { lut, names: null, add: [], warnings: [] };
    }
    const table = parseClassTable(tableText);
    const missing = codes.filter((c) => !table.codes.has(c));
    if (missing.length > 0) {
      throw new WsiError('INVALID_MASK', `the image holds the code${missing.length > 1 ? 's' : ''} ${missing.slice(0, 20).join(', ')}, which the class table does not name`, { codes: missing });
    }
    const byName = new Map(palette.map((c) => [c.name, c]));
    const names = codes.map((c) => table.codes.get(c)?.name as string);
    const add: AnnotationClass[] = [];
    for (const c of codes) {
      const e = table.codes.get(c) as { name: string; color: string | null };
      const have = byName.get(e.name);
      if (have && have.id === null) throw new WsiError('CLASS_IDS_EXHAUSTED', `class "${e.name}" has no mask id (the registry ran out of ids); map the code to another class`);
      if (!have && !add.some((a) => a.name === e.name)) add.push({ name: e.name, color: e.color ?? generatedColour(e.name), hotkey: null });
    }
    const ids = this.classes.previewClassIds(names);
    codes.forEach((c, i) => (lut[c] = ids.get(names[i] as string) as number));
    return { lut, names: new Map(codes.map((c, i) => [c, names[i] as string])), add, warnings: table.warnings };
  }

  async importLabels(s: SlideInfo, annotator: string, opId: string, inp: LabelImport, signal?: AbortSignal): Promise<OperationResult> {
    const hash = operationHash(['mask-import', s.id, annotator, `${inp.x},${inp.y},${inp.downsample}`, inp.table ?? '', inp.image]);
    const prior = this.store.prior(opId, s.id, hash);
    if (prior) return prior;
    if (inp.x >= s.width || inp.y >= s.height) {
      throw new WsiError('BAD_REQUEST', `the image would start at (${inp.x}, ${inp.y}), outside the slide (${s.width} × ${s.height} px); nothing was imported`);
    }
    const img = await decodeLabelImage(inp.image);
    const hist = await codeHistogram(img);
    const codes: number[] = [];
    for (let c = 1; c < 256; c++) if ((hist[c] as number) > 0) codes.push(c);
    const { lut, names, add, warnings: tableWarnings } = this.codeMap(codes, inp.table);
    const p: Placement = { x: inp.x, y: inp.y, downsample: inp.downsample, slideWidth: s.width, slideHeight: s.height };
    const r = importRegion(img, p);
    const warnings = [...img.warnings, ...tableWarnings, ...r.warnings];
    const pixels = await importedPixelsAsync(img, p, r, lut);
    if (codes.length === 0) warnings.push('the image holds only 0 ("leave as is"); nothing changed');

    // compose off the transaction (inflate/deflate on the thread pool), noting the version each
    // tile of the region had; then commit in one go, redoing a tile here only if it changed since
    type Planned = { tx: number; ty: number; base: number; data: Buffer; pixels: string; history?: TileWrite['history'] };
    const seen = new Map<string, { base: number; plan: Planned | null }>();
    for (let ty = r.ty0; ty <= r.ty1 && codes.length > 0; ty++) {
      for (let tx = r.tx0; tx <= r.tx1; tx++) {
        signal?.throwIfAborted();
        const head = this.store.head(s.id, annotator, tx, ty);
        const base = head?.version ?? 0;
        const before = head ? await inflateTile(head.data) : null;
        const out = composeTile(before, tx, ty, img, p, r, lut);
        let plan: Planned | null = null;
        if (out) {
          const data = await deflateTile(out);
          plan = { tx, ty, base, data, pixels: countsJson(histogram(out)), history: { base, stored: await encodeVersionAsync(base + 1, before, out, data) } };
        }
        seen.set(`${tx},${ty}`, { base, plan });
      }
    }
    return this.store.runOperation(opId, s.id, hash, 201, (at) => {
      const classesAdded = add.length > 0 ? this.classes.ensureClasses(add) : [];
      // the registry may have given other ids than foreseen (a concurrent class change): redo all
      const lutNow = names === null ? lut : this.lutFor(names, lut);
      let tiles = 0;
      for (const [key, was] of seen) {
        const [tx, ty] = key.split(',').map(Number) as [number, number];
        const head = this.store.head(s.id, annotator, tx, ty);
        let write = lutNow === lut && (head?.version ?? 0) === was.base ? was.plan : null;
        if (!write && (lutNow !== lut || (head?.version ?? 0) !== was.base)) {
          const base = head ? new Uint8Array(inflateSync(head.data, { maxOutputLength: MASK_TILE_PIXELS })) : null;
          const out = composeTile(base, tx, ty, img, p, r, lutNow);
          if (out) write = { tx, ty, base: head?.version ?? 0, data: deflateSync(out), pixels: countsJson(histogram(out)) };
        }
        if (!write) continue;
        this.store.writeTile(s.id, annotator, { tx, ty, ifMatch: null, data: write.data, pixels: write.pixels, ...(write.history ? { history: write.history } : {}) }, tiles, 'import', this.author, at, opId);
        tiles++;
      }
      return { tiles, pixels: lutNow === lut ? pixels : importedPixels(img, p, r, lutNow), classesAdded, warnings };
    });
  }

  /** Paints regions of interest (or chosen annotations) into the mask, largest first (see masks/rasterize-annotations.ts). */
  rasterize(s: SlideInfo, annotator: string, opId: string, req: RasterizeRequest, signal?: AbortSignal): Promise<OperationResult> {
    return rasterizeAnnotations(this.store, this.classes, s, annotator, this.author, opId, req, signal);
  }

  /** The code → id table with the ids the registry gives the names now (the same object when nothing moved). */
  private lutFor(names: Map<number, string>, planned: Uint8Array): Uint8Array {
    let now: Uint8Array | null = null;
    for (const [code, name] of names) {
      const id = this.classes.classIdOf(name);
      if (id === null) throw new WsiError('INTERNAL', `class ${name} has no mask id after it was added`);
      if (id !== planned[code]) {
        now ??= new Uint8Array(planned);
        now[code] = id;
      }
    }
    return now ?? planned;
  }
}
