/**
 * Imports, all or nothing, without one long transaction. An import is a row
 * of `import_jobs`; its annotations (head, first history version, R*Tree box)
 * are written in short transactions that each carry the job's id, and reads
 * hide them (annotation-store.ts VISIBLE) until `commit` flips the job to
 * 'committed' — one small transaction that also adds the file's classes and
 * records the operation id. A failed or cancelled import is discarded in
 * short transactions too ('discarding' lets exactly those history rows go;
 * every committed row stays append-only), and its job row goes last. Other
 * writers therefore never wait more than one short transaction.
 *
 * Use it on a connection of its own (the import worker's): staging relaxes
 * that connection's fsyncs until the commit.
 */
import { randomUUID } from 'node:crypto';
import { geometryBounds, type AnnotationClass, type AnnotationInput } from '../../src/core/annotation.js';
import { WsiError } from '../../src/core/errors.js';
import { rewriteColumnarFrame } from '../../src/core/columnar-pages.js';
import { AnnotationStore, stateOf } from './annotation-store.js';
import { PredictionBlocks } from './prediction-blocks.js';
import { ModelRunStore } from './model-runs.js';
import { writeGateOf, writeTransaction, type Db } from './database.js';
import { dialectOf, type Dialect } from './dialect.js';
import { WriteGate } from './write-gate.js';

export interface StagingJob {
  slideId: string;
  opId: string;
  format: string;
  author: string;
  /** Predictions of this model run (store/model-runs.ts): written read-only, with their scores. */
  runId?: string;
}

export interface PriorOperation {
  slideId: string;
  hash: string;
  status: number;
  response: string;
}

/**
 * A batch of objects as the store writes them: ids, canonical states
 * (annotation-store.ts stateOf), boxes as [minX, minY, maxX, maxY] per
 * object, and a model run's scores (NaN: none; null: not a model run).
 * Typed arrays, so a batch crosses between threads cheaply.
 */
export interface PreparedRows {
  ids: string[];
  states: string[];
  boxes: Float64Array;
  scores: Float64Array | null;
  /**
   * A model run's block (prediction-blocks.ts) that this batch closes: the
   * frame of its `n` predictions, this batch's and those of the batches
   * since the last block, under the ids they had in the file.
   */
  block?: { frame: Uint8Array; n: number; bbox: [number, number, number, number] };
}

/** Objects as prepared rows; `scores` (null: not a model run) lines up with `items`. */
export function prepareRows(items: AnnotationInput[], scores: ReadonlyArray<number | null> | null): PreparedRows {
  const boxes = new Float64Array(items.length * 4);
  items.forEach((a, i) => boxes.set(geometryBounds(a.geometry), i * 4));
  return {
    ids: items.map((a) => a.id),
    states: items.map((a) => stateOf(a, false)),
    boxes,
    scores: scores === null ? null : Float64Array.from(items, (_, i) => scores[i] ?? Number.NaN),
  };
}

/** A staged state under a fresh id, the old one kept as `properties.sourceId` (the same text stateOf gives). */
function renamedState(state: string, id: string): string {
  const s = JSON.parse(state) as AnnotationInput & { deleted: boolean };
  return JSON.stringify({ ...s, id, properties: { ...s.properties, sourceId: s.id } });
}

/** The job was discarded (or committed) by someone else while this one still wrote to it. */
export class StagingGone extends Error {
  constructor(readonly jobId: number) {
    super(`import ${jobId} is no longer staging`);
  }
}

/** WAL pages between an import connection's checkpoints (64 MB of 4 KiB pages). */
const IMPORT_CHECKPOINT_PAGES = 16384;

export class ImportStaging {
  private readonly stmts;
  private readonly dialect: Dialect;
  private readonly annotations: AnnotationStore;
  private readonly runs: ModelRunStore;
  private readonly blocks: PredictionBlocks;
  /** The rows staged since the last block: the first one's rowid, the last's, how many, and the ids renamed among them (position in the block → new id). */
  private open = { firstRow: 0, lastRow: 0, n: 0, renames: new Map<number, string>() };
  /** Blocks written by this import so far. */
  private blocksWritten = 0;

  /**
   * `gate`: in an import worker, the server connection's write gate
   * (write-gate.ts), so users' writes go before each staging transaction.
   */
  constructor(
    private readonly db: Db,
    private readonly gate: WriteGate | null = null,
  ) {
    this.annotations = new AnnotationStore(db);
    this.runs = new ModelRunStore(db);
    this.blocks = new PredictionBlocks(db);
    this.dialect = dialectOf(db);
    this.stmts = {
      begin: this.dialect.inserter(db, `INSERT INTO import_jobs (slide_id, op_id, format, author, state, started_at) VALUES (?, ?, ?, ?, 'staging', ?)`, 'id'),
      // an id taken already (by any slide, another import, or earlier in this file) has its version 1 in history:
      // the insert then does nothing (null), and the object is staged under a fresh id (one index probe, not two)
      insertHistory: this.dialect.inserter(
        db,
        `INSERT INTO history (annotation_id, slide_id, version, op, data, author, at, op_id, import_job) VALUES (?, ?, 1, 'import', ?, ?, ?, ?, ?) ON CONFLICT (annotation_id, version) DO NOTHING`,
        'seq',
      ),
      insertHead: this.dialect.inserter(db, `INSERT INTO annotations (id, slide_id, version, deleted, head_seq, created_by, created_at, import_job) VALUES (?, ?, 1, 0, ?, ?, ?, ?)`, 'rowid'),
      insertPrediction: this.dialect.inserter(
        db,
        `INSERT INTO annotations (id, slide_id, version, deleted, head_seq, created_by, created_at, import_job, source, score) VALUES (?, ?, 1, 0, ?, ?, ?, ?, ?, ?)`,
        'rowid',
      ),
      insertBox: db.prepare(`INSERT INTO annotations_rtree (rowid, min_x, max_x, min_y, max_y) VALUES (?, ?, ?, ?, ?)`),
      staged: db.prepare(`UPDATE import_jobs SET staged = staged + ?, first_row = coalesce(first_row, ?), first_seq = coalesce(first_seq, ?) WHERE id = ? AND state = 'staging'`),
      commit: db.prepare(`UPDATE import_jobs SET state = 'committed', finished_at = ? WHERE id = ? AND state = 'staging'`),
      prior: db.prepare<[string], { slide_id: string; request_hash: string; status: number; response: string }>(`SELECT slide_id, request_hash, status, response FROM operations WHERE op_id = ?`),
      job: db.prepare<[number], { state: string; first_row: number | null }>(`SELECT state, first_row FROM import_jobs WHERE id = ?`),
      discarding: db.prepare(`UPDATE import_jobs SET state = 'discarding' WHERE id = ? AND state <> 'committed'`),
      unfinished: db.prepare<[], { id: number }>(`SELECT id FROM import_jobs WHERE state <> 'committed' ORDER BY id`),
      abandoned: db.prepare<[], { id: number }>(`SELECT id FROM import_jobs WHERE state = 'discarding' ORDER BY id`),
      rowsOf: db.prepare<[number, number, number], { rowid: number; head_seq: number }>(`SELECT rowid, head_seq FROM annotations WHERE rowid >= ? AND import_job = ? ORDER BY rowid LIMIT ?`),
      deleteBox: db.prepare(`DELETE FROM annotations_rtree WHERE rowid = ?`),
      deleteHead: db.prepare(`DELETE FROM annotations WHERE rowid = ?`),
      deleteHistory: db.prepare(`DELETE FROM history WHERE seq = ?`),
      discarded: db.prepare(`UPDATE import_jobs SET staged = staged - ?, first_row = ? WHERE id = ?`),
      forget: db.prepare(`DELETE FROM import_jobs WHERE id = ?`),
    };
  }

  /**
   * On the server's connection: while imports run, its commits leave the
   * WAL checkpoints to the import workers (which checkpoint as they commit,
   * so the WAL stays bounded), instead of copying the workers' pages into
   * the database on the event loop during a user's write. Back to
   * SQLite's default (1,000 pages) when the last import ends.
   */
  checkpointsByImports(on: boolean): void {
    this.dialect.autoCheckpoint(this.db, on ? 0 : 1000);
  }

  /** The shared memory of this connection's write gate, for the import workers. */
  get writeGate(): SharedArrayBuffer {
    return writeGateOf(this.db).buffer;
  }

  /**
   * Opens a job; its rows stay hidden until `commit`. Staging then writes
   * without waiting for the disk at each transaction (synchronous = NORMAL on
   * this connection, which must be the import's own): a staged chunk lost in
   * a crash only belongs to an import that is discarded at the next start
   * anyway, and `commit` makes everything durable at once. This connection
   * also checkpoints the WAL every 64 MB rather than every 4 MB: each
   * checkpoint copies the B-tree pages every chunk touches again and syncs
   * the file, which made staging 20% slower than one long transaction.
   */
  begin(job: StagingJob): number {
    this.dialect.relaxCommits(this.db, true, IMPORT_CHECKPOINT_PAGES);
    return this.stmts.begin(job.slideId, job.opId, job.format, job.author, new Date().toISOString()) as number;
  }

  /**
   * Writes `items` as one short transaction (see `stageRows`); `scores[i]`
   * is item i's score when the job imports a model run's predictions.
   */
  stage(jobId: number, job: StagingJob, at: string, items: AnnotationInput[], scores: ReadonlyArray<number | null> = []): number {
    return this.stageRows(jobId, job, at, prepareRows(items, job.runId === undefined ? null : scores));
  }

  /**
   * Writes prepared rows (their states and boxes worked out before, in the
   * import's reading thread) as one short transaction. An id already taken
   * (by any slide, by another import, or earlier in this file) gets
   * a fresh one and keeps the old as `properties.sourceId`. Returns how many were renamed.
   */
  stageRows(jobId: number, job: StagingJob, at: string, rows: PreparedRows): number {
    this.gate?.yieldToWriters();
    const { ids, states, boxes, scores } = rows;
    return writeTransaction(this.db, () => {
      let renamed = 0;
      let firstRow: number | null = null;
      let firstSeq: number | null = null;
      for (let i = 0; i < ids.length; i++) {
        let id = ids[i] as string;
        const state = states[i] as string;
        let seq = this.stmts.insertHistory(id, job.slideId, state, job.author, at, job.opId, jobId);
        if (seq === null) {
          const fresh = randomUUID();
          seq = this.stmts.insertHistory(fresh, job.slideId, renamedState(state, fresh), job.author, at, job.opId, jobId);
          if (seq === null) throw new Error(`the fresh id ${fresh} is taken`);
          // by position: a file may repeat an id, and its first object keeps it
          if (job.runId !== undefined) this.open.renames.set(this.open.n, fresh);
          id = fresh;
          renamed++;
        }
        const score = scores === null || Number.isNaN(scores[i]) ? null : (scores[i] as number);
        const rowid = (
          job.runId === undefined
            ? this.stmts.insertHead(id, job.slideId, seq, job.author, at, jobId)
            : this.stmts.insertPrediction(id, job.slideId, seq, job.author, at, jobId, job.runId, score)
        ) as number;
        const b = i * 4;
        this.stmts.insertBox.run(rowid, boxes[b], boxes[b + 2], boxes[b + 1], boxes[b + 3]);
        firstRow ??= rowid;
        firstSeq ??= seq;
        if (this.open.n++ === 0) this.open.firstRow = rowid;
        this.open.lastRow = rowid;
      }
      if (rows.block !== undefined) this.putBlock(jobId, job, rows.block);
      if (this.stmts.staged.run(ids.length, firstRow, firstSeq, jobId).changes !== 1) throw new StagingGone(jobId);
      return renamed;
    });
  }

  /** Writes the block the rows staged since the last one make up (their renamed ids replaced in its frame). */
  private putBlock(jobId: number, job: StagingJob, block: NonNullable<PreparedRows['block']>): void {
    const open = this.open;
    if (job.runId === undefined) throw new Error('only a model run\'s predictions are kept in blocks');
    if (block.n !== open.n) throw new Error(`a block of ${block.n} predictions closes ${open.n} staged rows`);
    const frame = open.renames.size > 0 ? rewriteColumnarFrame(block.frame, { rename: open.renames }) : block.frame;
    this.blocks.put({ slideId: job.slideId, runId: job.runId, jobId, firstRow: open.firstRow, lastRow: open.lastRow, n: block.n, bbox: block.bbox, frame });
    this.open = { firstRow: 0, lastRow: 0, n: 0, renames: new Map() };
    this.blocksWritten++;
  }

  /** The answer already recorded under an operation id, if any. */
  prior(opId: string): PriorOperation | null {
    const p = this.stmts.prior.get(opId);
    return p ? { slideId: p.slide_id, hash: p.request_hash, status: p.status, response: p.response } : null;
  }

  /**
   * Makes the job's rows visible, adds the classes they use and records the
   * operation, in one short transaction. When the operation id was recorded
   * meanwhile (the same key, imported concurrently by another process),
   * nothing is committed and that answer is returned instead.
   */
  commit(jobId: number, job: StagingJob, hash: string, classes: AnnotationClass[], report: (added: AnnotationClass[]) => unknown, objects = 0): { prior: PriorOperation | null } {
    // the columnar listing sends a job's predictions from its blocks once it has any: every row must be in one
    if (this.blocksWritten > 0 && this.open.n > 0) throw new Error(`${this.open.n} staged predictions are in no block`);
    // this commit is acknowledged to the client: it (and so every staged frame before it) reaches the disk
    this.dialect.relaxCommits(this.db, false);
    return writeTransaction(this.db, () => {
      const prior = this.prior(job.opId);
      if (prior) return { prior };
      const before = new Set(this.annotations.palettes.ofSlide(job.slideId).map((c) => c.name));
      this.annotations.palettes.ensureForSlide(job.slideId, classes);
      // a model run takes one prediction file: another import that committed into it first wins
      if (job.runId !== undefined && !this.runs.markImported(job.runId, job.format, job.opId, objects, job.author)) {
        throw new WsiError('MODEL_RUN_HAS_PREDICTIONS', `model run ${job.runId} already has its predictions (another import finished first); create a new run for another file`);
      }
      const body = report(classes.filter((c) => !before.has(c.name)));
      this.annotations.recordOperation(job.opId, job.slideId, hash, 201, body);
      if (this.stmts.commit.run(new Date().toISOString(), jobId).changes !== 1) throw new StagingGone(jobId);
      return { prior: null };
    });
  }

  /**
   * Removes up to `limit` of the job's rows in one short transaction (the
   * first call marks it 'discarding', which hides it for good). Returns true
   * when nothing is left, the job row included. A committed job is never touched.
   */
  discardSome(jobId: number, limit = 2000): boolean {
    return writeTransaction(this.db, () => {
      const job = this.stmts.job.get(jobId);
      if (!job) return true;
      if (job.state === 'committed') throw new Error(`import ${jobId} is committed and cannot be discarded`);
      if (job.state !== 'discarding') {
        this.stmts.discarding.run(jobId);
        this.blocks.discard(jobId);
      }
      const rows = this.stmts.rowsOf.all(job.first_row ?? 0, jobId, limit);
      for (const r of rows) {
        this.stmts.deleteBox.run(r.rowid);
        this.stmts.deleteHead.run(r.rowid);
        this.stmts.deleteHistory.run(r.head_seq);
      }
      if (rows.length < limit) {
        this.stmts.forget.run(jobId);
        return true;
      }
      this.stmts.discarded.run(rows.length, (rows[rows.length - 1] as { rowid: number }).rowid + 1, jobId);
      return false;
    });
  }

  /** Jobs a stopped server left staging or half discarded (call before any import runs). */
  unfinished(): number[] {
    return this.stmts.unfinished.all().map((r) => r.id);
  }

  /** Jobs whose discard was started but not finished (it failed, e.g. on a full disk). */
  abandoned(): number[] {
    return this.stmts.abandoned.all().map((r) => r.id);
  }
}
