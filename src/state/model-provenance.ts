/**
 * Which of the loaded objects came from a model (issue 13,
 * docs/ai-corrections.md): a model run's predictions are read-only on the
 * server, so the client must know them to route their edits to a corrected
 * object; corrected objects name the prediction they came from (`parent`),
 * which is how the triage queue finds a prediction's current state. Kept by
 * handle in typed columns (a million predictions share a handful of run ids)
 * plus one map from a prediction's id to its handle, so a deleted
 * prediction's record can still be read.
 */
import type { LeanRecord } from '../core/annotation-pages.js';
import type { AnnotationStore, Handle } from './annotation-store.js';

export class ModelProvenance {
  private readonly runIds: string[] = [];
  private readonly runIndex = new Map<string, number>();
  /** Per handle: index of its run (-1: manual), score (NaN: none). */
  private run = new Int16Array(1024).fill(-1);
  private score = new Float64Array(1024).fill(Number.NaN);
  /** Read-only predictions by id (their handle stays valid when deleted locally). */
  private readonly predictions = new Map<string, Handle>();
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

  private grow(h: Handle): void {
    if (h < this.run.length) return;
    const n = Math.max(h + 1, this.run.length * 2);
    const run = new Int16Array(n).fill(-1);
    run.set(this.run);
    const score = new Float64Array(n).fill(Number.NaN);
    score.set(this.score);
    this.run = run;
    this.score = score;
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
    if (r.readOnly) this.predictions.set(r.id, h);
    if (r.parent) {
      this.corrected.set(r.parent, r.id);
      this.parents.set(r.id, r.parent);
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
    return this.predictions.has(id);
  }

  /** A prediction's handle, also while it is deleted locally. */
  predictionHandle(id: string): Handle | undefined {
    return this.predictions.get(id);
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
    for (const [id, h] of this.predictions) {
      if (this.run[h] !== run) continue;
      if (this.aliases.has(id) || !store.isLive(h)) return null;
      out.push(h);
    }
    return out;
  }

  /** Predictions whose local object is live in `store` (untouched, or corrected here under their own id). */
  livePredictions(store: AnnotationStore): Handle[] {
    const out: Handle[] = [];
    for (const h of this.predictions.values()) if (store.isLive(h)) out.push(h);
    return out;
  }
}
