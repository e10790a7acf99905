/**
 * Everything annotation-related for one open slide: the store and what
 * observes it (spatial index, density grid, undo, selection, sync), the
 * class palette, and loading — what is in view first, then the rest, parsed
 * and packed in a worker and indexed in another.
 */
import * as Comlink from 'comlink';
import { PortableWorker as Worker, forWorker, whenBroken } from './module-worker.js';
import { authHeaders } from '../services/http.js';
import type { AnnotationClass } from '../core/annotation.js';
import { DEFAULT_CLASSES, maskClassId } from '../core/annotation.js';
import { AnnotationApi } from '../services/annotation-api.js';
import { openOutbox } from '../services/outbox.js';
import { SyncEngine } from '../services/sync.js';
import { AnnotationStore } from '../state/annotation-store.js';
import { ClassLayers } from '../state/class-layers.js';
import { ComparedReader, readOnlyMessage, type ReaderChoice } from '../state/compared-reader.js';
import { DensityGrid } from '../state/density-grid.js';
import { Selection } from '../state/selection.js';
import { SpatialIndex, localBuilder, type IndexBuilder } from '../state/spatial-index.js';
import { UndoManager } from '../state/undo.js';
import { MaskApi } from '../services/mask-api.js';
import { MaskSession } from './mask-session.js';
import { packPage, type PackedPage } from '../core/annotation-pages.js';
import { fetchColumnarColumns } from '../core/columnar-fetch.js';
import type { ColumnarColumns } from '../core/columnar-pages.js';
import { Observers } from '../core/observers.js';
import { ModelProvenance } from '../state/model-provenance.js';
import { PredictionRouter } from '../services/prediction-routing.js';
import { FramePrediction, type ModelRunApi, type Prediction } from '../services/model-run-api.js';
import type { AnnotationLoaderApi, IndexBuilderApi } from '../../workers/protocol.js';

export interface LoadProgress {
  loaded: number;
  total: number;
  done: boolean;
  error: string | null;
  /** How the pages came: binary columnar frames, or JSON (asked for, or the server has no columnar listing). */
  transport?: Transport;
}

/** Wall time of the load's steps on the page's thread: waiting for pages, adding them (store and observers), the final index, resuming sends, the mask. */
export interface LoadTimes {
  pages: number;
  waitMs: number;
  addMs: number;
  indexMs: number;
  resumeMs: number;
  maskMs: number;
}

/** How pages of annotations travel: `columnar` (src/core/columnar-pages.ts) or the JSON listing. */
export type Transport = 'columnar' | 'json';
/** Objects per page for each transport (a columnar frame is cheap to decode; JSON pages stay smaller). */
const PAGE_SIZE: Record<Transport, number> = { columnar: 50_000, json: 20_000 };

function workerBuilder(): { builder: IndexBuilder; worker: Worker | null } {
  let worker: Worker;
  try {
    worker = new Worker(new URL('../../workers/index-builder.worker.ts', import.meta.url), { type: 'module' });
  } catch {
    return { builder: localBuilder, worker: null };
  }
  const api = Comlink.wrap<IndexBuilderApi>(worker);
  // a worker that cannot start (an embedding page's CORS, the network) hands its builds to this thread
  let failed = false;
  const broken = whenBroken(worker).then(() => void (failed = true));
  let proven = false;
  const builder: IndexBuilder = async (boxes) => {
    if (failed) return localBuilder(boxes);
    // the boxes are transferred: until the worker has built once, a copy is kept to build here instead
    const copy = proven ? null : boxes.slice();
    const built = await Promise.race([api.build(Comlink.transfer(boxes, [boxes.buffer])), broken.then(() => null)]);
    if (built) {
      proven = true;
      return built;
    }
    if (copy) return localBuilder(copy);
    throw new Error('the index worker failed during a build');
  };
  return { builder, worker };
}

/** Loads a page on this thread (no worker in this environment, or one that could not start). */
const inProcessLoader: AnnotationLoaderApi = {
  load: async (u, headers) => {
    const res = await fetch(u, { headers });
    if (!res.ok) throw new Error(`annotations could not be loaded (${res.status})`);
    return packPage(await res.json());
  },
  loadColumnar: fetchColumnarColumns,
};

export class AnnotationSession {
  readonly index: SpatialIndex;
  readonly density: DensityGrid;
  readonly undo: UndoManager;
  readonly selection: Selection;
  palette: AnnotationClass[] = DEFAULT_CLASSES;
  /** Which loaded objects are a model's predictions and corrected objects (issue 13). */
  readonly provenance: ModelProvenance;

  /** Why this user may not change anything on this slide, or null (the store and the mask refuse local edits then). */
  get readOnly(): string | null {
    return this.store.readOnly;
  }
  /** This annotator's painted mask (null when the server has no mask support). */
  mask: MaskSession | null = null;
  /** The signed-in annotator (null when the server has no accounts or could not say). */
  me: { user: string; displayName: string | null } | null = null;
  progress: LoadProgress = { loaded: 0, total: 0, done: false, error: null };
  /** Where the last load's time went (ms of this thread), for benchmarks and diagnostics. */
  readonly loadTimes: LoadTimes = { pages: 0, waitMs: 0, addMs: 0, indexMs: 0, resumeMs: 0, maskMs: 0 };
  /** The transport to try first; a server without the columnar listing is read as JSON. */
  transport: Transport = 'columnar';
  private loader: AnnotationLoaderApi | null = null;
  private aborted = false;
  private ended: () => void = () => undefined;
  /** Settles when loading has ended: every page in, or failed (progress.error says why). */
  readonly loaded = new Promise<void>((resolve) => (this.ended = resolve));
  private readonly progressObservers = new Observers<LoadProgress>();

  private constructor(
    readonly api: AnnotationApi,
    readonly store: AnnotationStore,
    readonly sync: SyncEngine,
    builder: IndexBuilder,
    private readonly width: number,
    private readonly height: number,
    private readonly workers: Worker[],
  ) {
    this.provenance = new ModelProvenance(store);
    this.index = new SpatialIndex(store, builder);
    this.density = new DensityGrid(store, width, height);
    this.undo = new UndoManager(store);
    this.selection = new Selection(store);
    // edits of a model's read-only predictions go to their corrected objects
    sync.router = new PredictionRouter(this.provenance, (id) => {
      const h = store.handleOf(id) ?? this.provenance.predictionHandle(id);
      return h === undefined ? null : store.record(h);
    });
    // the guards from the start (the viewer gives this user's stored layers later)
    this.useLayers(this.layers);
  }

  /**
   * @param readOnly why this user may not change anything on this slide
   *   (src/core/slide-access.ts), or null: local edits are then not made
   */
  static async open(server: string, slide: string, width: number, height: number, readOnly: string | null = null): Promise<AnnotationSession> {
    const api = new AnnotationApi(server, slide);
    const store = new AnnotationStore();
    store.readOnly = readOnly;
    const outbox = await openOutbox();
    const sync = new SyncEngine(store, outbox, api);
    const { builder, worker } = workerBuilder();
    const session = new AnnotationSession(api, store, sync, builder, width, height, worker ? [worker] : []);
    try {
      session.palette = await api.classes();
    } catch {
      // the defaults until the server answers
    }
    try {
      const me = await MaskApi.identity(server);
      const annotator = me.user;
      store.localAuthor = annotator;
      session.me = me;
      session.mask = MaskSession.open(server, slide, annotator, width, height, outbox, session.undo);
      session.mask.readOnly = readOnly;
    } catch {
      // a server without masks: annotation tools only
    }
    return session;
  }

  /** Visibility, lock and opacity per class (the Layers table); see useLayers. */
  layers = new ClassLayers();
  /** Another reader's work shown beside one's own, read-only (the Layers table's reader row). */
  readonly compared = new ComparedReader();

  /**
   * Takes this user's layers of the project: locked classes are then refused
   * by the annotation store (local edits) and left alone by the mask's edits.
   */
  useLayers(layers: ClassLayers): void {
    this.layers = layers;
    // the compared reader's objects are read-only and never picked, whatever the class layers say
    layers.notPickable = (h) => this.compared.owns(this.store, h);
    this.store.editGuard = (edit, store) => layers.refusal(edit, store) ?? this.compared.refusal(edit, store);
    if (this.mask) {
      this.mask.lockedClasses = () => {
        const out = new Map<number, string>();
        for (const name of layers.lockedNames()) {
          const id = maskClassId(this.palette.find((c) => c.name === name));
          if (id !== null) out.set(id, name);
        }
        return out;
      };
    }
  }

  /**
   * The other readers whose work this user may see on this slide: the
   * authors of the objects loaded and the annotators of the masks the
   * server lists (both already filtered by the server's blind rule), less
   * this user and the reference mask (`@…`).
   */
  async otherReaders(): Promise<ReaderChoice[]> {
    const ids = new Set<string>(this.store.authorNames());
    try {
      for (const a of await MaskApi.annotators(this.api.server, this.api.slide)) ids.add(a);
    } catch {
      // a server without masks: the authors of objects only
    }
    const me = this.me?.user ?? null;
    return [...ids].filter((id) => id !== me && !id.startsWith('@')).sort().map((id) => ({ id, label: readerLabel(id) }));
  }

  /**
   * The compared reader's painted mask, loaded read-only in a mask session
   * of its own (never painted, nothing sent); null on a server without masks.
   */
  async openReaderMask(reader: ReaderChoice): Promise<MaskSession | null> {
    if (!this.mask) return null;
    const mask = MaskSession.open(this.api.server, this.api.slide, reader.id, this.width, this.height, await openOutbox(), new UndoManager(this.store));
    try {
      await mask.loadReadOnly(readOnlyMessage(reader.label));
    } catch (err) {
      mask.dispose(0);
      throw err;
    }
    return mask;
  }

  /** Tells `fn` the loading progress now and at every change; returns the unsubscribe. */
  onProgress(fn: (p: LoadProgress) => void): () => void {
    fn(this.progress);
    return this.progressObservers.add(fn);
  }

  private report(p: Partial<LoadProgress>): void {
    this.progress = { ...this.progress, ...p };
    this.progressObservers.emit(this.progress);
  }

  private async fetchPage(url: string, transport: Transport = 'json'): Promise<PackedPage | ColumnarColumns> {
    if (!this.loader) {
      try {
        const worker = new Worker(new URL('../../workers/annotation-loader.worker.ts', import.meta.url), { type: 'module' });
        this.workers.push(worker);
        const remote = Comlink.wrap<AnnotationLoaderApi>(worker);
        const broken = whenBroken(worker);
        let failed = false;
        void broken.then(() => (failed = true));
        // a worker that cannot start hands its pages to this thread (the page is fetched again here)
        this.loader = {
          load: async (u, headers) => {
            if (failed) return inProcessLoader.load(u, headers);
            const page = await Promise.race([remote.load(u, headers), broken.then(() => null)]);
            return page ?? inProcessLoader.load(u, headers);
          },
          loadColumnar: async (u, headers) => {
            if (failed) return inProcessLoader.loadColumnar(u, headers);
            const page = await Promise.race([remote.loadColumnar(u, headers), broken.then(() => null)]);
            return page ?? inProcessLoader.loadColumnar(u, headers);
          },
        };
      } catch {
        this.loader = inProcessLoader;
      }
    }
    const absolute = forWorker(url);
    return transport === 'columnar' ? this.loader.loadColumnar(absolute, authHeaders(absolute)) : this.loader.load(absolute, authHeaders(absolute));
  }

  private add(p: PackedPage | ColumnarColumns): void {
    if ('strings' in p) {
      this.addColumns(p);
      return;
    }
    const items = p.records.map((record, i) => ({
      record: { ...record, properties: {} },
      geometry: {
        type: p.types[i] as 1 | 2 | 3 | 4 | 5,
        coords: p.coords.subarray(p.coordAt[i] as number, p.coordAt[i + 1] as number),
        parts: p.parts.subarray(p.partAt[i] as number, p.partAt[i + 1] as number),
      },
    }));
    this.store.bulkLoad(items);
    for (const r of p.records) {
      if (r.source === undefined) continue;
      const h = this.store.handleOf(r.id);
      if (h !== undefined) this.provenance.note(h, r);
    }
    // the versions loaded are in the store; the sync engine only tracks what it has sent since
  }

  /** A columnar page: into the store's columns in bulk, with no record per object. */
  private addColumns(p: ColumnarColumns): void {
    const { handles } = this.store.bulkLoadColumns(p);
    this.provenance.noteColumns(p, handles);
  }

  /**
   * Loads what is in `view` first (when the view is a small part of the
   * slide), then everything, in pages; the next page is requested while the
   * current one is added. Then resumes unsent edits.
   */
  async load(view: [number, number, number, number] | null, pageSize?: number): Promise<void> {
    try {
      // edits still being sent from an earlier visit to this slide go first
      await this.sync.handOver();
      const slideArea = Math.max(1, this.width * this.height);
      const viewArea = view ? Math.max(0, view[2] - view[0]) * Math.max(0, view[3] - view[1]) : slideArea;
      if (view && viewArea < slideArea / 4) {
        if (!(await this.loadPages({ bbox: view, ...(pageSize ? { limit: pageSize } : {}) }))) return;
      }
      if (!(await this.loadPages(pageSize ? { limit: pageSize } : {}))) return;
      const t = this.loadTimes;
      let t0 = performance.now();
      await this.index.rebuild();
      t.indexMs += performance.now() - t0;
      t0 = performance.now();
      await this.sync.resume();
      t.resumeMs += performance.now() - t0;
      t0 = performance.now();
      // the painted mask (its failure is shown by the mask panel; annotations still work)
      await this.mask?.load().catch(() => undefined);
      t.maskMs += performance.now() - t0;
      this.report({ done: true });
    } catch (err) {
      this.report({ error: (err as Error).message, done: true });
    } finally {
      this.ended();
    }
  }

  /**
   * The predictions of model run `runId` as the model made them, for the
   * triage queue: those this session loaded, read from the store's columns
   * (no second download of a million objects), and those the working layer
   * leaves out (a corrected object exists) read from the server. The whole
   * model layer is read from the server instead when loading failed, when
   * one of them was acted on here (its local object may no longer be the
   * model's), or when the server has no `superseded` layer.
   */
  async predictionsOf(runId: string, api: ModelRunApi, signal?: AbortSignal): Promise<Prediction[]> {
    await this.loaded;
    const hs = this.progress.error ? null : this.provenance.untouchedPredictions(runId, this.store);
    if (hs === null) return api.predictions(runId, signal);
    const { store, provenance } = this;
    const out: Prediction[] = new Array<Prediction>(hs.length);
    for (let i = 0; i < hs.length; i++) {
      const h = hs[i] as number;
      // views on the store's pools, which are only appended to: they stay the model's outline after an edit
      out[i] = new FramePrediction(store.idOf(h), store.classOf(h), provenance.scoreOf(h), store.kindOf(h), store.versionOf(h), store.geometry(h));
    }
    let rest: Prediction[];
    try {
      rest = await api.predictions(runId, signal, 'superseded');
    } catch (err) {
      if (signal?.aborted) throw err;
      return api.predictions(runId, signal);
    }
    // corrected by someone else since this session loaded: the loaded copy stands (as for any object loaded)
    for (const p of rest) if (!provenance.isPrediction(p.id)) out.push(p);
    return out;
  }

  /**
   * Takes in what an import (its operation id) made on the server, without
   * reloading the slide (the undo history stays), and the classes it added;
   * the import becomes one undo step: undo deletes its objects (each a
   * versioned delete, kept in the history), redo brings them back.
   * Resolves with how many objects it took in.
   */
  async adoptImport(opId: string, label: string): Promise<number> {
    try {
      this.palette = await this.api.classes();
    } catch {
      // the palette as it was; the objects still show, in grey
    }
    const before = new Set<number>();
    const off = this.store.observe((cs) => {
      if (cs.label === 'Load') for (const h of cs.created) before.add(h);
    });
    try {
      if (!(await this.loadPages({ importOp: opId, limit: 20_000 }))) return 0;
    } finally {
      off();
    }
    const records = [...before].map((h) => this.store.record(h));
    if (records.length) this.undo.push({ label, undo: { delete: records.map((r) => r.id) }, redo: { create: records } });
    return records.length;
  }

  /** Reads every page of a listing; false when the session was closed meanwhile. */
  private async loadPages(query: { bbox?: [number, number, number, number]; importOp?: string; limit?: number }): Promise<boolean> {
    // the working layer: corrected objects in place of their predictions (an import's own listing has no layer)
    const q = query.importOp ? query : { ...query, layer: 'working' as const };
    const first = await this.firstPage(q);
    const t = first.transport;
    const url = (after: number): string => (t === 'columnar' ? this.api.columnarUrl({ ...q, limit: q.limit ?? PAGE_SIZE[t], after }) : this.api.pageUrl({ ...q, limit: q.limit ?? PAGE_SIZE[t], after }));
    let pending: Promise<PackedPage | ColumnarColumns> | null = Promise.resolve(first.page);
    const times = this.loadTimes;
    while (pending) {
      let t0 = performance.now();
      const p: PackedPage | ColumnarColumns = await pending;
      times.waitMs += performance.now() - t0;
      if (this.aborted) return false;
      pending = p.next ? this.fetchPage(url(p.next), t) : null;
      t0 = performance.now();
      this.add(p);
      times.addMs += performance.now() - t0;
      times.pages++;
      this.report({ loaded: this.store.size, total: Math.max(p.total, this.store.size) });
    }
    return true;
  }

  /**
   * The first page of a listing, in the session's transport; when the
   * columnar listing fails (an older server: 404; a frame this client
   * cannot read) the listing is read as JSON instead, and progress says so.
   */
  private async firstPage(q: { bbox?: [number, number, number, number]; importOp?: string; limit?: number; layer?: 'working' }): Promise<{ page: PackedPage | ColumnarColumns; transport: Transport }> {
    if (this.transport === 'columnar' && this.progress.transport !== 'json') {
      try {
        const page = await this.fetchPage(this.api.columnarUrl({ ...q, limit: q.limit ?? PAGE_SIZE.columnar }), 'columnar');
        if (this.progress.transport !== 'columnar') this.report({ transport: 'columnar' });
        return { page, transport: 'columnar' };
      } catch {
        // read as JSON below; a real outage fails there too, with its message
      }
    }
    const page = await this.fetchPage(this.api.pageUrl({ ...q, limit: q.limit ?? PAGE_SIZE.json }), 'json');
    if (this.progress.transport !== 'json') this.report({ transport: 'json' });
    return { page, transport: 'json' };
  }

  colourOf(name: string | null): string | null {
    if (name === null) return null;
    return this.palette.find((c) => c.name === name)?.color ?? null;
  }

  dispose(): void {
    this.aborted = true;
    // unsent edits keep going to the server after the slide is closed
    this.sync.detach();
    this.mask?.dispose();
    for (const w of this.workers) w.terminate();
  }
}

/** How the UI names another reader: by the start of their id, as mask export names do (no name is revealed). */
export function readerLabel(id: string): string {
  return `Reader ${id.slice(0, 8)}`;
}
