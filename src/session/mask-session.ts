/**
 * The painted mask of the open slide for this annotator: the store and
 * what observes it (pyramid, undo, sync), the mask worker, loading, and the
 * edits — brush strokes, polygon fills (ROIs) and flood fills. Edits run one
 * at a time in the worker on copies of the tiles they touch; each becomes
 * one change (one undo step) when its result comes back. Large fills are cut
 * into bands of tiles so the worker never holds hundreds of dense tiles.
 */
import * as Comlink from 'comlink';
import { PortableWorker as Worker, forWorker, whenBroken } from './module-worker.js';
import { authHeaders } from '../services/http.js';
import { flatBounds, ringsBounds } from '../core/flat-geometry.js';
import { MASK_TILE, maskGridSize, tileKey } from '../core/mask/mask-grid.js';
import type { PixelBox } from '../core/mask/raster.js';
import { EMPTY_TILE, type EncodedTile } from '../core/mask/rle.js';
import { MaskApi, type RasterizeAnswer } from '../services/mask-api.js';
import { MaskSync } from '../services/mask-sync.js';
import { newOpId } from '../services/outbox-sender.js';
import type { Outbox } from '../services/outbox.js';
import { lockedMessage } from '../state/class-layers.js';
import { MaskPyramid } from '../state/mask-pyramid.js';
import { MaskStore, type MaskChange, type MaskTileWrite } from '../state/mask-store.js';
import type { UndoManager } from '../state/undo.js';
import { Observers } from '../core/observers.js';
import type { MaskWorkerApi, PackedTile, PaintJob, RenderRequest, RenderedTile, TileIn } from '../../workers/protocol.js';

/** What the session needs from the mask worker: its API (an in-process stand-in works for tests). */
export type MaskWorker = MaskWorkerApi;

/**
 * A display of the mask (the mask layer). Before each edit the session asks
 * it which changed tiles it wants coloured right away; after the edit is in
 * the store it hands over their bitmaps.
 */
export interface MaskDisplay {
  renderRequest(): RenderRequest | null;
  install(tiles: RenderedTile[]): void;
}

/** An undo or redo left tiles alone because they changed on the server since. */
export interface ReplaySkipped {
  tiles: number;
  label: string;
}

/** Tile rows per worker job for big fills (bounds the worker's dense copies). */
const BAND_ROWS = 4;

export interface EditOutcome {
  /** Level-0 tiles changed. */
  keys: string[];
  pixels: number;
  refused: string | null;
  /** Pixels left as they were because their class is locked (Layers). */
  kept?: number;
}

type JobSpec = Omit<PaintJob, 'tiles' | 'bounds'> & { bounds?: PixelBox };

export class MaskSession {
  readonly store = new MaskStore();
  readonly pyramid: MaskPyramid;
  readonly sync: MaskSync;
  readonly slideBox: PixelBox;
  loaded = false;
  loadError: string | null = null;
  private readonly displays = new Set<MaskDisplay>();
  private readonly skipped = new Observers<ReplaySkipped>();
  private chain: Promise<unknown> = Promise.resolve();
  private replaying = false;
  /** Worker calls in flight that must fail, not hang, if the worker is terminated. */
  private readonly inFlight = new Set<(err: Error) => void>();
  private workerEnded = false;
  private readonly unsubscribe: () => void;

  private constructor(
    readonly api: MaskApi,
    readonly worker: MaskWorker,
    private readonly terminate: () => void,
    outbox: Outbox,
    private readonly undo: UndoManager,
    width: number,
    height: number,
  ) {
    this.slideBox = { x0: 0, y0: 0, x1: width, y1: height };
    const alive = <T>(call: () => Promise<T>): Promise<T> => this.alive(call);
    this.pyramid = new MaskPyramid(this.store, width, height, (children) => alive(() => worker.reduce(children)));
    this.sync = new MaskSync(this.store, outbox, api, {
      // the sender can outlive the session (it keeps sending after the slide is left)
      compress: (t) => alive(() => worker.compress(t)),
      fetchTile: async (tx, ty) => {
        const x = tx * MASK_TILE;
        const y = ty * MASK_TILE;
        const url = forWorker(api.packUrl([x, y, x + MASK_TILE, y + MASK_TILE]));
        const tiles = await alive(() => worker.readPack(url, authHeaders(url)));
        const t = tiles.find((p) => p.tx === tx && p.ty === ty);
        return t ? { tile: t.tile, version: t.version } : null;
      },
    });
    // one edit, one undo step; undo and redo go through the same queue as edits
    this.unsubscribe = this.store.observe((c) => {
      if (c.origin !== 'local' || this.replaying) return;
      this.pushStep(c);
    });
  }

  /** Makes a change one undo step: undo writes the tiles back (as local edits, which are saved), redo writes them again. */
  private pushStep(c: MaskChange): void {
    const before: MaskTileWrite[] = c.tiles.map((t) => ({ key: t.key, tile: t.before }));
    const after: MaskTileWrite[] = c.tiles.map((t) => ({ key: t.key, tile: t.after }));
    this.undo.push({ label: c.label, undo: () => this.replay(before, after, `Undo ${c.label}`), redo: () => this.replay(after, before, `Redo ${c.label}`) });
  }

  /** Why this user may not paint here (a read-only project, a viewer), or null: edits are then refused with it. */
  readOnly: string | null = null;

  /**
   * The classes locked in the Layers table, by mask id → name: an edit does
   * not paint with them and leaves their pixels as they are
   * (src/state/class-layers.ts).
   */
  lockedClasses: () => ReadonlyMap<number, string> = () => new Map();

  /** Attaches a display (see MaskDisplay); returns the detach. */
  attachDisplay(display: MaskDisplay): () => void {
    this.displays.add(display);
    return () => {
      this.displays.delete(display);
    };
  }

  /** A call on the worker that fails, rather than hangs, once the worker has ended or could not start. */
  private alive<T>(call: () => Promise<T>): Promise<T> {
    if (this.workerEnded) return Promise.reject(new Error(this.loadError ?? 'the mask worker has ended'));
    return new Promise<T>((resolve, reject) => {
      this.inFlight.add(reject);
      call().then(
        (v) => {
          this.inFlight.delete(reject);
          resolve(v);
        },
        (e: unknown) => {
          this.inFlight.delete(reject);
          reject(e as Error);
        },
      );
    });
  }

  /** A tile coloured for display, in the worker (fails once the worker has ended). */
  renderTile(...args: Parameters<MaskWorker['render']>): ReturnType<MaskWorker['render']> {
    return this.alive(() => this.worker.render(...args));
  }

  /** The worker could not start: every call on it, now and later, fails with `err`, and the mask says why. */
  workerFailed(err: Error): void {
    if (this.workerEnded) return;
    this.workerEnded = true;
    this.loadError ??= err.message;
    for (const reject of this.inFlight) reject(err);
    this.inFlight.clear();
  }

  /** Tells `fn` whenever an undo or redo left tiles alone; returns the unsubscribe. */
  onReplaySkipped(fn: (e: ReplaySkipped) => void): () => void {
    return this.skipped.add(fn);
  }

  static open(server: string, slide: string, annotator: string, width: number, height: number, outbox: Outbox, undo: UndoManager): MaskSession {
    const w = new Worker(new URL('../../workers/mask.worker.ts', import.meta.url), { type: 'module' });
    const session = new MaskSession(new MaskApi(server, slide, annotator), Comlink.wrap<MaskWorkerApi>(w), () => w.terminate(), outbox, undo, width, height);
    // a worker that cannot start: the mask's calls fail with the reason instead of waiting forever
    void whenBroken(w).then((err) => session.workerFailed(err));
    return session;
  }

  /** A session on a given worker (tests run the mask operations in-process). */
  static create(api: MaskApi, worker: MaskWorker, terminate: () => void, outbox: Outbox, undo: UndoManager, width: number, height: number): MaskSession {
    return new MaskSession(api, worker, terminate, outbox, undo, width, height);
  }

  /**
   * Undo or redo: writes each tile back, but only where the tile is still
   * what the step left (`expected`); a tile replaced since by the server's
   * copy (a conflict taken as "theirs", the ROIs painted on the server) is
   * left as it is, so undo never overwrites someone else's work unseen.
   */
  private replay(writes: MaskTileWrite[], expected: MaskTileWrite[], label: string): void {
    this.chain = this.chain.then(() => {
      this.replaying = true;
      try {
        const still = writes.filter((w, i) => this.store.get(w.key) === (expected[i] as MaskTileWrite).tile);
        if (still.length < writes.length) this.skipped.emit({ tiles: writes.length - still.length, label });
        this.store.apply(still, 'local', label);
      } finally {
        this.replaying = false;
      }
    });
  }

  /** All of this annotator's tiles, fetched in the worker with this server's credential. */
  private readPack(): Promise<PackedTile[]> {
    const url = forWorker(this.api.packUrl());
    return this.alive(() => this.worker.readPack(url, authHeaders(url)));
  }

  /** Loads this annotator's tiles, then re-applies and resumes unsent edits. */
  async load(): Promise<void> {
    try {
      await this.sync.handOver();
      const tiles = await this.readPack();
      this.store.apply(
        tiles.map((t) => ({ key: tileKey(t.tx, t.ty), tile: t.tile, version: t.version })),
        'remote',
        'Load',
      );
      await this.sync.resume();
      this.loaded = true;
    } catch (err) {
      this.loadError = (err as Error).message;
      throw err;
    }
  }

  /**
   * Loads the tiles only, for a mask shown read-only (another reader's,
   * src/state/compared-reader.ts): no outbox is taken over or resumed, and
   * nothing is ever sent (readOnly refuses every edit).
   */
  async loadReadOnly(reason: string): Promise<void> {
    this.readOnly = reason;
    try {
      const tiles = await this.readPack();
      this.store.apply(
        tiles.map((t) => ({ key: tileKey(t.tx, t.ty), tile: t.tile, version: t.version })),
        'remote',
        'Load',
      );
      this.loaded = true;
    } catch (err) {
      this.loadError = (err as Error).message;
      throw err;
    }
  }

  /**
   * What painting every region of interest into the mask would do (a dry run
   * on the server: nothing is written): regions, tiles, new pixels, and the
   * painted pixels per class id it would overwrite. Waits for unsent strokes
   * first, so the count includes them.
   */
  async previewRois(keepPainted = false): Promise<RasterizeAnswer> {
    if (this.readOnly !== null) throw new Error(this.readOnly);
    await this.idle();
    if (this.sync.snapshot.queued > 0) throw new Error('Wait until the mask is saved, then try again.');
    const r = await this.api.rasterize(newOpId(), { dryRun: true, ...(keepPainted ? { keepPainted } : {}) });
    if (r.status !== 200) throw new Error(r.body.message ?? `the server answered ${r.status}`);
    return r.body;
  }

  /**
   * Has the server paint every region of interest into the mask (its fixed
   * order: largest first) — only unlabelled pixels with `keepPainted` — then
   * reads the tiles back. Waits for unsent strokes first, so nothing of this
   * browser's is overwritten unseen. The tiles it changed become one undo
   * step: undo writes the tiles as they were back to the server.
   */
  async rasterizeRois(keepPainted = true): Promise<string> {
    if (this.readOnly !== null) throw new Error(this.readOnly);
    // the server paints every region with its class: with a class locked, that is refused rather than half done
    const locked = [...this.lockedClasses().values()];
    if (locked.length) throw new Error(`${locked.join(', ')} ${locked.length === 1 ? 'is' : 'are'} locked (Layers): "All ROIs → mask" paints every region's class, so unlock ${locked.length === 1 ? 'it' : 'them'} first. Nothing was changed.`);
    await this.idle();
    if (this.sync.snapshot.queued > 0) throw new Error('Wait until the mask is saved, then try again.');
    const r = await this.api.rasterize(newOpId(), keepPainted ? { keepPainted } : {});
    if (r.status !== 201 && r.status !== 200) throw new Error(r.body.message ?? `the server answered ${r.status}`);
    const tiles = await this.readPack();
    const label = 'All ROIs → mask';
    // through the edit queue, so no stroke runs on tiles half read back
    await new Promise<void>((resolve, reject) => {
      this.chain = this.chain.then(() => {
        try {
          const c = this.store.apply(
            tiles.filter((t) => this.store.versionOf(tileKey(t.tx, t.ty)) !== t.version).map((t) => ({ key: tileKey(t.tx, t.ty), tile: t.tile, version: t.version })),
            'remote',
            label,
          );
          if (c.tiles.length) this.pushStep(c);
          resolve();
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    const skipped = r.body.skipped?.length ?? 0;
    const painted = r.body.painted ?? 0;
    const kept = Object.values(r.body.kept ?? {}).reduce((a, b) => a + b, 0);
    const over = Object.values(r.body.overwritten ?? {}).reduce((a, b) => a + b, 0);
    return (
      `Painted ${painted} region${painted === 1 ? '' : 's'} into the mask (${r.body.tiles ?? 0} tile${r.body.tiles === 1 ? '' : 's'} changed)` +
      (kept ? `; ${kept.toLocaleString()} painted pixels left as they were` : '') +
      (over ? `; ${over.toLocaleString()} painted pixels overwritten` : '') +
      (skipped ? `; ${skipped} skipped (no class, or no area)` : '') +
      '. Ctrl+Z undoes.'
    );
  }

  /**
   * Puts the tiles under a box back as they were right after operation
   * `seq` of the region's history (whole tiles: docs/masks.md), as one
   * local edit — saved like any stroke, and one undo step. Waits for unsent
   * strokes first. Returns how many tiles changed.
   */
  async restoreRegion(bbox: [number, number, number, number], seq: number, label: string): Promise<number> {
    if (this.readOnly !== null) throw new Error(this.readOnly);
    await this.idle();
    if (this.sync.snapshot.queued > 0) throw new Error('Wait until the mask is saved, then try again.');
    const tiles = (await this.api.regionAsOf(bbox, seq)).filter((t) => t.then !== t.now);
    const writes: MaskTileWrite[] = [];
    for (const t of tiles) {
      let tile: EncodedTile = EMPTY_TILE;
      if (t.then > 0) {
        const url = forWorker(this.api.versionUrl(t.tx, t.ty, t.then));
        const got = (await this.alive(() => this.worker.readPack(url, authHeaders(url))))[0];
        if (!got) throw new Error(`version ${t.then} of tile (${t.tx}, ${t.ty}) could not be read`);
        tile = got.tile;
      }
      writes.push({ key: tileKey(t.tx, t.ty), tile });
    }
    if (writes.length === 0) return 0;
    // through the edit queue, as a local edit: the sync saves it and the store's observer makes it one undo step
    await new Promise<void>((resolve, reject) => {
      this.chain = this.chain.then(() => {
        try {
          this.store.apply(writes, 'local', label);
          resolve();
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    return writes.length;
  }

  /** Waits until every queued edit has been applied to the store. */
  idle(): Promise<void> {
    return this.chain.then(() => undefined);
  }

  private tilesIn(box: PixelBox): TileIn[] {
    const g = maskGridSize(this.slideBox.x1, this.slideBox.y1);
    const out: TileIn[] = [];
    const tx0 = Math.max(0, Math.floor(box.x0 / MASK_TILE));
    const ty0 = Math.max(0, Math.floor(box.y0 / MASK_TILE));
    const tx1 = Math.min(g.cols - 1, Math.floor((box.x1 - 1) / MASK_TILE));
    const ty1 = Math.min(g.rows - 1, Math.floor((box.y1 - 1) / MASK_TILE));
    for (let ty = ty0; ty <= ty1; ty++) {
      for (let tx = tx0; tx <= tx1; tx++) {
        const key = tileKey(tx, ty);
        out.push({ key, tile: this.store.has(key) ? this.store.get(key) : null });
      }
    }
    return out;
  }

  private clipToSlide(b: PixelBox): PixelBox {
    const s = this.slideBox;
    return { x0: Math.max(s.x0, Math.floor(b.x0)), y0: Math.max(s.y0, Math.floor(b.y0)), x1: Math.min(s.x1, Math.ceil(b.x1)), y1: Math.min(s.y1, Math.ceil(b.y1)) };
  }

  /**
   * Runs one edit over `box` in the worker (in bands when large) and applies
   * it as one change. A tile the server's content replaced while the worker
   * painted (a conflict taken as "theirs", the ROIs painted on the server)
   * makes it paint again on the new content, so the edit never writes over
   * what it did not see.
   */
  private edit(spec: JobSpec, box: PixelBox, label: string): Promise<EditOutcome> {
    if (this.readOnly !== null) return Promise.resolve({ keys: [], pixels: 0, refused: this.readOnly });
    const locked = this.lockedClasses();
    const lockedName = locked.get(spec.value);
    if (lockedName !== undefined) return Promise.resolve({ keys: [], pixels: 0, refused: lockedMessage(lockedName) });
    const job: JobSpec = locked.size ? { ...spec, protect: [...locked.keys()] } : spec;
    const run = this.chain.then(async (): Promise<EditOutcome> => {
      for (let attempt = 0; attempt < 3; attempt++) {
        const out = await this.editOnce(job, box, label);
        if (out === 'stale') continue;
        // everything it would have changed is of a locked class: say so, not a silent no-op
        if (out.pixels === 0 && out.refused === null && (out.kept ?? 0) > 0) return { ...out, refused: `${[...locked.values()].join(', ')} ${locked.size === 1 ? 'is' : 'are'} locked (Layers): those pixels were left as they are.` };
        return out;
      }
      return { keys: [], pixels: 0, refused: 'The mask kept changing on the server while this was painted; nothing was changed, try again.' };
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async editOnce(spec: JobSpec, box: PixelBox, label: string): Promise<EditOutcome | 'stale'> {
    const b = this.clipToSlide(box);
    if (b.x1 <= b.x0 || b.y1 <= b.y0) return { keys: [], pixels: 0, refused: 'nothing of it lies on the slide' };
    const read = new Map<string, EncodedTile | null>();
    const writes = new Map<string, EncodedTile>();
    const bitmaps: RenderedTile[] = [];
    // the first display that wants bitmaps of the changed tiles gets them
    let display: MaskDisplay | null = null;
    let render: RenderRequest | null = null;
    for (const d of this.displays) {
      render = d.renderRequest();
      if (render) {
        display = d;
        break;
      }
    }
    let pixels = 0;
    let kept = 0;
    const band = spec.kind === 'flood' ? b.y1 - b.y0 : BAND_ROWS * MASK_TILE;
    for (let y = spec.kind === 'flood' ? b.y0 : Math.floor(b.y0 / band) * band; y < b.y1; y += band) {
      const part: PixelBox = { x0: b.x0, x1: b.x1, y0: Math.max(b.y0, y), y1: Math.min(b.y1, y + band) };
      const tiles = this.tilesIn(part);
      for (const t of tiles) read.set(t.key, t.tile);
      const job: PaintJob = { ...spec, bounds: spec.kind === 'flood' ? b : part, tiles, ...(render ? { render } : {}) };
      const r = await this.alive(() => this.worker.paint(job, this.slideBox));
      if (r.refused) return { keys: [], pixels: 0, refused: r.refused };
      for (const c of r.changed) writes.set(c.key, c.tile);
      if (r.bitmaps) bitmaps.push(...r.bitmaps);
      pixels += r.pixels;
      kept += r.kept ?? 0;
    }
    for (const [key, tile] of read) {
      if ((this.store.has(key) ? this.store.get(key) : null) !== tile) {
        for (const r of bitmaps) r.bitmap.close();
        return 'stale';
      }
    }
    if (writes.size === 0) return { keys: [], pixels: 0, refused: null, ...(kept ? { kept } : {}) };
    this.store.apply([...writes].map(([key, tile]) => ({ key, tile })), 'local', label);
    if (bitmaps.length) display?.install(bitmaps);
    return { keys: [...writes.keys()], pixels, refused: null, ...(kept ? { kept } : {}) };
  }

  /** A brush (value > 0) or eraser (value 0) stroke; `clip` limits it to the union of those polygons (ROIs). */
  stroke(path: Float64Array, radius: number, value: number, clip: Float64Array[][] | null): Promise<EditOutcome> {
    const [x0, y0, x1, y1] = flatBounds(path);
    const box = { x0: x0 - radius - 1, y0: y0 - radius - 1, x1: x1 + radius + 2, y1: y1 + radius + 2 };
    const spec: JobSpec = { kind: 'stroke', value, stroke: { path, radius }, ...(clip ? { clip } : {}) };
    return this.edit(spec, box, value === 0 ? 'Erase' : 'Brush stroke');
  }

  /** Fills polygons (each a list of flat rings) with a class: "fill ROI". */
  fillPolygons(polygons: Float64Array[][], value: number, label: string): Promise<EditOutcome> {
    const [x0, y0, x1, y1] = ringsBounds(polygons.flat());
    return this.edit({ kind: 'polygons', value, polygons }, { x0, y0, x1: x1 + 1, y1: y1 + 1 }, label);
  }

  /** Fills the closed region around (x, y) within `bounds` (the view). */
  flood(x: number, y: number, value: number, bounds: PixelBox): Promise<EditOutcome> {
    return this.edit({ kind: 'flood', value, flood: { x, y } }, bounds, 'Fill region');
  }

  /** Bytes the mask holds in memory (tiles and cached pyramid levels). */
  residentBytes(): number {
    return this.store.residentBytes() + this.pyramid.cachedBytes();
  }

  /** Leaves the slide; the worker stays up to `drainMs` for the sender to finish. */
  dispose(drainMs = 60_000): void {
    this.unsubscribe();
    this.sync.detach();
    // the worker stays until the queue has drained (it compresses what is sent), a minute at most;
    // whatever is still queued then stays in the outbox for the next visit
    let done = false;
    const end = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      queueMicrotask(() => off());
      // a sender still retrying then stops (its calls on the worker fail instead of hanging),
      // so a later visit's handOver() is never stuck behind it
      if (this.sync.snapshot.queued > 0) this.sync.stop();
      this.workerEnded = true;
      for (const reject of this.inFlight) reject(new Error('the mask worker has ended'));
      this.inFlight.clear();
      this.terminate();
    };
    const timer = setTimeout(end, drainMs);
    const off = this.sync.onChange((s) => {
      if (s.queued === 0) end();
    });
  }
}
