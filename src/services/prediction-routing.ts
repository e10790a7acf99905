/**
 * A model's predictions are read-only on the server (409
 * MODEL_OBJECT_READ_ONLY, docs/ai-corrections.md): this turns the batch ops
 * the sync engine makes from local edits of a prediction into ops on its
 * corrected object. The local object keeps the prediction's id (so the
 * view, the selection and undo need not know), and the first op on it
 * creates the corrected object with `parent` — an update becomes a create
 * carrying the changed fields, a delete (a rejection) a create then a delete,
 * as the server's triage route does; later ops (undo, more edits) go to the
 * corrected object by its id. Versions line up: a prediction is at version
 * 1 and its corrected object is created at version 1.
 */
import type { AnnotationRecord } from '../state/annotation-store.js';
import type { ModelProvenance } from '../state/model-provenance.js';
import type { BatchOpJson } from './annotation-api.js';

function newId(): string {
  return crypto.randomUUID();
}

function fieldsOf(r: AnnotationRecord, id: string): Record<string, unknown> {
  const { version: _v, ...rest } = r;
  return { ...rest, id, properties: {} };
}

export class PredictionRouter {
  constructor(
    private readonly prov: ModelProvenance,
    /** The record of a local object by id, also when it was just deleted locally. */
    private readonly recordOf: (id: string) => AnnotationRecord | null,
  ) {}

  /** The local id behind a server id (a corrected object made here is known locally by its prediction's id). */
  localId(serverId: string): string {
    return this.prov.localId(serverId);
  }

  /** Someone else's corrected object of `predictionId` exists: this client's ops go to it from now on. */
  retarget(predictionId: string, correctedId: string): void {
    this.prov.alias(predictionId, correctedId);
  }

  /** Rewrites ops on predictions; other ops pass unchanged. */
  route(ops: BatchOpJson[]): BatchOpJson[] {
    const out: BatchOpJson[] = [];
    for (const op of ops) {
      const id = op.op === 'create' ? (op.annotation['id'] as string) : op.id;
      if (!this.prov.isPrediction(id)) {
        out.push(op);
        continue;
      }
      if (this.prov.hasAlias(id)) {
        const target = this.prov.serverId(id);
        if (op.op === 'create') out.push({ ...op, annotation: { ...op.annotation, id: target }, parent: id });
        else out.push({ ...op, id: target });
        continue;
      }
      // the first change of this prediction: its corrected object is made now
      const record = this.recordOf(id);
      if (!record) {
        out.push(op);
        continue;
      }
      const corrected = newId();
      this.prov.alias(id, corrected);
      if (op.op === 'update') {
        out.push({ op: 'create', parent: id, annotation: { ...fieldsOf(record, corrected), ...op.changes, id: corrected, properties: {} } });
      } else if (op.op === 'delete') {
        out.push({ op: 'create', parent: id, annotation: fieldsOf(record, corrected) });
        out.push({ op: 'delete', id: corrected, ifMatch: 1 });
      } else {
        // a restore of a prediction never changed here: it is live on the server already
        out.push({ op: 'create', parent: id, annotation: fieldsOf(record, corrected) });
      }
    }
    return out;
  }

  /**
   * Ops that accept predictions as the model made them: each gets its
   * corrected object, unchanged (only for predictions nobody acted on here).
   */
  accept(ids: readonly string[]): BatchOpJson[] {
    const out: BatchOpJson[] = [];
    for (const id of ids) {
      if (!this.prov.isPrediction(id) || this.prov.hasAlias(id)) continue;
      const record = this.recordOf(id);
      if (!record) continue;
      const corrected = newId();
      this.prov.alias(id, corrected);
      out.push({ op: 'create', parent: id, annotation: fieldsOf(record, corrected) });
    }
    return out;
  }
}
