/**
 * Agreement between readers' painted masks (issue 14): the metrics inside a
 * shared ROI (an annotation polygon), counted exactly over every pixel in
 * worker threads, with majority vote and STAPLE on the joint counts; the
 * slide's disagreement map (cached per set of readers and their masks'
 * versions); and who said what at a point. Routes: http/agreement-routes.ts
 * (the 'review' action: only reviewers and managers, who see every
 * reader's work even in blind projects). The metrics themselves are
 * src/core/agreement/.
 */
import { LRUCache } from 'lru-cache';
import { createHash } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import { isAnnotationId, type Annotation } from '../src/core/annotation.js';
import { majorityOf, majoritySummary, stapleFromCounts, UNDECIDED } from '../src/core/agreement/consensus.js';
import { maskAgreement, type MaskAgreement } from '../src/core/agreement/mask-metrics.js';
import { MAX_READERS, mergeCounts, type TupleCounts } from '../src/core/agreement/tuples.js';
import { WsiError } from '../src/core/errors.js';
import { flatten, forEachRing, ringsBounds } from '../src/core/flat-geometry.js';
import { MASK_TILE } from '../src/core/mask/mask-grid.js';
import type { PixelBox } from '../src/core/mask/raster.js';
import type { AuditEvent } from './audit/audit-log.js';
import type { CountJob, CountResult } from './agreement/count-job.js';
import { uniformClass } from './agreement/count-job.js';
import { DisagreementMap } from './agreement/disagreement-map.js';
import { matchReaders, objectsOf, roiShape, type ObjectPairReport, type ObjectQuery, type ReaderObjects } from './agreement/object-agreement.js';
import type { SlideScope } from './identity/access-service.js';
import type { ClassEntry, MaskService, SlideInfo } from './mask-service.js';
import { inflateTile } from './masks/tile-codec.js';
import type { AgreementStore } from './store/agreement-store.js';
import type { AnnotationStore } from './store/annotation-store.js';
import { runWorkerJob } from './workers.js';

/** Worker threads per computation. */
export const AGREEMENT_WORKERS = 2;
/** Computations (and map builds) running at once; past it 503. */
export const AGREEMENT_CONCURRENCY = 2;

const READER = /^[\w.@-]{1,64}$/;

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return Math.round((d.user + d.system) / 1000);
}

export interface AgreementOptions {
  dbPath: string;
  /** AGREEMENT_MAX_PIXELS: the largest ROI (its bounding box inside the slide, level-0 pixels) one computation counts. */
  maxPixels: number;
  /** Worker threads per computation (default AGREEMENT_WORKERS). */
  workers?: number;
}

export interface AgreementReport {
  slide: string;
  roi: string;
  readers: Array<{ id: string; username: string | null }>;
  /** Pixels counted (the ROI's pixels inside the slide). */
  pixels: number;
  box: PixelBox;
  classes: ClassEntry[];
  metrics: MaskAgreement;
  majority: { pixels: Record<string, number>; undecided: number };
  staple: {
    iterations: number;
    converged: boolean;
    classes: number[];
    /** Per reader (in `readers` order): per class id, P(says it | it is the truth), and P(does not say it | it is not). */
    readers: Array<{ id: string; sensitivity: Record<string, number>; specificity: Record<string, number | null>; confusion: number[][] }>;
    consensus: Record<string, number>;
  };
  rules: Record<string, string>;
  /** `cpuMs`: the server process's CPU time during the computation, all threads (other requests' included). */
  timing: { ms: number; cpuMs: number; workers: number; inflatedTiles: number; uniformTiles: number };
}

/** The query of an object comparison, as given. */
export interface ObjectParams {
  roi: string | null;
  readers: string | null;
  kind: string | null;
  iou: string | null;
  distanceUm: string | null;
}

export class AgreementService {
  private running = 0;
  private readonly maps = new LRUCache<string, Promise<DisagreementMap>>({ max: 4 });
  /** Joint counts already made, keyed by the readers' mask versions and the ROI: a report asked again counts nothing. */
  private readonly counted = new LRUCache<string, TupleCounts>({ max: 32 });
  /** Audit records of computations (set by app.ts). */
  audit: (e: AuditEvent) => void = () => undefined;
  /** Per slide: a count of the mask writes this process saw (MaskService.onChange), and what was read from the store at that count. */
  private readonly generations = new Map<string, number>();
  private readonly known = new Map<string, { generation: number; painted: Set<string>; stamps: Map<string, string> }>();

  constructor(
    private readonly masks: MaskService,
    private readonly annotations: AnnotationStore,
    readonly store: AgreementStore,
    private readonly options: AgreementOptions,
  ) {}

  /** `readers=a,b,…`: 2 to MAX_READERS distinct reader ids (not yet checked against anything). */
  private parseReaders(raw: string | null): string[] {
    if (raw === null || raw.trim() === '') throw new WsiError('BAD_REQUEST', `readers=id1,id2,… is required: the ids of 2 to ${MAX_READERS} readers whose work is compared`);
    if (raw.length > 1000) throw new WsiError('BAD_REQUEST', 'the readers list is too long');
    const ids = raw.split(',').map((s) => s.trim());
    for (const id of ids) if (!READER.test(id)) throw new WsiError('BAD_REQUEST', 'a reader id is 1–64 characters of letters, digits, . _ @ -');
    if (new Set(ids).size !== ids.length) throw new WsiError('BAD_REQUEST', 'a reader is named twice in readers');
    if (ids.length < 2) throw new WsiError('BAD_REQUEST', 'agreement needs at least 2 readers');
    if (ids.length > MAX_READERS) throw new WsiError('BAD_REQUEST', `agreement compares at most ${MAX_READERS} readers at once`);
    return ids;
  }

  /** `readers=a,b,…`: 2 to MAX_READERS distinct readers, each with a mask on this slide. */
  readers(slideId: string, raw: string | null): string[] {
    const ids = this.parseReaders(raw);
    const painted = this.current(slideId).painted;
    for (const id of ids) if (!painted.has(id)) throw new WsiError('NOT_FOUND', `reader ${id} has no mask on this slide`);
    return ids;
  }

  /**
   * The parameters of an object comparison checked (readers with an
   * account, `kind`, `iou` in (0, 1], `distanceUm` in (0, 1000], the ROI)
   * and each reader's objects inside the ROI gathered.
   */
  async readerObjects(scope: SlideScope, q: ObjectParams): Promise<{ slide: SlideInfo; ids: string[]; roiAnnotation: Annotation; query: ObjectQuery; sets: ReaderObjects[]; iou: number; distanceUm: number; t0: number }> {
    const slide = await this.masks.slide(scope);
    const ids = this.parseReaders(q.readers);
    for (const id of ids) if (!(await this.masks.whoIs(id))) throw new WsiError('NOT_FOUND', `no reader ${id}`);
    if (q.kind !== 'cells' && q.kind !== 'points') throw new WsiError('BAD_REQUEST', 'kind is cells (polygons of object type detection or cell, matched at IoU ≥ iou) or points (matched within distanceUm)');
    const number = (v: string | null, fallback: number, what: string, ok: (n: number) => boolean): number => {
      if (v === null || v === '') return fallback;
      const n = /^\d{1,6}(\.\d{1,9})?$/.test(v) ? Number(v) : Number.NaN;
      if (!ok(n)) throw new WsiError('BAD_REQUEST', `${what}`);
      return n;
    };
    const iou = number(q.iou, 0.5, 'iou is a number in (0, 1]', (n) => n > 0 && n <= 1);
    const distanceUm = number(q.distanceUm, 4, 'distanceUm is a positive number of micrometres (at most 1000)', (n) => n > 0 && n <= 1000);
    if (q.kind === 'points' && !slide.mpp) throw new WsiError('BAD_REQUEST', 'this slide has no known µm per pixel, so a distance in µm cannot be used');
    this.roi(slide, q.roi);
    const roiAnnotation = this.annotations.get(q.roi as string) as Annotation;
    const t0 = performance.now();
    const shape = roiShape(roiAnnotation);
    const query: ObjectQuery = { kind: q.kind, iou, distancePx: distanceUm / (slide.mpp ?? 1) };
    const sets: ReaderObjects[] = [];
    for (const reader of ids) sets.push(await objectsOf(this.annotations, slide.id, reader, shape, roiAnnotation.id, q.kind));
    return { slide, ids, roiAnnotation, query, sets, iou, distanceUm, t0 };
  }

  /**
   * The agreement of readers' objects inside the ROI: cells matched at IoU ≥
   * `iou` (default 0.5) or points within `distanceUm` µm (default 4),
   * pair by pair (agreement/object-agreement.ts).
   */
  async objects(scope: SlideScope, actor: string, q: ObjectParams): Promise<Record<string, unknown>> {
    const { slide, ids, roiAnnotation, query, sets, iou, distanceUm, t0 } = await this.readerObjects(scope, q);
    this.admit();
    this.running++;
    let result: { objects: number[]; pairs: ObjectPairReport[] };
    try {
      // small sets are matched here; large ones in a worker thread, so the event loop keeps serving
      const size = sets.reduce((n, x) => n + x.cells.length + x.points.length, 0);
      result = size <= 2000 ? matchReaders(sets, query) : await runWorkerJob<{ objects: number[]; pairs: ObjectPairReport[] }>(new URL('./agreement/match-worker.js', import.meta.url), { sets, query }, 'object matching').result;
    } finally {
      this.running--;
    }
    const ms = Math.round(performance.now() - t0);
    this.audit({ actor, action: 'agreement.objects', projectId: scope.project.id, target: slide.id, detail: { roi: roiAnnotation.id, readers: ids.join(','), kind: q.kind, ms } });
    return {
      slide: slide.id,
      roi: roiAnnotation.id,
      kind: q.kind,
      ...(q.kind === 'cells' ? { iou } : { distanceUm, distancePx: distanceUm / (slide.mpp as number) }),
      readers: await this.names(ids),
      objects: result.objects,
      pairs: result.pairs,
      rules: {
        inside: 'an object belongs to the ROI when its reference point (a cell: the mean of its outer ring\'s vertices; a point: itself) is inside the ROI polygon',
        matching: 'one to one (Hungarian on each connected group of candidates): the most pairs, then the largest total IoU (cells) or the smallest total distance (points)',
        iou: 'IoU of the pixel sets the outlines cover under the pixel-centre rule',
        scores: 'precision = matched / the second reader\'s objects, recall = matched / the first reader\'s, F1 = 2·matched / (both); null when the denominator is 0',
      },
      timing: { ms },
    };
  }

  /** A write to the slide's masks happened: the readers and versions known for it are read again. */
  touched(slideId: string): void {
    this.generations.set(slideId, (this.generations.get(slideId) ?? 0) + 1);
  }

  /** The slide's painters and mask versions as of the last write this process saw (read from the store once per write). */
  private current(slideId: string): { painted: Set<string>; stamps: Map<string, string> } {
    const generation = this.generations.get(slideId) ?? 0;
    let k = this.known.get(slideId);
    if (!k || k.generation !== generation) {
      k = { generation, painted: new Set(this.masks.store.list(slideId).map((m) => m.annotator)), stamps: new Map() };
      this.known.set(slideId, k);
      if (this.known.size > 256) this.known.delete(this.known.keys().next().value as string);
    }
    return k;
  }

  /** A reader's mask version (see AgreementStore.stamp), read once per write to the slide. */
  private stamp(slideId: string, reader: string): string {
    const k = this.current(slideId);
    let s = k.stamps.get(reader);
    if (s === undefined) k.stamps.set(reader, (s = this.store.stamp(slideId, reader)));
    return s;
  }

  /** The ROI: a polygon annotation of this slide, as flat rings, and its pixel box inside the slide. */
  roi(slide: SlideInfo, raw: string | null): { id: string; rings: number[][]; box: PixelBox } {
    if (raw === null || raw === '') throw new WsiError('BAD_REQUEST', 'roi={annotation id} is required: the region of interest the readers share');
    if (!isAnnotationId(raw)) throw new WsiError('BAD_REQUEST', 'roi must be an annotation id');
    const a: Annotation | null = this.annotations.get(raw);
    if (!a || a.deleted || this.annotations.slideOf(raw) !== slide.id) throw new WsiError('ANNOTATION_NOT_FOUND', `no annotation ${raw} on this slide`);
    if (a.geometry.type !== 'Polygon' && a.geometry.type !== 'MultiPolygon') throw new WsiError('BAD_REQUEST', `the ROI must be a polygon; annotation ${raw} is a ${a.geometry.type}`);
    const f = flatten(a.geometry);
    const rings: number[][] = [];
    forEachRing(f.type, f.parts, (start, count) => rings.push(Array.from(f.coords.subarray(start * 2, (start + count) * 2))));
    const [minX, minY, maxX, maxY] = ringsBounds(rings);
    const box = { x0: Math.max(0, Math.floor(minX)), y0: Math.max(0, Math.floor(minY)), x1: Math.min(slide.width, Math.ceil(maxX) + 1), y1: Math.min(slide.height, Math.ceil(maxY) + 1) };
    if (box.x1 <= box.x0 || box.y1 <= box.y0) throw new WsiError('BAD_REQUEST', `the ROI ${raw} lies outside the slide`);
    const area = (box.x1 - box.x0) * (box.y1 - box.y0);
    if (area > this.options.maxPixels) {
      throw new WsiError('REGION_TOO_LARGE', `the ROI's bounding box covers ${area.toLocaleString('en')} pixels; agreement is computed over at most ${this.options.maxPixels.toLocaleString('en')} level-0 pixels at once (AGREEMENT_MAX_PIXELS) — draw a smaller ROI`, { limit: this.options.maxPixels, pixels: area });
    }
    return { id: raw, rings, box };
  }

  private admit(): void {
    if (this.running >= AGREEMENT_CONCURRENCY) throw new WsiError('OVERLOADED', `${this.running} agreement computations are running, the most this server runs at once; retry shortly`);
  }

  /** Runs `job` as one of the computations at once (503 OVERLOADED past AGREEMENT_CONCURRENCY). */
  async slot<T>(job: () => Promise<T>): Promise<T> {
    this.admit();
    this.running++;
    try {
      return await job();
    } finally {
      this.running--;
    }
  }

  /** Runs a counting job split by tile rows over the worker threads. */
  private async count(base: Omit<CountJob, 'rows'>, rows: number[], signal?: AbortSignal): Promise<CountResult[]> {
    const n = Math.max(1, Math.min(this.options.workers ?? AGREEMENT_WORKERS, rows.length));
    const shares = Array.from({ length: n }, (_, k) => rows.filter((_r, i) => i % n === k));
    const workers: Worker[] = [];
    const stop = (): void => {
      for (const w of workers) void w.terminate();
    };
    signal?.addEventListener('abort', stop, { once: true });
    this.running++;
    try {
      const jobs = shares.map((share) => {
        const j = runWorkerJob<CountResult>(new URL('./agreement/count-worker.js', import.meta.url), { dbPath: this.options.dbPath, job: { ...base, rows: share } }, 'agreement count');
        workers.push(j.worker);
        return j.result;
      });
      const out = await Promise.all(jobs);
      signal?.throwIfAborted();
      return out;
    } finally {
      this.running--;
      signal?.removeEventListener('abort', stop);
    }
  }

  private async names(ids: string[]): Promise<Array<{ id: string; username: string | null }>> {
    return Promise.all(ids.map(async (id) => ({ id, username: (await this.masks.whoIs(id))?.username ?? null })));
  }

  /** The readers' exact joint counts inside the ROI (counted in worker threads; 503 past AGREEMENT_CONCURRENCY). */
  async roiCounts(slide: SlideInfo, readers: string[], roi: { rings: number[][]; box: PixelBox }, signal?: AbortSignal): Promise<{ counts: TupleCounts; parts: CountResult[] }> {
    this.admit();
    const key = createHash('sha256').update(JSON.stringify([slide.id, slide.width, slide.height, readers.map((r) => this.stamp(slide.id, r)), readers, roi.box, roi.rings])).digest('base64');
    const known = this.counted.get(key);
    if (known) return { counts: known, parts: [] };
    const rows: number[] = [];
    for (let ty = Math.floor(roi.box.y0 / MASK_TILE); ty * MASK_TILE < roi.box.y1; ty++) rows.push(ty);
    const parts = await this.count({ slideId: slide.id, readers, slideWidth: slide.width, slideHeight: slide.height, box: roi.box, rings: roi.rings, mode: 'counts' }, rows, signal);
    const counts: TupleCounts = new Map();
    for (const p of parts) mergeCounts(counts, p.counts);
    this.counted.set(key, counts);
    return { counts, parts };
  }

  /** The agreement of `readers` inside the ROI. */
  async compute(scope: SlideScope, actor: string, q: { roi: string | null; readers: string | null }, signal?: AbortSignal): Promise<AgreementReport> {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const slide = await this.masks.slide(scope);
    const readers = this.readers(slide.id, q.readers);
    const roi = this.roi(slide, q.roi);
    const { counts, parts } = await this.roiCounts(slide, readers, roi, signal);
    const palette = this.masks.classTable(slide.id);
    const metrics = maskAgreement(counts, readers.length, palette.map((c) => c.id));
    const present = new Set(metrics.classes);
    const classes = [{ id: 0, name: 'Unlabelled', color: '#00000000' }, ...this.masks.classTable(slide.id, present)].filter((c) => present.has(c.id));
    const st = stapleFromCounts(counts, readers.length);
    const byClass = <T>(values: T[]): Record<string, T> => Object.fromEntries(st.classes.map((c, i) => [String(c), values[i] as T]));
    const report: AgreementReport = {
      slide: slide.id,
      roi: roi.id,
      readers: await this.names(readers),
      pixels: metrics.pixels,
      box: roi.box,
      classes,
      metrics,
      majority: majoritySummary(counts, readers.length),
      staple: {
        iterations: st.iterations,
        converged: st.converged,
        classes: st.classes,
        readers: readers.map((id, r) => ({ id, sensitivity: byClass(st.sensitivity[r] as number[]), specificity: byClass(st.specificity[r] as Array<number | null>), confusion: st.confusion[r] as number[][] })),
        consensus: st.consensus,
      },
      rules: {
        pixels: 'a pixel is in the ROI when its centre is (the rasterizer\'s pixel-centre, even-odd rule); every such pixel inside the slide is counted, none sampled',
        unlabelled: metrics.unlabelledRule,
        undefined: 'a value whose formula divides by zero (Dice or IoU of a class neither reader of a pair used, kappa when chance agreement is 1) is null',
        majority: 'a tie between the most frequent classes stays undecided',
        staple: 'multi-class STAPLE (Warfield et al. 2004): prior fixed to the readers\' label shares, EM started from the votes, stopped when no confusion entry moves by more than 1e-10 (at most 5000 steps)',
      },
      timing: { ms: Math.round(performance.now() - t0), cpuMs: cpuMsSince(cpu0), workers: parts.length, inflatedTiles: parts.reduce((s, p) => s + p.inflated, 0), uniformTiles: parts.reduce((s, p) => s + p.uniform, 0) },
    };
    this.audit({ actor, action: 'agreement.computed', projectId: scope.project.id, target: slide.id, detail: { roi: roi.id, readers: readers.join(','), pixels: metrics.pixels, ms: report.timing.ms } });
    return report;
  }

  /** The disagreement map of `readers` over the slide (built once per set of readers and mask versions). */
  async map(scope: SlideScope, actor: string, rawReaders: string | null): Promise<{ map: DisagreementMap; readers: string[] }> {
    const slide = await this.masks.slide(scope);
    const readers = this.readers(slide.id, rawReaders);
    const key = `${slide.id}|${[...readers].sort().map((r) => `${r}@${this.stamp(slide.id, r)}`).join(',')}`;
    let m = this.maps.get(key);
    if (!m) {
      this.admit();
      const rows = [...new Set(readers.flatMap((r) => this.store.paintedRows(slide.id, r)))].sort((a, b) => a - b);
      const started = performance.now();
      const cpu0 = process.cpuUsage();
      m = this.count({ slideId: slide.id, readers, slideWidth: slide.width, slideHeight: slide.height, box: { x0: 0, y0: 0, x1: slide.width, y1: slide.height }, rings: null, mode: 'map' }, rows).then((parts) => {
        const built = new DisagreementMap(slide.width, slide.height, readers.length, parts.map((p) => p.map).filter((x) => x !== null));
        this.audit({ actor, action: 'agreement.map', projectId: scope.project.id, target: slide.id, detail: { readers: readers.join(','), blocks: built.paintedBlocks, ms: Math.round(performance.now() - started), cpuMs: cpuMsSince(cpu0) } });
        built.buildMs = Math.round(performance.now() - started);
        built.buildCpuMs = cpuMsSince(cpu0);
        return built;
      });
      this.maps.set(key, m);
      m.catch(() => this.maps.delete(key));
    }
    return { map: await m, readers };
  }

  /** Who said what at level-0 pixel (x, y). */
  async point(scope: SlideScope, rawReaders: string | null, x: number, y: number): Promise<Record<string, unknown>> {
    const slide = await this.masks.slide(scope);
    const readers = this.readers(slide.id, rawReaders);
    if (x >= slide.width || y >= slide.height) throw new WsiError('BAD_REQUEST', `(${x}, ${y}) is outside the slide (${slide.width} × ${slide.height} px)`);
    const tx = Math.floor(x / MASK_TILE);
    const ty = Math.floor(y / MASK_TILE);
    const labels: number[] = [];
    for (const r of readers) {
      const head = this.masks.store.head(slide.id, r, tx, ty);
      if (!head) labels.push(0);
      else {
        const u = uniformClass(head.pixels);
        labels.push(u !== null ? u : ((await inflateTile(head.data))[(y - ty * MASK_TILE) * MASK_TILE + (x - tx * MASK_TILE)] as number));
      }
    }
    const table = new Map([{ id: 0, name: 'Unlabelled', color: '#00000000' }, ...this.masks.classTable(slide.id, labels)].map((c) => [c.id, c]));
    const majority = majorityOf(labels);
    const top = Math.max(...labels.map((l) => labels.filter((m) => m === l).length));
    const names = await this.names(readers);
    return {
      x,
      y,
      readers: readers.map((id, r) => ({ id, username: names[r]?.username ?? null, class: labels[r], className: table.get(labels[r] as number)?.name ?? null })),
      majority: majority === UNDECIDED ? null : majority,
      undecided: majority === UNDECIDED,
      disagreeing: readers.length - top,
    };
  }
}
