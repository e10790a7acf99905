/**
 * Model runs (issue 13): creating a run, importing its prediction file
 * through the annotation import path (import jobs, spool, staging, size and
 * nesting limits; the objects are written read-only with their scores),
 * triage of predictions (accept, reject, relabel, edit) turned into ordinary
 * annotation batch operations on the corrected layer — one write path, so
 * history, If-Match and Idempotency-Key work as for any change — checked
 * areas, and the corrections report (corrections/report.ts).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Annotation, AnnotationInput, AnnotationKind, Geometry } from '../src/core/annotation.js';
import { GeometryError, MAX_TEXT, normaliseGeometry, selfIntersections } from '../src/core/annotation.js';
import { WsiError } from '../src/core/errors.js';
import type { AnnotationService } from './annotation-service.js';
import { correctionReport, type CorrectionReport } from './corrections/report.js';
import { correctionState, sameGeometry, type CorrectionState } from './corrections/correction-state.js';
import type { SlideScope } from './identity/access-service.js';
import type { ImportAnswer } from './import/import-jobs.js';
import type { BatchOp, BatchResult } from './store/annotation-store.js';
import type { CheckedArea, ModelRun, ModelRunStore } from './store/model-runs.js';
import { isPlainObject } from './formats/types.js';

export type ReviewAction = 'accept' | 'reject' | 'relabel' | 'edit';
const ACTIONS: readonly ReviewAction[] = ['accept', 'reject', 'relabel', 'edit'];
const MAX_REVIEW_OPS = 10_000;
const MAX_PARAMETERS_BYTES = 64 * 1024;

function shortText(v: unknown, field: string, max: number): string {
  if (typeof v !== 'string' || v.trim() === '' || v.length > max) throw new WsiError('MODEL_RUN_INVALID', `${field} must be a non-empty string of at most ${max} characters`);
  return v.trim();
}

/** A new run's description: {model: {name, version}, parameters?, scoreKey?}. */
export function parseNewRun(body: unknown): { name: string; version: string; parameters: Record<string, unknown>; scoreKey: string | null } {
  if (!isPlainObject(body)) throw new WsiError('MODEL_RUN_INVALID', 'send {"model": {"name", "version"}, "parameters": {...}, "scoreKey"?}');
  const known = new Set(['model', 'parameters', 'scoreKey']);
  const extra = Object.keys(body).filter((k) => !known.has(k));
  if (extra.length) throw new WsiError('MODEL_RUN_INVALID', `unknown fields: ${extra.join(', ')}`);
  const model = body['model'];
  if (!isPlainObject(model)) throw new WsiError('MODEL_RUN_INVALID', 'model must be {"name", "version"}');
  const parameters = body['parameters'] ?? {};
  if (!isPlainObject(parameters)) throw new WsiError('MODEL_RUN_INVALID', 'parameters must be a JSON object');
  if (JSON.stringify(parameters).length > MAX_PARAMETERS_BYTES) throw new WsiError('MODEL_RUN_INVALID', `parameters are limited to ${MAX_PARAMETERS_BYTES} bytes of JSON`);
  const key = body['scoreKey'];
  if (key !== undefined && key !== null && (typeof key !== 'string' || !/^[A-Za-z0-9 _.:-]{1,64}$/.test(key))) {
    throw new WsiError('MODEL_RUN_INVALID', 'scoreKey must be 1–64 characters of letters, digits, space, _ . : -');
  }
  return { name: shortText(model['name'], 'model.name', 200), version: shortText(model['version'], 'model.version', 100), parameters, scoreKey: typeof key === 'string' ? key : null };
}

interface ReviewOp {
  prediction: string;
  action: ReviewAction;
  classification?: string | null;
  geometry?: Geometry;
  ifMatch?: number;
}

/** The triage request: {ops: [{prediction, action, classification?, geometry?, ifMatch?}]}. */
export function parseReview(body: unknown): ReviewOp[] {
  const ops = isPlainObject(body) ? body['ops'] : undefined;
  if (!Array.isArray(ops) || ops.length === 0) throw new WsiError('BAD_REQUEST', 'send {"ops": [{"prediction", "action", …}]} with at least one operation');
  if (ops.length > MAX_REVIEW_OPS) throw new WsiError('PAYLOAD_TOO_LARGE', `a review holds at most ${MAX_REVIEW_OPS} operations`);
  const seen = new Set<string>();
  return ops.map((raw, i): ReviewOp => {
    const where = `ops[${i}]`;
    if (!isPlainObject(raw)) throw new WsiError('BAD_REQUEST', `${where}: must be an object`);
    const prediction = raw['prediction'];
    if (typeof prediction !== 'string' || !/^[A-Za-z0-9_-]{8,64}$/.test(prediction)) throw new WsiError('BAD_REQUEST', `${where}: prediction must be a prediction's id`);
    if (seen.has(prediction)) throw new WsiError('BAD_REQUEST', `${where}: prediction ${prediction} appears twice; send one decision per prediction`);
    seen.add(prediction);
    const action = raw['action'];
    if (!ACTIONS.includes(action as ReviewAction)) throw new WsiError('BAD_REQUEST', `${where}: action must be one of ${ACTIONS.join(', ')}`);
    const op: ReviewOp = { prediction, action: action as ReviewAction };
    const ifMatch = raw['ifMatch'];
    if (ifMatch !== undefined) {
      if (typeof ifMatch !== 'number' || !Number.isInteger(ifMatch) || ifMatch < 1) throw new WsiError('BAD_REQUEST', `${where}: ifMatch must be the corrected object's version`);
      op.ifMatch = ifMatch;
    }
    if (raw['classification'] !== undefined) {
      const c = raw['classification'];
      if (c !== null && (typeof c !== 'string' || c.length > MAX_TEXT)) throw new WsiError('INVALID_ANNOTATION', `${where}: classification must be a class name or null`);
      if (op.action !== 'relabel' && op.action !== 'edit') throw new WsiError('BAD_REQUEST', `${where}: only relabel and edit take a classification`);
      op.classification = c as string | null;
    } else if (op.action === 'relabel') throw new WsiError('BAD_REQUEST', `${where}: relabel needs a classification`);
    if (raw['geometry'] !== undefined) {
      if (op.action !== 'edit') throw new WsiError('BAD_REQUEST', `${where}: only edit takes a geometry`);
      try {
        const g = normaliseGeometry(raw['geometry'], `${where}.geometry`);
        const bad = selfIntersections(g);
        if (bad.length > 0) throw new GeometryError(`ring crosses itself (${bad.slice(0, 3).join(', ')})`, `${where}.geometry`);
        op.geometry = g;
      } catch (err) {
        if (err instanceof GeometryError) throw new WsiError('INVALID_ANNOTATION', err.message, { index: i });
        throw err;
      }
    } else if (op.action === 'edit' && op.classification === undefined) throw new WsiError('BAD_REQUEST', `${where}: edit needs a geometry (and may take a classification)`);
    return op;
  });
}

function kindFor(previous: AnnotationKind, before: Geometry, after: Geometry): AnnotationKind {
  if (sameGeometry(before, after)) return previous;
  if (after.type === 'Point' || after.type === 'MultiPoint') return 'point';
  if (after.type === 'LineString') return 'polyline';
  return previous === 'freehand' ? 'freehand' : 'polygon';
}

export class ModelRunService {
  constructor(
    readonly runs: ModelRunStore,
    private readonly annotations: AnnotationService,
  ) {}

  private get store(): AnnotationService['store'] {
    return this.annotations.store;
  }

  async run(scope: SlideScope, id: string): Promise<ModelRun> {
    const slideId = await this.annotations.slide(scope);
    return this.runs.ofSlide(slideId, id);
  }

  async list(scope: SlideScope): Promise<ModelRun[]> {
    return this.runs.list(await this.annotations.slide(scope));
  }

  async create(scope: SlideScope, author: string, opId: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const slideId = await this.annotations.slide(scope);
    const r = parseNewRun(body);
    return this.runs.idempotent(opId, slideId, { newRun: body }, () => {
      const run = this.runs.create({ slideId, projectId: scope.project.id, name: r.name, version: r.version, parameters: r.parameters, scoreKey: r.scoreKey, author });
      return { status: 201, body: run as unknown as Record<string, unknown> };
    });
  }

  /** Imports the run's prediction file (see import/import-jobs.ts); one file per run. */
  async importPredictions(scope: SlideScope, author: string, opId: string, runId: string, format: string, body: IncomingMessage, signal: AbortSignal, onReceived?: () => void): Promise<ImportAnswer> {
    const run = await this.run(scope, runId);
    // a retry of the import that filled this run is answered from its record by the import path
    const prior = this.store.recordedOperation(opId);
    if (run.state !== 'pending' && !prior) {
      throw new WsiError('MODEL_RUN_HAS_PREDICTIONS', `model run ${run.id} already has its predictions (imported ${run.importedAt ?? ''}); create a new run for another file`);
    }
    return this.annotations.importFile(scope, author, opId, format, body, signal, onReceived, { id: run.id, scoreKey: run.scoreKey });
  }

  /** The prediction `id` of this run and slide, or 404 PREDICTION_NOT_FOUND. */
  private prediction(slideId: string, run: ModelRun, id: string): Annotation {
    const a = this.store.get(id);
    if (!a || this.store.slideOf(id) !== slideId || a.source !== run.id || a.readOnly !== true) {
      throw new WsiError('PREDICTION_NOT_FOUND', `no prediction ${id} of model run ${run.id} on this slide`);
    }
    return a;
  }

  /**
   * Turns triage decisions into annotation batch operations on the corrected
   * layer and applies them atomically under the operation id. `mayChange`
   * is asked about corrected objects that exist (edit-others).
   */
  async review(scope: SlideScope, author: string, opId: string, runId: string, body: unknown, mayChange: (ids: string[]) => void): Promise<Record<string, unknown> & { status: number }> {
    const slideId = await this.annotations.slide(scope);
    const run = this.runs.ofSlide(slideId, runId);
    const decisions = parseReview(body);
    const request = { review: runId, body };
    /** The batch's answer, and each prediction's corrected object and state now. */
    const answer = (r: BatchResult): Record<string, unknown> & { status: number } => ({
      ...r.body,
      status: r.status,
      ...(r.status === 200 ? { corrections: decisions.map((d) => this.describe(d.prediction)) } : {}),
    });
    // a retry is answered from the record, before the decisions are read against a state they changed
    if (this.store.recordedOperation(opId)) return answer(this.store.applyBatch(slideId, opId, author, [], request));
    const palette = new Set(this.store.palettes.ofSlide(slideId).map((c) => c.name));
    const ops: BatchOp[] = [];
    const existing: string[] = [];
    decisions.forEach((d, i) => {
      if (typeof d.classification === 'string' && !palette.has(d.classification)) {
        throw new WsiError('INVALID_ANNOTATION', `ops[${i}]: class "${d.classification}" is not in this project's palette`, { index: i });
      }
      const pred = this.prediction(slideId, run, d.prediction);
      const child = this.store.correctedOf(pred.id);
      const base = child ?? pred;
      const target =
        d.action === 'reject'
          ? null
          : {
              classification: d.action === 'accept' ? pred.classification : d.classification !== undefined ? d.classification : base.classification,
              geometry: d.action === 'accept' ? pred.geometry : (d.geometry ?? base.geometry),
            };
      if (!child) {
        const annotation: AnnotationInput = {
          id: randomUUID(),
          kind: target ? kindFor(pred.kind, pred.geometry, target.geometry) : pred.kind,
          geometry: target?.geometry ?? pred.geometry,
          classification: target ? target.classification : pred.classification,
          name: pred.name,
          note: null,
          locked: false,
          objectType: pred.objectType,
          properties: {},
        };
        ops.push({ op: 'create', annotation, parent: pred.id });
        if (!target) ops.push({ op: 'delete', id: annotation.id, ifMatch: 1 });
        return;
      }
      existing.push(child.id);
      if (d.ifMatch === undefined) throw new WsiError('PRECONDITION_REQUIRED', `ops[${i}]: prediction ${pred.id} has a corrected object (${child.id}, version ${child.version}); send its version as ifMatch`);
      let v = d.ifMatch;
      if (!target) {
        if (!child.deleted) ops.push({ op: 'delete', id: child.id, ifMatch: v });
        else if (v !== child.version) throw new WsiError('PRECONDITION_FAILED', `ops[${i}]: corrected object ${child.id} is at version ${child.version}, not ${v}`);
        return;
      }
      const changes: Partial<Omit<AnnotationInput, 'id'>> = {};
      if ((target.classification ?? null) !== (child.classification ?? null)) changes.classification = target.classification;
      if (!sameGeometry(target.geometry, child.geometry)) {
        changes.geometry = target.geometry;
        // accepting brings the model's outline back, and the kind it had
        changes.kind = d.action === 'accept' ? pred.kind : kindFor(child.kind, child.geometry, target.geometry);
      }
      if (child.deleted) ops.push({ op: 'restore', id: child.id, ifMatch: v++ });
      if (Object.keys(changes).length > 0) ops.push({ op: 'update', id: child.id, ifMatch: v, changes });
      else if (!child.deleted && v !== child.version) throw new WsiError('PRECONDITION_FAILED', `ops[${i}]: corrected object ${child.id} is at version ${child.version}, not ${v}`);
    });
    mayChange(existing);
    const result = this.store.applyBatch(slideId, opId, author, ops, request);
    return answer(result);
  }

  /** A prediction's corrected object and correction state now. */
  describe(predictionId: string): { prediction: string; corrected: string | null; version: number | null; state: CorrectionState } {
    const pred = this.store.get(predictionId) as Annotation;
    const child = this.store.correctedOf(predictionId);
    return { prediction: predictionId, corrected: child?.id ?? null, version: child?.version ?? null, state: correctionState(pred, child) };
  }

  async addArea(scope: SlideScope, author: string, opId: string, runId: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const slideId = await this.annotations.slide(scope);
    const run = this.runs.ofSlide(slideId, runId);
    const g = isPlainObject(body) ? body['geometry'] : undefined;
    let geometry: Geometry;
    try {
      geometry = normaliseGeometry(g, 'geometry');
    } catch (err) {
      if (err instanceof GeometryError) throw new WsiError('INVALID_ANNOTATION', err.message);
      throw err;
    }
    if (geometry.type !== 'Polygon' && geometry.type !== 'MultiPolygon') throw new WsiError('INVALID_ANNOTATION', 'a checked area is a Polygon or MultiPolygon');
    if (selfIntersections(geometry).length > 0) throw new WsiError('INVALID_ANNOTATION', 'geometry: the outline crosses itself');
    return this.runs.idempotent(opId, slideId, { checkedArea: runId, body }, () => ({ status: 201, body: this.runs.addArea(run.id, slideId, geometry, author) as unknown as Record<string, unknown> }));
  }

  async areas(scope: SlideScope, runId: string): Promise<CheckedArea[]> {
    return this.runs.areas((await this.run(scope, runId)).id);
  }

  async removeArea(scope: SlideScope, author: string, runId: string, areaId: string): Promise<void> {
    const run = await this.run(scope, runId);
    if (!this.runs.removeArea(run.id, areaId, author)) throw new WsiError('CHECKED_AREA_NOT_FOUND', `no checked area ${areaId} of model run ${run.id}`);
  }

  /** The report's mask part, for a run whose output is a mask (set by app.ts: model-mask-service.ts). */
  maskReport: (scope: SlideScope, run: ModelRun, signal?: AbortSignal) => Promise<CorrectionReport['mask']> = async () => null;

  async report(scope: SlideScope, runId: string, signal?: AbortSignal): Promise<CorrectionReport> {
    const run = await this.run(scope, runId);
    const objects = correctionReport(run, this.runs, this.store);
    return { ...objects, mask: await this.maskReport(scope, run, signal) };
  }
}
