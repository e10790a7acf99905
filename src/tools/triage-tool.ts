/**
 * Triage (`g`, issue 13): a technologist goes through a model run's
 * predictions one by one — lowest score first, or by position — and
 * accepts (`A`), rejects (`R`, Del) or relabels (the class keys) each; `.`
 * and `,` go to the next and previous. The view flies to each object at the
 * task's magnification. The panel shows done and remaining counts per class,
 * colours the predictions by score, filters them by score, and accepts or
 * rejects in bulk inside the selected ROI or above/below a score.
 *
 * A decision is an ordinary local edit of the object that stands for the
 * prediction (the prediction itself, or its corrected object): one undo
 * step, sent through the outbox, where edits of read-only predictions are
 * turned into their corrected object (services/prediction-routing.ts).
 * Accepting an untouched prediction changes nothing locally, so it is queued
 * directly as the corrected object's creation. Other tools edit predictions
 * the same way, so an outline changed with the select tool counts as edited.
 */
import type { ModelRunInfo } from '../services/model-run-api.js';
import type { Handle } from '../state/annotation-store.js';
import { polygonRings } from '../state/rois.js';
import type { ModelContext } from './model-context.js';
import { registerTool } from './registry.js';
import type { Tool, ToolContext } from './tool.js';
import { triagePanel } from './triage-panel.js';
import { ScoreOverlay } from './score-overlay.js';
import { centreInside, inRange, progressByClass, SCORE_COLOURS, scoreBucket, sortItems, standIn, stateOf, toItem, type ClassProgress, type QueueItem, type ScoreFilter, type SortMode, type TriageState } from './triage-queue.js';

/** Above this many predictions in view the score colours are not drawn (zoom in). */
const MAX_DRAWN = 20_000;

export class TriageTool implements Tool {
  runs: ModelRunInfo[] | null = null;
  runId: string | null = null;
  /** Every prediction of the run; `order` is the queue: sorted, filtered by score. */
  items: QueueItem[] = [];
  order: QueueItem[] = [];
  cursor = -1;
  mode: SortMode = 'score';
  filter: ScoreFilter = { min: 0, max: 1 };
  colourByScore = true;
  /** The magnification the view shows each object at. */
  taskMagnification = 20;
  threshold = 0.5;
  loading: string | null = null;
  error: string | null = null;
  private readonly byId = new Map<string, QueueItem>();
  /** Done and remaining per model class over the queue, kept as states change (not counted on every render). */
  progress = new Map<string, ClassProgress>();
  private hiddenApplied = false;
  private offStore: (() => void) | null = null;
  /** The score colours, traced once per cell of the slide and kept (score-overlay.ts). */
  readonly scores: ScoreOverlay;

  constructor(private readonly ctx: ToolContext) {
    this.scores = new ScoreOverlay(ctx.store, ctx.index, SCORE_COLOURS, (h) => this.colourOf(h));
  }

  private get models(): ModelContext | null {
    return this.ctx.models ?? null;
  }

  unavailable(): string | null {
    if (!this.ctx.models) return 'Triage needs a server with model runs.';
    return this.ctx.store.readOnly;
  }

  /** Loads the runs once (the first time the panel shows). */
  ensureRuns(): void {
    const m = this.models;
    if (!m || this.runs !== null || this.loading) return;
    this.loading = 'Loading model runs…';
    m.api
      .runs()
      .then((runs) => {
        this.runs = runs;
        this.loading = null;
        const imported = runs.filter((r) => r.state === 'imported');
        if (imported.length === 1 && this.runId === null) void this.selectRun((imported[0] as ModelRunInfo).id);
      })
      .catch((err: Error) => {
        this.runs = [];
        this.loading = null;
        this.error = err.message;
      })
      .finally(() => this.ctx.panelChanged());
  }

  async selectRun(id: string): Promise<void> {
    const m = this.models;
    if (!m) return;
    this.runId = id;
    this.loading = 'Loading predictions…';
    this.error = null;
    this.ctx.panelChanged();
    try {
      const preds = await (m.predictions ? m.predictions(id) : m.api.predictions(id));
      if (this.runId !== id) return;
      this.items = preds.map(toItem);
      this.byId.clear();
      for (const it of this.items) this.byId.set(it.id, it);
      for (const it of this.items) this.refresh(it);
      this.offStore ??= this.ctx.store.observe((cs) => {
        this.scores.changed(cs);
        for (const h of cs.created) this.touched(h);
        for (const u of cs.updated) this.touched(u.handle);
        for (const d of cs.deleted) this.touched(d.handle);
      });
      this.rebuild();
      this.loading = null;
      this.go(this.nextIndex(-1));
    } catch (err) {
      this.loading = null;
      this.error = (err as Error).message;
      this.ctx.panelChanged();
    }
  }

  /** A changed object: the state of the prediction it stands for. */
  private touched(h: Handle): void {
    const id = this.ctx.store.idOf(h);
    const it = this.byId.get(id) ?? this.byId.get(this.models?.provenance.parentOf(id) ?? '');
    if (it) this.refresh(it);
  }

  private refresh(it: QueueItem): void {
    const m = this.models;
    if (!m) return;
    const before = it.state ?? 'untouched';
    const now = stateOf(it, this.ctx.store, m.provenance);
    it.state = now;
    if (!it.queued || (before === 'untouched') === (now === 'untouched')) return;
    const p = this.progress.get(it.classification ?? '(none)');
    if (!p) return;
    const d = now === 'untouched' ? -1 : 1;
    p.done += d;
    p.remaining -= d;
  }

  state(it: QueueItem): TriageState {
    return it.state ?? 'untouched';
  }

  /** Sorts and filters the queue again, keeping the current object when it stays in. */
  rebuild(): void {
    const cur = this.current();
    this.order = sortItems(
      this.items.filter((it) => inRange(it, this.filter)),
      this.mode,
    );
    this.cursor = cur ? this.order.indexOf(cur) : -1;
    for (const it of this.items) it.queued = false;
    for (const it of this.order) it.queued = true;
    this.progress = progressByClass(this.order, (it) => this.state(it));
    this.scores.reset(this.order.map((it) => it.bbox));
    this.hiddenApplied = false;
    this.ctx.redraw();
    this.ctx.panelChanged();
  }

  current(): QueueItem | null {
    return this.order[this.cursor] ?? null;
  }

  /** The next object nobody decided after `from` (wrapping round), or the next one when all are decided. */
  private nextIndex(from: number): number {
    const n = this.order.length;
    for (let k = 1; k <= n; k++) {
      const i = (from + k) % n;
      if (this.state(this.order[i] as QueueItem) === 'untouched') return i;
    }
    return n === 0 ? -1 : Math.min(from + 1, n - 1);
  }

  /** Makes the i-th object of the queue current: selected, and the view on it at the task's magnification. */
  go(i: number): void {
    this.cursor = i;
    const it = this.current();
    const m = this.models;
    if (it && m) {
      const { handle } = standIn(it, this.ctx.store, m.provenance);
      this.ctx.selection.set(handle === null ? [] : [this.ctx.store.idOf(handle)]);
      m.flyTo(it.cx, it.cy, m.magnification() === null ? null : this.taskMagnification);
    }
    this.ctx.redraw();
    this.ctx.panelChanged();
  }

  next(): void {
    if (this.order.length) this.go(Math.min(this.cursor + 1, this.order.length - 1));
  }

  previous(): void {
    if (this.order.length) this.go(Math.max(this.cursor - 1, 0));
  }

  /** Accepts, rejects or relabels the current object, then goes to the next undecided one. */
  decide(action: 'accept' | 'reject' | 'relabel', classification: string | null = null): void {
    const it = this.current();
    const m = this.models;
    if (!it || !m) return;
    const why = this.unavailable();
    if (why) {
      this.ctx.notify(why);
      return;
    }
    if (this.apply(it, action, classification, m)) {
      this.refresh(it);
      this.go(this.nextIndex(this.cursor));
    } else this.ctx.panelChanged();
  }

  private apply(it: QueueItem, action: 'accept' | 'reject' | 'relabel', classification: string | null, m: ModelContext): boolean {
    const { store } = this.ctx;
    const { handle, acted } = standIn(it, store, m.provenance);
    const target = action === 'relabel' ? classification : it.classification;
    if (handle === null) {
      if (action === 'reject') return true;
      // rejected here: bring the prediction back (its corrected object is restored on the server)
      const local = m.provenance.predictionHandle(it.id);
      if (local === undefined || !m.provenance.hasAlias(it.id)) {
        this.ctx.notify('This prediction was rejected before this visit; its corrected object can be brought back from its history in the annotation list.');
        return false;
      }
      this.ctx.commit({ create: [{ ...store.record(local), classification: target, geometry: it.geometry, kind: it.kind }] }, action === 'accept' ? 'Accept prediction' : 'Relabel prediction');
      return true;
    }
    const id = store.idOf(handle);
    if (action === 'reject') {
      this.ctx.commit({ delete: [id] }, 'Reject prediction');
      return true;
    }
    // the class key of the model's own class on an untouched object confirms it: an acceptance
    if (!acted && (action === 'accept' || (target ?? null) === (it.classification ?? null))) {
      m.accept([id], 'Accept prediction');
      return true;
    }
    const changes: { classification?: string | null; geometry?: QueueItem['geometry']; kind?: QueueItem['kind'] } = {};
    if ((store.classOf(handle) ?? null) !== (target ?? null)) changes.classification = target;
    if (action === 'accept' && stateOf(it, store, m.provenance) !== 'accepted' && stateOf(it, store, m.provenance) !== 'relabelled') {
      changes.geometry = it.geometry;
      changes.kind = it.kind;
    }
    if (Object.keys(changes).length > 0) this.ctx.commit({ update: [{ id, changes }] }, action === 'accept' ? 'Accept prediction' : 'Relabel prediction');
    return true;
  }

  /** Accepts or rejects every undecided object of the queue that `pick` takes, as one step. */
  bulk(action: 'accept' | 'reject', pick: (it: QueueItem) => boolean, what: string): void {
    const m = this.models;
    if (!m) return;
    const why = this.unavailable();
    if (why) {
      this.ctx.notify(why);
      return;
    }
    const chosen = this.order.filter((it) => this.state(it) === 'untouched' && pick(it));
    const ids: string[] = [];
    for (const it of chosen) {
      const { handle } = standIn(it, this.ctx.store, m.provenance);
      if (handle !== null) ids.push(this.ctx.store.idOf(handle));
    }
    if (ids.length === 0) {
      this.ctx.notify(`No undecided predictions ${what}.`);
      return;
    }
    if (action === 'reject') this.ctx.commit({ delete: ids }, `Reject ${ids.length} predictions`);
    else m.accept(ids, `Accept ${ids.length} predictions`);
    for (const it of chosen) this.refresh(it);
    this.ctx.notify(`${action === 'accept' ? 'Accepted' : 'Rejected'} ${ids.length} prediction${ids.length === 1 ? '' : 's'} ${what}.`);
    this.ctx.redraw();
    this.ctx.panelChanged();
  }

  /** The selected polygons that are not predictions of this run: the ROI of bulk actions. */
  roi(): Float64Array[][] {
    const { store, selection } = this.ctx;
    const hs: Handle[] = [];
    for (const id of selection.list()) {
      const h = store.handleOf(id);
      if (h === undefined || this.byId.has(id) || this.byId.has(this.models?.provenance.parentOf(id) ?? '')) continue;
      hs.push(h);
    }
    return polygonRings(store, hs);
  }

  bulkInRoi(action: 'accept' | 'reject'): void {
    const rois = this.roi();
    if (rois.length === 0) {
      this.ctx.notify('Select an ROI (a polygon or rectangle drawn by hand) first, with the select tool.');
      return;
    }
    this.bulk(action, (it) => centreInside(it, rois), 'inside the selected ROI');
  }

  /** Marks what the view shows as checked for the run: objects drawn by hand in it count as the model's misses. */
  async markViewChecked(): Promise<void> {
    const m = this.models;
    if (!m || !this.runId) return;
    const b = this.ctx.visibleBox();
    const ring: Array<[number, number]> = [
      [b.x0, b.y0],
      [b.x1, b.y0],
      [b.x1, b.y1],
      [b.x0, b.y1],
      [b.x0, b.y0],
    ].map(([x, y]) => [Math.round(x as number), Math.round(y as number)] as [number, number]);
    try {
      await m.api.addCheckedArea(this.runId, ring);
      this.ctx.notify('The view is marked as checked: objects drawn by hand in it count as the model\'s misses.');
    } catch (err) {
      this.ctx.notify((err as Error).message);
    }
    this.ctx.panelChanged();
  }

  key(e: KeyboardEvent): boolean {
    if (e.ctrlKey || e.metaKey || e.altKey || !this.runId) return false;
    if (e.key === 'A') this.decide('accept');
    else if (e.key === 'R' || e.key === 'Delete' || e.key === 'Backspace') this.decide('reject');
    else if (e.key === '.') this.next();
    else if (e.key === ',') this.previous();
    else {
      const c = this.ctx.palette().find((x) => x.hotkey === e.key);
      if (!c) return false;
      this.decide('relabel', c.name);
    }
    return true;
  }

  /** The colour index of the prediction an object stands for (score-overlay.ts), or −1 when it is none of the queue's. */
  private colourOf(h: Handle): number {
    const id = this.ctx.store.idOf(h);
    const it = this.byId.get(id) ?? this.byId.get(this.models?.provenance.parentOf(id) ?? '');
    return it && inRange(it, this.filter) ? scoreBucket(it.score) : -1;
  }

  /** Items filtered out are hidden from the layer; the queue's objects in view are outlined in their score's colour. */
  drawOverlay = (g: CanvasRenderingContext2D, toScreen: (x: number, y: number) => [number, number]): void => {
    const m = this.models;
    if (!m || !this.runId) return;
    const { store } = this.ctx;
    if (!this.hiddenApplied) {
      this.hiddenApplied = true;
      const hide: Handle[] = [];
      for (const it of this.items) {
        if (inRange(it, this.filter)) continue;
        const { handle } = standIn(it, store, m.provenance);
        if (handle !== null) hide.push(handle);
      }
      this.ctx.hide(hide);
    }
    if (this.colourByScore) {
      const [ox, oy] = toScreen(0, 0);
      const scale = (toScreen(1, 0)[0] as number) - ox;
      if (!this.scores.draw(g, this.ctx.visibleBox(), ox, oy, scale, MAX_DRAWN).complete) this.ctx.redraw();
    }
    g.save();
    const cur = this.current();
    if (cur) {
      const [x0, y0] = toScreen(cur.bbox[0], cur.bbox[1]);
      const [x1, y1] = toScreen(cur.bbox[2], cur.bbox[3]);
      g.lineWidth = 3;
      g.strokeStyle = '#000';
      g.strokeRect(x0 - 8, y0 - 8, x1 - x0 + 16, y1 - y0 + 16);
      g.lineWidth = 1.5;
      g.strokeStyle = '#fff';
      g.strokeRect(x0 - 8, y0 - 8, x1 - x0 + 16, y1 - y0 + 16);
    }
    g.restore();
  };

  finish(): void {
    this.ctx.hide([]);
    this.hiddenApplied = false;
  }
}

registerTool({
  id: 'triage',
  label: 'Triage AI objects',
  icon: '✓',
  key: 'g',
  cursor: 'default',
  section: 'annotate',
  help: [
    ['A', 'accept the current AI object'],
    ['R / Del', 'reject it'],
    ['class key', 'relabel it to that class'],
    ['.', 'next AI object'],
    [',', 'previous AI object'],
  ],
  create: (ctx) => new TriageTool(ctx),
  panel: triagePanel,
});
