/**
 * AI masks of model runs (issue 13, docs/ai-corrections.md "AI masks"):
 *
 * - import: a run's output as a label image (values = class ids of the
 *   project's palette) or as one probability map per class (argmax, with a
 *   least probability below which a pixel stays unlabelled), covering the
 *   whole slide at a downsample; decoded in a child process
 *   (masks/model-mask-import.ts) and written to the run's read-only mask
 *   layer `@model:<run>` (src/core/model-mask.ts). One import per run, one
 *   at a time; the size each image claims is checked before any decoding.
 * - corrected layer: an annotator asks for it and gets a copy of the
 *   model's tiles in their own mask (which must have nothing painted), as
 *   one mask operation; from then on they correct it with the ordinary
 *   paint path, so every correction is a tile version in the history.
 * - the report's mask part: for every corrected layer, the confusion model
 *   class × final class counted over every pixel of the slide (and of each
 *   of the run's checked areas) by the agreement's counting workers
 *   (agreement/count-job.ts), with the model as reader 0 and the corrected
 *   layer as reader 1.
 */
import { WsiError } from '../src/core/errors.js';
import { confusionFromMatrix, type MaskConfusion, type MaskCorrectionReport } from '../src/core/corrections-report.js';
import { labelOf } from '../src/core/agreement/tuples.js';
import { flatten, forEachRing, ringsBounds } from '../src/core/flat-geometry.js';
import type { PixelBox } from '../src/core/mask/raster.js';
import { modelMaskAnnotator } from '../src/core/model-mask.js';
import type { AgreementService } from './agreement-service.js';
import type { SlideScope } from './identity/access-service.js';
import type { MaskService, SlideInfo } from './mask-service.js';
import { readImageHeader } from './masks/image-header.js';
import { checkLabelImageSize } from './masks/label-image.js';
import type { MapUpload } from './masks/map-upload.js';
import { expectedSize, sizeMismatch, type ModelMaskJob } from './masks/model-mask-import.js';
import { DEFAULT_MIN_PROBABILITY, type ProbabilityMap } from './masks/probability-maps.js';
import type { Upload } from './masks/upload.js';
import type { AnnotationStore } from './store/annotation-store.js';
import { operationHash, type OperationResult, type TileWrite } from './store/mask-store.js';
import type { ModelMask, ModelMaskStore } from './store/model-masks.js';
import type { ModelRun, ModelRunStore } from './store/model-runs.js';
import { runProcessJob } from './workers.js';

export type MaskBody = { form: 'label-image'; upload: Upload } | { form: 'probability-maps'; upload: MapUpload };

export interface MaskImportParams {
  downsample: number;
  /** Probability maps: the least winning probability that labels a pixel (default 0.5). */
  minProbability: number | null;
  /** Probability maps: the classes the model predicts (default: every class of the palette); each needs a map. */
  classes: string[] | null;
}

export interface ModelMaskServiceDeps {
  masks: MaskService;
  runs: ModelRunStore;
  store: ModelMaskStore;
  classes: AnnotationStore;
  agreement: AgreementService;
}

export class ModelMaskService {
  /** Runs whose mask is being imported. */
  private readonly busy = new Set<string>();

  constructor(private readonly d: ModelMaskServiceDeps) {}

  /** Where uploads are spooled (the mask imports' folder). */
  get spoolDir(): string {
    return this.d.masks.imports.spoolDir;
  }

  private async target(scope: SlideScope, runId: string): Promise<{ slide: SlideInfo; run: ModelRun }> {
    const slide = await this.d.masks.slide(scope);
    return { slide, run: this.d.runs.ofSlide(slide.id, runId) };
  }

  /** The run's mask record and its corrected layers. */
  async describe(scope: SlideScope, runId: string): Promise<Record<string, unknown>> {
    const { slide, run } = await this.target(scope, runId);
    const mask = this.requireMask(run);
    return { ...mask, layer: modelMaskAnnotator(run.id), classes: this.d.masks.classTable(slide.id, Object.keys(mask.pixels)), corrected: this.d.store.corrected(run.id) };
  }

  private requireMask(run: ModelRun): ModelMask {
    const mask = this.d.store.get(run.id);
    if (!mask) throw new WsiError('MODEL_MASK_NOT_FOUND', `model run ${run.id} has no mask${run.state === 'imported' ? ' (its output is objects)' : ' yet'}`);
    return mask;
  }

  /**
   * Imports a run's mask. `receive` reads the body (after the run is known
   * to take one and claimed, so a second import is told before it uploads);
   * `cleanup` removes the spooled files, whatever happens.
   */
  async importMask(scope: SlideScope, author: string, opId: string, runId: string, p: MaskImportParams, receive: () => Promise<MaskBody>): Promise<OperationResult> {
    const { slide, run } = await this.target(scope, runId);
    const masks = this.d.masks;
    // a retry of the import that filled this run goes on, to be answered from its record
    if (run.state !== 'pending' && run.importOp !== opId) {
      throw new WsiError('MODEL_RUN_HAS_PREDICTIONS', `model run ${run.id} already has its output (${run.format ?? 'imported'} ${run.importedAt ?? ''}); create a new run for another file`);
    }
    if (this.busy.has(run.id)) throw new WsiError('MODEL_MASK_IMPORT_IN_PROGRESS', `a mask is being imported into model run ${run.id}; wait for its answer (the same Idempotency-Key replays it)`);
    masks.admitImport();
    this.busy.add(run.id);
    let body: MaskBody | null = null;
    try {
      body = await receive();
      const files = body.form === 'label-image' ? [body.upload.image.hash] : body.upload.maps.map((m) => `${m.name}\0${m.file.hash}`);
      const hash = operationHash(['model-mask', slide.id, run.id, body.form, String(p.downsample), String(p.minProbability ?? ''), JSON.stringify(p.classes), ...files]);
      const prior = masks.store.prior(opId, slide.id, hash);
      if (prior) return prior;
      const expect = expectedSize(slide, p.downsample);
      const job: ModelMaskJob = {
        slide,
        annotator: modelMaskAnnotator(run.id),
        opId,
        hash,
        author,
        path: '',
        table: null,
        x: 0,
        y: 0,
        downsample: p.downsample,
        maxPixels: masks.imports.maxPixels,
        runId: run.id,
        form: body.form,
        maps: [],
        minProbability: null,
        expect,
      };
      if (body.form === 'label-image') {
        if (body.upload.classes !== null) throw new WsiError('BAD_REQUEST', "a model mask's values are class ids of the project's palette; it takes no class table");
        job.path = body.upload.image.path;
        await this.checkHeader(job.path, 'the mask', slide, p.downsample, expect);
      } else {
        job.maps = this.mapClasses(slide.id, body.upload, p.classes);
        job.minProbability = p.minProbability ?? DEFAULT_MIN_PROBABILITY;
        let first: { name: string; width: number; height: number } | null = null;
        for (const m of job.maps) {
          const h = await this.checkHeader(m.path, `the probability map of "${m.name}"`, slide, p.downsample, null);
          if (!h) continue;
          if (first && (h.width !== first.width || h.height !== first.height)) {
            throw new WsiError('MODEL_MASK_SIZE_MISMATCH', `the probability maps differ in size: "${first.name}" is ${first.width} × ${first.height}, "${m.name}" is ${h.width} × ${h.height}; every map covers the same pixels`, {
              first: { class: first.name, width: first.width, height: first.height },
              other: { class: m.name, width: h.width, height: h.height },
            });
          }
          first ??= { name: m.name, width: h.width, height: h.height };
        }
        if (first && (first.width !== expect.width || first.height !== expect.height)) throw sizeMismatch(first, expect, p.downsample, slide);
      }
      const r = await masks.withImportSlot(() =>
        runProcessJob<OperationResult>(new URL('./masks/model-mask-process.js', import.meta.url), { dbPath: masks.imports.dbPath, maxBytes: masks.imports.dbMaxBytes, job }, 'model mask import', masks.imports.nice ?? 0),
      );
      if (r.status < 300) masks.onChange(slide.id);
      return r;
    } finally {
      this.busy.delete(run.id);
    }
  }

  /** The size a file claims (null when its header cannot be read: the decoder decides), refused past the pixel cap (a bomb) or, with `expect`, when it does not cover the slide. */
  private async checkHeader(path: string, what: string, slide: SlideInfo, downsample: number, expect: { width: number; height: number } | null): Promise<{ width: number; height: number } | null> {
    await checkLabelImageSize(path, this.d.masks.imports.maxPixels).catch((err: unknown) => {
      if (err instanceof WsiError) throw new WsiError(err.code, `${what}: ${err.message}`, err.detail);
      throw err;
    });
    const h = await readImageHeader(path);
    if (h && expect && (h.width !== expect.width || h.height !== expect.height)) throw sizeMismatch(h, expect, downsample, slide);
    return h;
  }

  /** Each map's class id: its part names a class of the palette; the classes the model predicts (all by default) each have one. */
  private mapClasses(slideId: string, upload: MapUpload, listed: string[] | null): ProbabilityMap[] {
    const palette = this.d.classes.palettes.ofSlide(slideId).filter((c) => c.id !== null);
    const byName = new Map(palette.map((c) => [c.name, c.id as number]));
    const unknownListed = (listed ?? []).filter((n) => !byName.has(n));
    if (unknownListed.length > 0) throw new WsiError('MODEL_MASK_CLASSES', `classes names ${unknownListed.slice(0, 10).map((n) => `"${n}"`).join(', ')}, not in this project's palette`, { unknown: unknownListed });
    const unknown = upload.maps.map((m) => m.name).filter((n) => !byName.has(n));
    if (unknown.length > 0) throw new WsiError('MODEL_MASK_CLASSES', `the maps of ${unknown.slice(0, 10).map((n) => `"${n.slice(0, 60)}"`).join(', ')} name no class of this project's palette (GET /api/slides/{id}/classes)`, { unknown: unknown.slice(0, 50) });
    const want = listed ?? palette.map((c) => c.name);
    const sent = new Set(upload.maps.map((m) => m.name));
    const missing = want.filter((n) => !sent.has(n));
    if (missing.length > 0) throw new WsiError('MODEL_MASK_CLASSES', `no probability map for ${missing.slice(0, 10).map((n) => `"${n}"`).join(', ')}: send one map per class the model predicts (${listed ? 'the classes listed' : "by default every class of the palette; list the model's classes in classes"})`, { missing });
    const extra = upload.maps.filter((m) => !want.includes(m.name)).map((m) => m.name);
    if (extra.length > 0) throw new WsiError('MODEL_MASK_CLASSES', `maps were sent for ${extra.slice(0, 10).map((n) => `"${n}"`).join(', ')}, which classes does not list`, { extra });
    return upload.maps.map((m) => ({ classId: byName.get(m.name) as number, name: m.name, path: m.file.path }));
  }

  /**
   * Gives the caller their corrected layer of the run: a copy of the
   * model's tiles in their own mask of the slide, which must hold no
   * labelled pixel yet. One mask operation (op 'import'), so the history
   * shows it and every later stroke is a version on top of it.
   */
  async deriveCorrected(scope: SlideScope, user: string, opId: string, runId: string, signal?: AbortSignal): Promise<OperationResult> {
    const { slide, run } = await this.target(scope, runId);
    const mask = this.requireMask(run);
    const store = this.d.masks.store;
    const hash = operationHash(['model-mask-corrected', slide.id, run.id, user]);
    const prior = store.prior(opId, slide.id, hash);
    if (prior) return prior;
    const already = this.d.store.correctedRunOf(slide.id, user);
    if (already !== null) {
      throw new WsiError('MODEL_MASK_LAYER_NOT_EMPTY', already === run.id ? 'your mask of this slide already is your corrected layer of this run; paint your corrections on it' : `your mask of this slide is your corrected layer of model run ${already}; one mask per slide corrects one run`, { run: already });
    }
    if (store.labelledPixels(slide.id, user) > 0) {
      throw new WsiError('MODEL_MASK_LAYER_NOT_EMPTY', "your mask of this slide already has painted pixels; the corrected layer starts as an exact copy of the model's mask, so it needs an empty mask (clear it, or have another account correct this run)");
    }
    this.d.masks.writeGuard(slide.id, user, null);
    const writes: TileWrite[] = store.tiles(slide.id, modelMaskAnnotator(run.id)).map((t) => ({ tx: t.tx, ty: t.ty, ifMatch: store.head(slide.id, user, t.tx, t.ty)?.version ?? 0, data: t.data, pixels: t.pixels }));
    await store.prepareHistory(slide.id, user, writes, signal);
    signal?.throwIfAborted();
    const r = store.runOperation(
      opId,
      slide.id,
      hash,
      201,
      (at) => {
        if (this.d.store.correctedRunOf(slide.id, user) !== null) throw new WsiError('MODEL_MASK_LAYER_NOT_EMPTY', 'your corrected layer was made meanwhile');
        const tiles = writes.map((w, i) => ({ tx: w.tx, ty: w.ty, version: store.writeTile(slide.id, user, w, i, 'import', user, at, opId) }));
        this.d.store.addCorrected(run.id, slide.id, user, opId, tiles.length, at);
        return { run: run.id, annotator: user, from: modelMaskAnnotator(run.id), pixels: mask.pixels, tiles };
      },
      () => this.d.masks.writeGuard(slide.id, user, null),
    );
    if (r.status < 300) this.d.masks.onChange(slide.id);
    return r;
  }

  /** The report's mask part for a run (null when its output is not a mask). */
  async report(scope: SlideScope, run: ModelRun, signal?: AbortSignal): Promise<MaskCorrectionReport | null> {
    const mask = this.d.store.get(run.id);
    if (!mask) return null;
    const slide = await this.d.masks.slide(scope);
    const model = modelMaskAnnotator(run.id);
    const whole = { rings: [[0, 0, slide.width, 0, slide.width, slide.height, 0, slide.height]], box: { x0: 0, y0: 0, x1: slide.width, y1: slide.height } };
    const areas = this.d.runs.areas(run.id).map((a) => ({ id: a.id, roi: this.areaRoi(slide, a.geometry) }));
    const present = new Set(Object.keys(mask.pixels));
    const corrections: MaskCorrectionReport['corrections'] = [];
    for (const layer of this.d.store.corrected(run.id)) {
      const readers = [model, layer.annotator];
      const confusion = async (roi: { rings: number[][]; box: PixelBox }): Promise<MaskConfusion> => {
        const { counts } = await this.d.agreement.roiCounts(slide, readers, roi, signal);
        const matrix: Record<string, Record<string, number>> = {};
        for (const [key, n] of counts) {
          const from = String(labelOf(key, 0));
          const to = String(labelOf(key, 1));
          present.add(to);
          const row = (matrix[from] ??= {});
          row[to] = (row[to] ?? 0) + n;
        }
        return confusionFromMatrix(matrix);
      };
      const checked: MaskCorrectionReport['corrections'][number]['checkedAreas'] = [];
      for (const a of areas) if (a.roi) checked.push({ id: a.id, confusion: await confusion(a.roi) });
      corrections.push({ annotator: layer.annotator, derivedAt: layer.createdAt, slide: await confusion(whole), checkedAreas: checked });
    }
    present.delete('0');
    return {
      layer: model,
      form: mask.form,
      downsample: mask.downsample,
      minProbability: mask.minProbability,
      classes: this.d.masks.classTable(slide.id, present),
      modelPixels: mask.pixels,
      corrections,
    };
  }

  /** A checked area as the counting workers' ROI (null when it lies outside the slide). */
  private areaRoi(slide: SlideInfo, geometry: Parameters<typeof flatten>[0]): { rings: number[][]; box: PixelBox } | null {
    const f = flatten(geometry);
    const rings: number[][] = [];
    forEachRing(f.type, f.parts, (start, count) => rings.push(Array.from(f.coords.subarray(start * 2, (start + count) * 2))));
    const [minX, minY, maxX, maxY] = ringsBounds(rings);
    const box = { x0: Math.max(0, Math.floor(minX)), y0: Math.max(0, Math.floor(minY)), x1: Math.min(slide.width, Math.ceil(maxX) + 1), y1: Math.min(slide.height, Math.ceil(maxY) + 1) };
    return box.x1 > box.x0 && box.y1 > box.y0 ? { rings, box } : null;
  }
}
