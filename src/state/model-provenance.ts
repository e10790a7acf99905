/**
 * Which of the loaded objects came from a model (issue 13,
 * docs/ai-corrections.md): a model run's predictions are read-only on the
 * server, so the client must know them to route their edits to a corrected
 * object; corrected objects name the prediction they came from (`parent`),
 * which is how the triage queue finds a prediction's current state. Kept by
 * handle in typed columns (a million predictions share a handful of run ids,
 * and which handles are predictions is a flag); a prediction is found by id
 * through the store's own ids (deleted ones included), so its record can
 * still be read while it is deleted locally — no second map of a million ids.
 */
import type { LeanRecord } from '../core/annotation-pages.js';
import { COLUMN_PROVENANCE, COLUMN_READ_ONLY, type ColumnarColumns } from '../core/columnar-pages.js';
import type { AnnotationStore, Handle } from './annotation-store.js';

export class ModelProvenance {
  private readonly runIds: string[] = [];
  private readonly runIndex = new Map<string, number>();
  /** Per handle: index of its run (-1: manual), score (NaN: none), 1 when a read-only prediction. */
  private run = new Int16Array(1024).fill(-1);
  private score = new Float64Array(1024).fill(Number.NaN);
  private prediction = new Uint8Array(1024);
  /** Handles below this may be predictions (the scans stop here). */
  private extent = 0;
  /** Corrected objects: prediction id → corrected object id (loaded from the server or made here). */
  private readonly corrected = new Map<string, string>();
  /** The other way: corrected object id → prediction id. */
  private readonly parents = new Map<string, string>();
  /**
   * Predictions corrected in this session while the local object keeps the
   * prediction's id: local id (the prediction) → server id (its corrected
   * object). Only the sync path sees the server id.
   */
  private readonly aliases = new Map<string, string>();
  private readonly serverToLocal = new Map<string, string>();

  /** @param store the store whose handles these are: a prediction is looked up by id through it */
  constructor(private readonly store: AnnotationStore) {}

  private grow(h: Handle): void {
    if (h >= this.extent) this.extent = h + 1;
    if (h < this.run.length) return;
    const n = Math.max(h + 1, this.run.length * 2);
    const run = new Int16Array(n).fill(-1);
    run.set(this.run);
    const score = new Float64Array(n).fill(Number.NaN);
    score.set(this.score);
    const prediction = new Uint8Array(n);
    prediction.set(this.prediction);
    this.run = run;
    this.score = score;
    this.prediction = prediction;
  }

  private internRun(id: string): number {
    let i = this.runIndex.get(id);
    if (i === undefined) {
      i = this.runIds.length;
      this.runIds.push(id);
      this.runIndex.set(id, i);
    }
    return i;
  }

  /** Takes in what the server said about a loaded object (nothing for manual objects). */
  note(h: Handle, r: Pick<LeanRecord, 'id' | 'source' | 'parent' | 'score' | 'readOnly'>): void {
    if (r.source === undefined || r.source === 'manual') return;
    this.grow(h);
    this.run[h] = this.internRun(r.source);
    if (typeof r.score === 'number') this.score[h] = r.score;
    if (r.readOnly) this.prediction[h] = 1;
    if (r.parent) {
      this.corrected.set(r.parent, r.id);
      this.parents.set(r.id, r.parent);
    }
  }

  /**
   * Takes in a loaded columnar page (core/columnar-pages.ts): row i is
   * handle handles[i] (-1: not taken in). Per row only typed columns are
   * written; the strings of the page are read once per distinct run.
   */
  noteColumns(p: ColumnarColumns, handles: Int32Array): void {
    const runOf = new Int32Array(p.strings.length).fill(-2);
    for (let i = 0; i < p.n; i++) {
      const h = handles[i] as number;
      const f = p.flags[i] as number;
      if (h < 0 || !(f & COLUMN_PROVENANCE)) continue;
      const k = p.source[i] as number;
      const source = p.strings[k] as string;
      if (source === 'manual') continue;
      this.grow(h);
      let run = runOf[k] as number;
      if (run === -2) runOf[k] = run = this.internRun(source);
      this.run[h] = run;
      const s = p.score[i] as number;
      if (!Number.isNaN(s)) this.score[h] = s;
      if (f & COLUMN_READ_ONLY) this.prediction[h] = 1;
      const parent = p.parent[i] as number;
      if (parent >= 0) {
        const id = p.strings[p.id[i] as number] as string;
        this.corrected.set(p.strings[parent] as string, id);
        this.parents.set(id, p.strings[parent] as string);
      }
    }
  }

  /** The model run an object belongs to (a prediction or a corrected object), or null for manual ones. */
  runOf(h: Handle): string | null {
    const i = h < this.run.length ? (this.run[h] as number) : -1;
    return i < 0 ? null : (this.runIds[i] ?? null);
  }

  /** The score of a prediction, or null. */
  scoreOf(h: Handle): number | null {
    const s = h < this.score.length ? (this.score[h] as number) : Number.NaN;
    return Number.isNaN(s) ? null : s;
  }

  /** Whether `id` is a read-only prediction (as the server said when it was loaded). */
  isPrediction(id: string): boolean {
    return this.predictionHandle(id) !== undefined;
  }

  /** A prediction's handle, also while it is deleted locally. */
  predictionHandle(id: string): Handle | undefined {
    const h = this.store.handleOfAny(id);
    return h !== undefined && this.prediction[h] === 1 ? h : undefined;
  }

  /** The prediction a corrected object came from, or null. */
  parentOf(id: string): string | null {
    return this.parents.get(id) ?? this.serverToLocal.get(id) ?? null;
  }

  /** The corrected object of a prediction (its server id), or null when nobody acted on it yet. */
  correctedOf(predictionId: string): string | null {
    return this.corrected.get(predictionId) ?? null;
  }

  /** The id the server knows a local object by (a prediction corrected here: its corrected object). */
  serverId(localId: string): string {
    return this.aliases.get(localId) ?? localId;
  }

  /** The local object behind a server id (the prediction when the server id is its corrected object made here). */
  localId(serverId: string): string {
    return this.serverToLocal.get(serverId) ?? serverId;
  }

  /** Whether the local object `id` is a prediction whose corrections go to a corrected object made here. */
  hasAlias(id: string): boolean {
    return this.aliases.has(id);
  }

  /** Records that edits of prediction `predictionId` (kept locally under its own id) now go to `correctedId` on the server. */
  alias(predictionId: string, correctedId: string): void {
    this.aliases.set(predictionId, correctedId);
    this.serverToLocal.set(correctedId, predictionId);
    this.corrected.set(predictionId, correctedId);
  }

  /** Run ids seen among the loaded objects. */
  runs(): readonly string[] {
    return this.runIds;
  }

  /**
   * The loaded predictions of run `runId` (handles), or null when one of
   * them was acted on here (its local object may no longer be the model's):
   * each is then read from the server instead.
   */
  untouchedPredictions(runId: string, store: AnnotationStore): Handle[] | null {
    const run = this.runIndex.get(runId);
    const out: Handle[] = [];
    if (run === undefined) return out;
    const aliased = this.aliases.size > 0;
    for (let h = 0; h < this.extent; h++) {
      if (this.prediction[h] !== 1 || this.run[h] !== run) continue;
      if (!store.isLive(h) || (aliased && this.aliases.has(store.idOf(h)))) return null;
      out.push(h);
    }
    return out;
  }

  /** Predictions whose local object is live in `store` (untouched, or corrected here under their own id). */
  livePredictions(store: AnnotationStore): Handle[] {
    const out: Handle[] = [];
    for (let h = 0; h < this.extent; h++) if (this.prediction[h] === 1 && store.isLive(h)) out.push(h);
    return out;
  }
}
