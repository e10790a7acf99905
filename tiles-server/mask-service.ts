/**
 * Masks for the HTTP routes: slide checks (size and MPP from the slide
 * registry; a project slide's masks are stored under its project-slide id),
 * the writer check (a user paints only their own mask: the annotator is
 * their user id, and so is the author of every change), tile batches, stats, the TIFF export and label-image imports
 * (each decoded in a child process of its own, a few at a time).
 */
import { nobody, type WhoIs } from './http/authors.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WsiError } from '../src/core/errors.js';
import { isModelMaskAnnotator } from '../src/core/model-mask.js';
import { MASK_TILE, tilesCovering } from '../src/core/mask/mask-grid.js';
import { checkLabelImageSize } from './masks/label-image.js';
import type { LabelJob } from './masks/label-import.js';
import { encodePack } from './masks/tile-codec.js';
import type { Upload } from './masks/upload.js';
import { parseTileOps, validateTileOps } from './masks/tile-ops.js';
import { rasterizeAnnotations, type RasterizeRequest } from './masks/rasterize-annotations.js';
import { asciiJson, writeMaskTiff } from './masks/tiff-export.js';
import type { SlideScope } from './identity/access-service.js';
import type { SlideRegistry } from './slides/registry.js';
import type { AnnotationStore } from './store/annotation-store.js';
import { operationHash, type MaskStore, type OperationResult } from './store/mask-store.js';
import { runProcessJob } from './workers.js';

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
  upload: Upload;
  table: string | null;
  x: number;
  y: number;
  downsample: number;
}

export interface MaskImportOptions {
  dbPath: string;
  /** DB_MAX_MB in bytes (0: none), kept by the import's own connection too. */
  dbMaxBytes: number;
  /** Where uploads are spooled. */
  spoolDir: string;
  /** MASK_IMPORT_MAX_PIXELS */
  maxPixels: number;
  /** MASK_IMPORT_CONCURRENCY: imports decoding at once; past it 503. */
  concurrency: number;
  /** IMAGE_THREAD_NICE: the decoding process's niceness (thread-priority.ts). */
  nice?: number;
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
  private importing = 0;
  /** Account names for history answers (set once accounts exist: app.ts). */
  whoIs: WhoIs = nobody;
  /** Told after a write to a slide's masks succeeded (the agreement service's caches: app.ts). */
  onChange: (slideId: string) => void = () => undefined;

  constructor(
    readonly store: MaskStore,
    private readonly classes: AnnotationStore,
    private readonly registry: SlideRegistry,
    readonly imports: MaskImportOptions,
  ) {}

  /** Checks that the project slide's slide is in the folder (reading stored tiles needs no more); the id its masks are stored under. */
  async slideId(scope: SlideScope): Promise<string> {
    if (!(await this.registry.entryOf(scope.slideId))) throw new WsiError('SLIDE_NOT_FOUND', `no slide with id ${scope.projectSlideId}`);
    return scope.projectSlideId;
  }

  /** The slide's file name in the folder (only for callers who see file names: see http/download-name.ts). */
  async fileNameOf(scope: SlideScope): Promise<string | undefined> {
    return (await this.registry.entryOf(scope.slideId))?.name;
  }

  /** Checks that the slide is readable; its size and MPP (for writes, stats and exports), under the project-slide id. */
  async slide(scope: SlideScope): Promise<SlideInfo> {
    const id = await this.slideId(scope);
    const { meta } = await this.registry.get(scope.slideId);
    return { id, width: meta.width, height: meta.height, mpp: meta.mpp };
  }

  annotator(raw: string): string {
    let name: string;
    try {
      name = decodeURIComponent(raw);
    } catch {
      throw new WsiError('BAD_REQUEST', 'malformed percent-encoding in the annotator');
    }
    if (!ANNOTATOR.test(name) && !isModelMaskAnnotator(name)) throw new WsiError('BAD_REQUEST', 'an annotator is 1–64 characters of letters, digits, . _ @ -');
    return name;
  }

  /**
   * Checks a write to a mask before it runs (reviews lock painted regions
   * under review or accepted: review-service.ts). `tiles` null: a write whose
   * tiles are not known beforehand (label import, rasterize). Set at start.
   */
  writeGuard: (slideId: string, annotator: string, tiles: ReadonlyArray<{ tx: number; ty: number }> | null) => void = () => undefined;

  /** A user writes only their own mask (the annotator in the URL is their user id). */
  requireWriter(annotator: string, userId: string): void {
    if (isModelMaskAnnotator(annotator)) throw new WsiError('MODEL_MASK_READ_ONLY', "a model run's mask is its output and stays as the model made it; paint corrections on your own mask (POST …/model-runs/{run}/mask/corrected copies the model's mask into it)");
    if (annotator !== userId) throw new WsiError('FORBIDDEN', `you paint your own mask (annotator ${userId}); the mask of ${annotator} is theirs to change`);
  }

  /** The class table of a slide's mask: its project's palette with ids, plus classes not in it (removed, or another project's) whose ids `present` holds. */
  classTable(slideId: string, present: Iterable<string | number> = []): ClassEntry[] {
    const out: ClassEntry[] = [];
    for (const c of this.classes.palettes.ofSlide(slideId)) if (c.id !== null) out.push({ id: c.id, name: c.name, color: c.color });
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
    this.writeGuard(s.id, annotator, ops);
    const known = new Set(this.classTable(s.id).filter((c) => !c.removed).map((c) => c.id));
    const writes = await validateTileOps(ops, s.width, s.height, (id) => known.has(id), signal);
    await this.store.prepareHistory(s.id, annotator, writes, signal);
    // checked again inside the write's transaction: a review may have locked the region while the tiles were checked
    const r = this.store.applyBatch(s.id, annotator, opId, hash, annotator, writes, () => this.writeGuard(s.id, annotator, ops));
    if (r.status < 300) this.onChange(s.id);
    return r;
  }

  summary(s: SlideInfo, annotator: string): Record<string, unknown> {
    const { pixels, tiles } = this.store.counts(s.id, annotator);
    const mpp = s.mpp;
    const areaUm2 = mpp === null ? null : Object.fromEntries(Object.entries(pixels).map(([id, n]) => [id, n * mpp * mpp]));
    return {
      annotator,
      slide: s.id,
      mpp,
      classes: this.classTable(s.id, Object.keys(pixels)),
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
      classes: this.classTable(s.id, present),
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

  /** Refuses (503, Retry-After) when every label-import slot is taken: call before receiving the upload, and again to take a slot. */
  admitImport(): void {
    if (this.importing >= this.imports.concurrency) {
      throw new WsiError('OVERLOADED', `${this.importing} label-image import(s) are running, the most this server decodes at once (MASK_IMPORT_CONCURRENCY); retry shortly`);
    }
  }

  /** Runs `fn` in one of the label-import slots (503 OVERLOADED when all are taken). */
  async withImportSlot<T>(fn: () => Promise<T>): Promise<T> {
    this.admitImport();
    this.importing++;
    try {
      return await fn();
    } finally {
      this.importing--;
    }
  }

  /**
   * Imports a spooled label image: replays a used operation id, checks the
   * placement and the size the header claims, then decodes, composes and
   * writes in a child process of its own (masks/label-import.ts).
   */
  async importLabels(s: SlideInfo, annotator: string, opId: string, inp: LabelImport): Promise<OperationResult> {
    const hash = operationHash(['mask-import', s.id, annotator, `${inp.x},${inp.y},${inp.downsample}`, inp.table ?? '', inp.upload.image.hash]);
    const prior = this.store.prior(opId, s.id, hash);
    if (prior) return prior;
    this.writeGuard(s.id, annotator, null);
    if (inp.x >= s.width || inp.y >= s.height) {
      throw new WsiError('BAD_REQUEST', `the image would start at (${inp.x}, ${inp.y}), outside the slide (${s.width} × ${s.height} px); nothing was imported`);
    }
    await checkLabelImageSize(inp.upload.image.path, this.imports.maxPixels);
    this.admitImport();
    this.importing++;
    try {
      const job: LabelJob = { slide: s, annotator, opId, hash, author: annotator, path: inp.upload.image.path, table: inp.table, x: inp.x, y: inp.y, downsample: inp.downsample, maxPixels: this.imports.maxPixels };
      const r = await runProcessJob<OperationResult>(new URL('./masks/label-import-process.js', import.meta.url), { dbPath: this.imports.dbPath, maxBytes: this.imports.dbMaxBytes, job }, 'mask import', this.imports.nice ?? 0);
      this.onChange(s.id);
      return r;
    } finally {
      this.importing--;
    }
  }

  /** Paints regions of interest (or chosen annotations) into the mask, largest first (see masks/rasterize-annotations.ts). */
  async rasterize(s: SlideInfo, annotator: string, opId: string, req: RasterizeRequest, signal?: AbortSignal): Promise<OperationResult> {
    // a dry run writes nothing
    if (!req.dryRun) this.writeGuard(s.id, annotator, null);
    const r = await rasterizeAnnotations(this.store, this.classes, s, annotator, annotator, opId, req, signal, () => this.writeGuard(s.id, annotator, null));
    if (!req.dryRun) this.onChange(s.id);
    return r;
  }

}
