/**
 * Annotations in the store (SQLite, or PostgreSQL through dialect.ts). Every version of every annotation is an
 * append-only history row; `annotations` only points at the current one
 * (delete is a tombstone version, restore is a new version). Writes are
 * batches applied in one transaction under optimistic concurrency (each
 * update names the version it was based on) and keyed by an operation id,
 * so a retried request returns the first answer instead of writing twice.
 */
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import {
  DEFAULT_CLASSES,
  GeometryError,
  geometryBounds,
  parseAnnotationInput,
  type Annotation,
  type AnnotationClass,
  type AnnotationInput,
} from '../../src/core/annotation.js';
import { ERROR_STATUS, WsiError, type ErrorCode } from '../../src/core/errors.js';
import { MAX_CLASS_ID } from '../../src/core/mask/mask-grid.js';
import { writeTransaction, type Db } from './database.js';
import { dialectOf, type Dialect, type Inserter } from './dialect.js';
import { ProjectPalettes } from './project-palettes.js';
import { IN_BLOCKS, PredictionBlocks } from './prediction-blocks.js';

export type BatchOp =
  /** `parent`: the prediction this object corrects (it then carries that prediction's model run as its source). */
  | { op: 'create'; annotation: AnnotationInput; parent?: string }
  | { op: 'update'; id: string; ifMatch: number; changes: Partial<Omit<AnnotationInput, 'id'>> }
  | { op: 'delete'; id: string; ifMatch: number }
  | { op: 'restore'; id: string; ifMatch: number; toVersion?: number };

/**
 * Told of every update, delete and restore of an existing object inside the
 * batch's transaction, before it is written (reviews.ts locks reviewed work
 * and closes the review of a deleted object). Throwing a WsiError refuses the
 * batch with that code.
 */
export type WriteGuard = (e: { slideId: string; op: 'update' | 'delete' | 'restore'; current: Annotation; author: string; opId: string }) => void;

/** A palette class with its stable mask id (1–255). */
export type RegisteredClass = AnnotationClass & { id: number | null };

export interface BatchResult {
  status: number;
  body: Record<string, unknown>;
}

export interface HistoryEntry {
  version: number;
  op: string;
  author: string;
  at: string;
  opId: string;
  annotation: AnnotationInput & { deleted: boolean };
}

interface HeadRow {
  rowid: number;
  id: string;
  slide_id: string;
  version: number;
  deleted: number;
  created_by: string;
  created_at: string;
  data: string;
  author: string;
  at: string;
  source: string | null;
  parent: string | null;
  score: number | null;
}

type StoredState = AnnotationInput & { deleted: boolean };

class OpError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly index: number,
    readonly current?: Annotation,
  ) {
    super(message);
  }
}

/**
 * The rows an import is still staging (or discarding) are hidden: they carry its id in
 * `import_job` until the import is committed in one step (store/import-staging.ts).
 */
export const VISIBLE = `a.import_job NOT IN (SELECT id FROM import_jobs WHERE state <> 'committed')`;

/**
 * Which objects a list shows, as an SQL condition on the head row `a`:
 * `working` is what an annotator works on (manual objects, corrected
 * objects, and the predictions nobody has acted on yet), `model` only a
 * run's predictions, `corrected` only objects derived from them, `manual`
 * only objects made by hand. `all` (no condition) shows predictions and
 * their corrected objects side by side.
 */
export const LAYERS = {
  all: '',
  working: `AND NOT (a.source IS NOT NULL AND a.parent IS NULL AND EXISTS (SELECT 1 FROM annotations c WHERE c.parent = a.id))`,
  model: `AND a.source IS NOT NULL AND a.parent IS NULL`,
  // the predictions `working` leaves out: those with a corrected object (the triage queue reads only these; the rest it has loaded)
  superseded: `AND a.source IS NOT NULL AND a.parent IS NULL AND EXISTS (SELECT 1 FROM annotations c WHERE c.parent = a.id)`,
  corrected: `AND a.parent IS NOT NULL`,
  manual: `AND a.source IS NULL`,
} as const;

export type Layer = keyof typeof LAYERS;

const MUTABLE_FIELDS = ['kind', 'geometry', 'classification', 'name', 'note', 'locked', 'objectType', 'properties'] as const;

const HEAD = `SELECT a.rowid, a.id, a.slide_id, a.version, a.deleted, a.created_by, a.created_at, h.data, h.author, h.at, a.source, a.parent, a.score
              FROM annotations a JOIN history h ON h.seq = a.head_seq`;

/** A slide's live objects in rowid pages (`layer`: a LAYERS condition). */
function pageSql(layer: string): string {
  return `${HEAD} WHERE a.slide_id = ? AND a.deleted = 0 AND a.rowid > ? AND ${VISIBLE} ${layer} ORDER BY a.rowid LIMIT ?`;
}

/** The same within a box (x0, y0, x1, y1), through the spatial index (the R*Tree; a GiST index on PostgreSQL). */
function bboxSql(dialect: Dialect, layer: string): string {
  return `SELECT a.rowid, a.id, a.slide_id, a.version, a.deleted, a.created_by, a.created_at, h.data, h.author, h.at, a.source, a.parent, a.score
         FROM annotations_rtree r JOIN annotations a ON a.rowid = r.rowid JOIN history h ON h.seq = a.head_seq
         WHERE ${dialect.boxOverlaps('r')} AND a.slide_id = ? AND a.deleted = 0 AND a.rowid > ? AND ${VISIBLE} ${layer}
         ORDER BY a.rowid LIMIT ?`;
}

export function toAnnotation(row: HeadRow): Annotation {
  const state = JSON.parse(row.data) as StoredState;
  return {
    id: row.id,
    kind: state.kind,
    geometry: state.geometry,
    classification: state.classification,
    name: state.name,
    note: state.note,
    locked: state.locked,
    objectType: state.objectType,
    properties: state.properties,
    version: row.version,
    deleted: row.deleted === 1,
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedBy: row.author,
    updatedAt: row.at,
    ...provenanceOf(row),
  };
}

/**
 * Where an object came from: `source` is 'manual' or a model run id,
 * `parent` the prediction a corrected object was derived from. A
 * prediction (a run's object with no parent) is read-only and has its score.
 */
function provenanceOf(row: HeadRow): Pick<Annotation, 'source' | 'parent' | 'score' | 'readOnly'> {
  if (row.source === null) return { source: 'manual', parent: null };
  if (row.parent === null) return { source: row.source, parent: null, score: row.score, readOnly: true };
  return { source: row.source, parent: row.parent };
}

/** Whether a head row is a model's prediction (read-only). */
function isPrediction(row: HeadRow): boolean {
  return row.source !== null && row.parent === null;
}

function requestHash(slideId: string, ops: unknown): string {
  return createHash('sha256').update(slideId).update('\0').update(JSON.stringify(ops)).digest('hex');
}

export function stateOf(a: AnnotationInput, deleted: boolean): string {
  const s: StoredState = {
    id: a.id,
    kind: a.kind,
    geometry: a.geometry,
    classification: a.classification,
    name: a.name,
    note: a.note,
    locked: a.locked,
    objectType: a.objectType,
    properties: a.properties,
    deleted,
  };
  return JSON.stringify(s);
}

/**
 * The longest class name the registry takes. Its unique index must hold the
 * name on both engines: PostgreSQL's B-tree refuses an entry over 2,704 bytes
 * (SQLite has no such limit), and 500 characters are at most 2,000 bytes of
 * UTF-8. A palette's names are shorter still (100); this bounds what an
 * import's classifications (up to 10,000 characters) may register.
 */
export const MAX_CLASS_NAME = 500;

function nameTooLong(name: string): WsiError {
  return new WsiError('PALETTE_INVALID', `a class name is at most ${MAX_CLASS_NAME} characters; one of ${name.length} characters ("${name.slice(0, 40)}…") cannot be added to the palette`, { max: MAX_CLASS_NAME });
}

function idsExhausted(name: string): WsiError {
  const msg = `class "${name}" cannot be added: all ${MAX_CLASS_ID} mask class ids have been given out (ids of removed classes are never reused, so masks keep their meaning); use an existing class instead`;
  return new WsiError('CLASS_IDS_EXHAUSTED', msg, { name });
}

export class AnnotationStore {
  private readonly stmts;
  private readonly dialect: Dialect;
  /** INSERTs that give the new row's key (history seq, head rowid). */
  private readonly inserts: { history: Inserter; head: Inserter; derived: Inserter };
  /** Each project's palette, over this store's registry of class names and mask ids. */
  readonly palettes: ProjectPalettes;
  /** Model runs' predictions kept as frames for the columnar listing (prediction-blocks.ts). */
  readonly blocks: PredictionBlocks;
  /** Checks run on every change of an existing object, in its transaction (see WriteGuard). */
  readonly writeGuards: WriteGuard[] = [];

  /** Page and box statements of the layers other than `all`, prepared when first asked for. */
  private readonly layered = new Map<string, Database.Statement<unknown[], HeadRow>>();

  constructor(private readonly db: Db) {
    const dialect = (this.dialect = dialectOf(db));
    this.changeStamp = dialect.changeStamp(db);
    this.inserts = {
      history: dialect.inserter(db, `INSERT INTO history (annotation_id, slide_id, version, op, data, author, at, op_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, 'seq'),
      head: dialect.inserter(db, `INSERT INTO annotations (id, slide_id, version, deleted, head_seq, created_by, created_at) VALUES (?, ?, 1, 0, ?, ?, ?)`, 'rowid'),
      derived: dialect.inserter(db, `INSERT INTO annotations (id, slide_id, version, deleted, head_seq, created_by, created_at, source, parent) VALUES (?, ?, 1, 0, ?, ?, ?, ?, ?)`, 'rowid'),
    };
    this.stmts = {
      head: db.prepare<[string], HeadRow>(`${HEAD} WHERE a.id = ? AND ${VISIBLE}`),
      taken: db.prepare<[string], { one: number }>(`SELECT 1 AS one FROM annotations WHERE id = ?`),
      // the corrected object derived from a prediction (never staged by an import: no VISIBLE needed)
      child: db.prepare<[string], HeadRow>(`${HEAD} WHERE a.parent = ?`),
      page: db.prepare<[string, number, number], HeadRow>(pageSql('')),
      // the live objects one committed import made (the client's undo of an import)
      byImport: db.prepare<[string, string, number, number], HeadRow>(
        `${HEAD} JOIN import_jobs j ON j.id = a.import_job
         WHERE a.slide_id = ? AND j.op_id = ? AND j.state = 'committed' AND a.deleted = 0 AND a.rowid > ? ORDER BY a.rowid LIMIT ?`,
      ),
      bbox: db.prepare<[number, number, number, number, string, number, number], HeadRow>(bboxSql(dialect, '')),
      // staged rows are all live, and each import counts its own: subtracting keeps the count on the index
      count: db.prepare<[string, string], { n: number }>(
        `SELECT (SELECT count(*) FROM annotations WHERE slide_id = ? AND deleted = 0)
              - (SELECT coalesce(sum(staged), 0) FROM import_jobs WHERE slide_id = ? AND state <> 'committed') AS n`,
      ),
      // deleted objects newest first (their head is the deletion: who and when), before a head seq
      deleted: db.prepare<[string, number, number], HeadRow & { head_seq: number }>(
        `SELECT a.rowid, a.id, a.slide_id, a.version, a.deleted, a.created_by, a.created_at, h.data, h.author, h.at, a.source, a.parent, a.score, a.head_seq
           FROM annotations a JOIN history h ON h.seq = a.head_seq
          WHERE a.slide_id = ? AND a.deleted = 1 AND a.head_seq < ? AND ${VISIBLE} ORDER BY a.head_seq DESC LIMIT ?`,
      ),
      byClass: db.prepare<[string], { name: string | null; n: number }>(
        `SELECT ${dialect.jsonText('h.data', 'classification')} AS name, count(*) AS n
           FROM annotations a JOIN history h ON h.seq = a.head_seq
          WHERE a.slide_id = ? AND a.deleted = 0 AND ${VISIBLE} GROUP BY name`,
      ),
      countBy: db.prepare<[string, string], { n: number }>(
        `SELECT count(*) AS n FROM annotations WHERE slide_id = ? AND deleted = 0 AND created_by = ?
           AND (import_job = 0 OR import_job IN (SELECT id FROM import_jobs WHERE state = 'committed'))`,
      ),
      history: db.prepare<[string], { version: number; op: string; author: string; at: string; op_id: string; data: string }>(
        `SELECT version, op, author, at, op_id, data FROM history WHERE annotation_id = ? ORDER BY version`,
      ),
      historyAt: db.prepare<[string, number], { data: string }>(`SELECT data FROM history WHERE annotation_id = ? AND version = ?`),
      updateHead: db.prepare(`UPDATE annotations SET version = ?, deleted = ?, head_seq = ? WHERE rowid = ?`),
      upsertBox: db.prepare(dialect.upsertBox),
      deleteBox: db.prepare(`DELETE FROM annotations_rtree WHERE rowid = ?`),
      getOp: db.prepare<[string], { slide_id: string; request_hash: string; status: number; response: string }>(`SELECT slide_id, request_hash, status, response FROM operations WHERE op_id = ?`),
      putOp: db.prepare(`INSERT INTO operations (op_id, slide_id, request_hash, status, response, at) VALUES (?, ?, ?, ?, ?, ?)`),
      classes: db.prepare<[], { id: number | null; name: string; color: string; hotkey: string | null }>(
        `SELECT i.id, c.name, c.color, c.hotkey FROM classes c LEFT JOIN class_ids i ON i.name = c.name ORDER BY c.position`,
      ),
      clearClasses: db.prepare(`DELETE FROM classes`),
      putClass: db.prepare(`INSERT INTO classes (position, name, color, hotkey) VALUES (?, ?, ?, ?)`),
      classId: db.prepare<[string], { id: number }>(`SELECT id FROM class_ids WHERE name = ?`),
      everyClassId: db.prepare<[], { id: number; name: string; color: string }>(`SELECT id, name, color FROM class_ids ORDER BY id`),
      putClassId: db.prepare(`INSERT INTO class_ids (id, name, color) VALUES (?, ?, ?)`),
      recolourClassId: db.prepare(`UPDATE class_ids SET color = ? WHERE name = ? AND color <> ?`),
      lastClassId: db.prepare<[], { value: number }>(`SELECT value FROM counters WHERE name = 'class_id'`),
      setLastClassId: db.prepare(`INSERT INTO counters (name, value) VALUES ('class_id', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`),
    };
    if (this.stmts.classes.all().length === 0) this.setClasses(DEFAULT_CLASSES);
    this.palettes = new ProjectPalettes(db, this);
    this.blocks = new PredictionBlocks(db);
  }

  /** The slide an annotation belongs to, or null if there is no such annotation. */
  slideOf(id: string): string | null {
    return this.stmts.head.get(id)?.slide_id ?? null;
  }

  /** Whether an id is taken (by any slide, or by an import still staging). */
  exists(id: string): boolean {
    return this.stmts.taken.get(id) !== undefined;
  }

  get(id: string): Annotation | null {
    const row = this.stmts.head.get(id);
    return row ? toAnnotation(row) : null;
  }

  /** The corrected object derived from a prediction (live or deleted), or null. */
  correctedOf(predictionId: string): Annotation | null {
    const row = this.stmts.child.get(predictionId);
    return row ? toAnnotation(row) : null;
  }

  /**
   * The slide's live objects. Counting walks every object of the slide (a
   * million predictions: tens of ms), and the columnar listing sends the
   * count with each of its pages, so the last count per slide is kept while
   * the database has not changed (the dialect's change stamp; on an engine
   * without one, every call counts).
   */
  count(slideId: string): number {
    const stamp = this.changeStamp?.() ?? null;
    if (stamp === null) return this.stmts.count.get(slideId, slideId)?.n ?? 0;
    const kept = this.counted.get(slideId);
    if (kept && kept.stamp === stamp) return kept.n;
    const n = this.stmts.count.get(slideId, slideId)?.n ?? 0;
    if (this.counted.size >= 256) this.counted.clear();
    this.counted.set(slideId, { stamp, n });
    return n;
  }

  private readonly counted = new Map<string, { stamp: string; n: number }>();
  private readonly changeStamp: (() => string) | null;


  /**
   * A slide's deleted objects, the latest deletion first, as they were when
   * deleted (`updatedBy`/`updatedAt` say who deleted them and when);
   * `before` is the cursor (the head seq of the last one seen).
   */
  deletedOf(slideId: string, opts: { before?: number; limit?: number } = {}): { annotations: Annotation[]; next: number | null } {
    const limit = Math.min(Math.max(1, opts.limit ?? 100), 1000);
    const rows = this.stmts.deleted.all(slideId, opts.before ?? Number.MAX_SAFE_INTEGER, limit);
    const last = rows[rows.length - 1];
    return { annotations: rows.map(toAnnotation), next: rows.length === limit && last ? last.head_seq : null };
  }

  /** Live annotations of a slide per class name (null: objects without a class). */
  classCounts(slideId: string): Array<{ name: string | null; n: number }> {
    return this.stmts.byClass.all(slideId);
  }

  /** Live annotations of a slide made by one author (what a blind project shows an annotator). */
  countBy(slideId: string, createdBy: string): number {
    return this.stmts.countBy.get(slideId, createdBy)?.n ?? 0;
  }

  /** A page of live annotations of a slide, optionally within a box or only those an import (its operation id) made; `after` is the cursor. */
  list(
    slideId: string,
    opts: { bbox?: [number, number, number, number]; importOp?: string; after?: number; limit?: number; layer?: Layer; withoutBlocks?: boolean } = {},
  ): { annotations: Annotation[]; next: number | null } {
    const limit = Math.min(Math.max(1, opts.limit ?? 10_000), 100_000);
    const after = opts.after ?? 0;
    const layer = opts.layer ?? 'all';
    const rows =
      opts.importOp !== undefined
        ? this.stmts.byImport.all(slideId, opts.importOp, after, limit)
        : opts.bbox
          ? (layer === 'all' ? this.stmts.bbox : this.layerStatement('bbox', layer)).all(opts.bbox[0], opts.bbox[1], opts.bbox[2], opts.bbox[3], slideId, after, limit)
          : opts.withoutBlocks === true
            ? this.layerStatement('rows', layer).all(slideId, after, limit)
            : (layer === 'all' ? this.stmts.page : this.layerStatement('page', layer)).all(slideId, after, limit);
    const last = rows[rows.length - 1];
    return { annotations: rows.map(toAnnotation), next: rows.length === limit && last ? last.rowid : null };
  }

  /** `rows`: a page that leaves out the predictions kept in blocks (the columnar listing sends those from prediction-blocks.ts). */
  private layerStatement(kind: 'page' | 'bbox' | 'rows', layer: Layer): Database.Statement<unknown[], HeadRow> {
    const key = `${kind}|${layer}`;
    let stmt = this.layered.get(key);
    if (!stmt) {
      const sql = kind === 'bbox' ? bboxSql(this.dialect, LAYERS[layer]) : pageSql(kind === 'rows' ? `AND NOT ${IN_BLOCKS} ${LAYERS[layer]}` : LAYERS[layer]);
      this.layered.set(key, (stmt = this.db.prepare<unknown[], HeadRow>(sql)));
    }
    return stmt;
  }

  history(id: string): HistoryEntry[] {
    return this.stmts.history.all(id).map((r) => ({
      version: r.version,
      op: r.op,
      author: r.author,
      at: r.at,
      opId: r.op_id,
      annotation: JSON.parse(r.data) as StoredState,
    }));
  }

  /**
   * The server's starting palette (what a new project's palette is copied
   * from; a project's own palette is `palettes.of(project)`), in order, each
   * class with its mask id (the value painted into masks). `id` is null only for a class past the 255th that a
   * version-1 database held when it was migrated.
   */
  classes(): RegisteredClass[] {
    return this.stmts.classes.all().map((c) => ({ id: c.id, name: c.name, color: c.color, hotkey: c.hotkey }));
  }

  /** The mask id a class name has (or had, if it was removed), or null if it never had one. */
  classIdOf(name: string): number | null {
    return this.stmts.classId.get(name)?.id ?? null;
  }

  /** Every id ever given, with the name and last colour: masks may still hold ids of removed classes. */
  everyClassId(): Array<{ id: number; name: string; color: string }> {
    return this.stmts.everyClassId.all();
  }

  /**
   * The ids that adding these names (in this order) would give, without
   * writing anything; 409 CLASS_IDS_EXHAUSTED if they would run out.
   */
  previewClassIds(names: string[]): Map<string, number> {
    const out = new Map<string, number>();
    let next = this.stmts.lastClassId.get()?.value ?? 0;
    for (const name of names) {
      if (out.has(name)) continue;
      const known = this.classIdOf(name);
      if (known !== null) {
        out.set(name, known);
        continue;
      }
      if (name.length > MAX_CLASS_NAME) throw nameTooLong(name);
      if (++next > MAX_CLASS_ID) throw idsExhausted(name);
      out.set(name, next);
    }
    return out;
  }

  /**
   * Gives `name` its permanent mask id: the one it already had, else the next
   * never-used id. Call inside a transaction.
   */
  assignClassId(name: string, color: string): number {
    const known = this.stmts.classId.get(name);
    if (known) {
      this.stmts.recolourClassId.run(color, name, color);
      return known.id;
    }
    if (name.length > MAX_CLASS_NAME) throw nameTooLong(name);
    const next = (this.stmts.lastClassId.get()?.value ?? 0) + 1;
    if (next > MAX_CLASS_ID) throw idsExhausted(name);
    this.stmts.putClassId.run(next, name, color);
    this.stmts.setLastClassId.run(next);
    return next;
  }

  /**
   * Replaces the starting palette. A class keeps its mask id (matched by name); a new
   * name gets the next never-used id; more than 255 ids ever is refused
   * (409 CLASS_IDS_EXHAUSTED) and nothing changes.
   */
  setClasses(classes: AnnotationClass[]): void {
    writeTransaction(this.db, () => {
      this.stmts.clearClasses.run();
      classes.forEach((c, i) => {
        this.assignClassId(c.name, c.color);
        this.stmts.putClass.run(i, c.name, c.color, c.hotkey);
      });
    });
  }

  /** Adds classes that are not in the palette yet (imports bring their own); returns those added. */
  ensureClasses(classes: AnnotationClass[]): RegisteredClass[] {
    const add = classesMissing(this.classes(), classes);
    if (add.length === 0) return [];
    this.setClasses([...this.classes().map(({ name, color, hotkey }) => ({ name, color, hotkey })), ...add]);
    const names = new Set(add.map((c) => c.name));
    return this.classes().filter((c) => names.has(c.name));
  }

  private writeVersion(slideId: string, id: string, version: number, op: string, state: string, author: string, at: string, opId: string): number {
    return this.inserts.history(id, slideId, version, op, state, author, at, opId) as number;
  }

  private box(rowid: number, a: AnnotationInput): void {
    const [minX, minY, maxX, maxY] = geometryBounds(a.geometry);
    this.stmts.upsertBox.run(rowid, minX, maxX, minY, maxY);
  }

  private applyOne(slideId: string, op: BatchOp, index: number, author: string, at: string, opId: string): Record<string, unknown> {
    if (op.op === 'create') {
      const existing = this.stmts.head.get(op.annotation.id);
      // the current object is shown only when it is this slide's (and visible): ids are unique
      // across slides, but what another slide holds is none of this request's business
      if (existing && existing.slide_id === slideId) throw new OpError('ANNOTATION_EXISTS', `annotation ${op.annotation.id} already exists`, index, toAnnotation(existing));
      if (this.stmts.taken.get(op.annotation.id)) throw new OpError('ANNOTATION_EXISTS', `the id ${op.annotation.id} is already taken; create the annotation with a new id`, index);
      const source = op.parent === undefined ? null : this.derivable(slideId, op.parent, index);
      const seq = this.writeVersion(slideId, op.annotation.id, 1, 'create', stateOf(op.annotation, false), author, at, opId);
      const rowid =
        source === null
          ? (this.inserts.head(op.annotation.id, slideId, seq, author, at) as number)
          : (this.inserts.derived(op.annotation.id, slideId, seq, author, at, source, op.parent) as number);
      this.box(rowid, op.annotation);
      return { id: op.annotation.id, version: 1, deleted: false };
    }
    const row = this.stmts.head.get(op.id);
    if (!row || row.slide_id !== slideId) throw new OpError('ANNOTATION_NOT_FOUND', `no annotation ${op.id} on this slide`, index);
    if (isPrediction(row)) {
      throw new OpError('MODEL_OBJECT_READ_ONLY', `annotation ${op.id} is a prediction of model run ${row.source ?? '?'} and is read-only; correct it through its corrected object (POST …/model-runs/{run}/review, or create one with "parent")`, index);
    }
    const current = toAnnotation(row);
    if (op.ifMatch !== current.version) {
      throw new OpError('PRECONDITION_FAILED', `annotation ${op.id} is at version ${current.version}, the change was based on version ${op.ifMatch}`, index, current);
    }
    for (const guard of this.writeGuards) {
      try {
        guard({ slideId, op: op.op, current, author, opId });
      } catch (err) {
        if (err instanceof WsiError) throw new OpError(err.code, err.message, index, current);
        throw err;
      }
    }
    const version = current.version + 1;
    if (op.op === 'update') {
      if (current.deleted) throw new OpError('ANNOTATION_DELETED', `annotation ${op.id} was deleted by ${current.updatedBy}; restore it or save a copy`, index, current);
      const merged: Record<string, unknown> = { ...current, id: current.id };
      for (const f of MUTABLE_FIELDS) if (op.changes[f] !== undefined) merged[f] = op.changes[f];
      let next: AnnotationInput;
      try {
        // an imported outline that crosses itself can still be renamed or reclassified
        next = parseAnnotationInput(merged, { requireValidPolygons: op.changes.geometry !== undefined });
      } catch (err) {
        throw new OpError('INVALID_ANNOTATION', (err as Error).message, index);
      }
      const seq = this.writeVersion(slideId, op.id, version, 'update', stateOf(next, false), author, at, opId);
      this.stmts.updateHead.run(version, 0, seq, row.rowid);
      this.box(row.rowid, next);
      return { id: op.id, version, deleted: false };
    }
    if (op.op === 'delete') {
      if (current.deleted) throw new OpError('ANNOTATION_DELETED', `annotation ${op.id} is already deleted`, index, current);
      const seq = this.writeVersion(slideId, op.id, version, 'delete', stateOf(current, true), author, at, opId);
      this.stmts.updateHead.run(version, 1, seq, row.rowid);
      this.stmts.deleteBox.run(row.rowid);
      return { id: op.id, version, deleted: true };
    }
    // restore: the state of `toVersion`, or the last state before the tombstone
    let state: StoredState = current;
    if (op.toVersion !== undefined) {
      const h = this.stmts.historyAt.get(op.id, op.toVersion);
      if (!h) throw new OpError('ANNOTATION_NOT_FOUND', `annotation ${op.id} has no version ${op.toVersion}`, index);
      state = JSON.parse(h.data) as StoredState;
    }
    const restored = { ...state, deleted: false };
    const seq = this.writeVersion(slideId, op.id, version, 'restore', stateOf(restored, false), author, at, opId);
    this.stmts.updateHead.run(version, 0, seq, row.rowid);
    this.box(row.rowid, restored);
    return { id: op.id, version, deleted: false };
  }

  /**
   * Checks that `parent` is a prediction of this slide that has no corrected
   * object yet; returns its model run (the new object's source).
   */
  private derivable(slideId: string, parent: string, index: number): string {
    const p = this.stmts.head.get(parent);
    if (!p || p.slide_id !== slideId || !isPrediction(p)) throw new OpError('PREDICTION_NOT_FOUND', `no prediction ${parent} on this slide`, index);
    const child = this.stmts.child.get(parent);
    if (child) throw new OpError('ANNOTATION_EXISTS', `prediction ${parent} already has a corrected object (${child.id}); change that one`, index, toAnnotation(child));
    return p.source as string;
  }

  /**
   * Applies a batch atomically. A repeated op id returns the stored answer;
   * the same op id with a different request is refused.
   */
  applyBatch(slideId: string, opId: string, author: string, ops: BatchOp[], rawRequest: unknown = ops): BatchResult {
    const hash = requestHash(slideId, rawRequest);
    const prior = this.stmts.getOp.get(opId);
    if (prior) {
      if (prior.request_hash !== hash || prior.slide_id !== slideId) {
        throw new WsiError('IDEMPOTENCY_KEY_REUSED', `operation id ${opId} was already used for a different request`);
      }
      return { status: prior.status, body: { ...(JSON.parse(prior.response) as Record<string, unknown>), replayed: true } };
    }
    const at = new Date().toISOString();
    let result: BatchResult;
    try {
      result = writeTransaction(this.db, () => {
        const results = ops.map((op, i) => this.applyOne(slideId, op, i, author, at, opId));
        const ok: BatchResult = { status: 200, body: { opId, results } };
        this.stmts.putOp.run(opId, slideId, hash, ok.status, JSON.stringify(ok.body), at);
        return ok;
      });
    } catch (err) {
      if (!(err instanceof OpError)) throw err;
      const status = { PRECONDITION_FAILED: 412, ANNOTATION_EXISTS: 409, ANNOTATION_DELETED: 409, ANNOTATION_NOT_FOUND: 404, INVALID_ANNOTATION: 400, MODEL_OBJECT_READ_ONLY: 409, PREDICTION_NOT_FOUND: 404 }[err.code as string] ?? ERROR_STATUS[err.code];
      result = { status, body: { code: err.code, message: err.message, detail: { opId, index: err.index, ...(err.current ? { current: err.current } : {}) } } };
      // remember the refusal so a retry gets the same answer
      this.stmts.putOp.run(opId, slideId, hash, status, JSON.stringify(result.body), at);
    }
    return result;
  }

  /** Whether an answer is recorded under this operation id. */
  recordedOperation(opId: string): boolean {
    return this.stmts.getOp.get(opId) !== undefined;
  }

  /** Remembers the answer to an operation so a retry gets it again. */
  recordOperation(opId: string, slideId: string, hash: string, status: number, body: unknown): void {
    this.stmts.putOp.run(opId, slideId, hash, status, JSON.stringify(body), new Date().toISOString());
  }
}

export { GeometryError };

/** The classes of `classes` whose names `palette` lacks, each name once, in order. */
export function classesMissing(palette: ReadonlyArray<{ name: string }>, classes: AnnotationClass[]): AnnotationClass[] {
  const have = new Set(palette.map((c) => c.name));
  const add: AnnotationClass[] = [];
  for (const c of classes) {
    if (have.has(c.name)) continue;
    have.add(c.name);
    add.push(c);
  }
  return add;
}
