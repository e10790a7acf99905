/**
 * A model run's predictions kept a second time, in blocks of up to
 * BLOCK_OBJECTS, each already a WSCA frame (src/core/columnar-pages.ts) —
 * what the columnar listing sends — with the block's bounding box and the
 * rowid range of its predictions' head rows (issue 13: a million cells are
 * listed by reading a few dozen rows, not by reading and parsing a million
 * JSON states). The head and history rows stay the record of each
 * prediction (get, corrections, the report, exports and the audit read them);
 * predictions are read-only, so a block never goes stale. Blocks are
 * written by the import in its staging transactions, carry its job id and
 * are hidden and discarded with its rows (import-staging.ts). The SQL is
 * portable (a BLOB is PostgreSQL's bytea).
 */
import { columnarFrameLength } from '../../src/core/columnar-pages.js';
import { VISIBLE } from './annotation-store.js';
import type { Db } from './database.js';

/** Predictions per block (the reader closes a block at this many objects or BLOCK_VERTICES vertices). */
export const BLOCK_OBJECTS = 16_384;
export const BLOCK_VERTICES = 1_048_576;

/**
 * Listing cursors at or above this are blocks (cursor − BLOCK_CURSOR is the
 * last block sent); below it they are head rowids. Both stay exact doubles.
 */
export const BLOCK_CURSOR = 2 ** 50;

export interface StoredBlock {
  id: number;
  firstRow: number;
  lastRow: number;
  n: number;
  frame: Uint8Array;
}

export interface NewBlock {
  slideId: string;
  runId: string;
  jobId: number;
  firstRow: number;
  lastRow: number;
  n: number;
  bbox: [number, number, number, number];
  frame: Uint8Array;
}

/**
 * The head rows whose predictions are in blocks, as an SQL condition on the
 * head row `a` (the row listing leaves them to the blocks).
 */
export const IN_BLOCKS = `(a.source IS NOT NULL AND a.parent IS NULL AND a.import_job IN (SELECT import_job FROM prediction_blocks))`;

/**
 * A stored block that cannot be what the import wrote: a server error (500)
 * naming the block, never the client's (the frame's own COLUMNAR_INVALID is 422).
 */
export function damagedBlock(id: number, why: string): Error {
  return new Error(`prediction block ${id} is damaged: ${why}`);
}

export class PredictionBlocks {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      insert: db.prepare(
        `INSERT INTO prediction_blocks (slide_id, run_id, import_job, first_row, last_row, n, min_x, min_y, max_x, max_y, frame) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      discard: db.prepare(`DELETE FROM prediction_blocks WHERE import_job = ?`),
      // the next two visible blocks after a cursor (the second only says whether there is a next)
      after: db.prepare<[string, number], { id: number; first_row: number; last_row: number; n: number }>(
        `SELECT a.id, a.first_row, a.last_row, a.n FROM prediction_blocks a WHERE a.slide_id = ? AND a.id > ? AND ${VISIBLE} ORDER BY a.id LIMIT 2`,
      ),
      frame: db.prepare<[number], { frame: Buffer }>(`SELECT frame FROM prediction_blocks WHERE id = ?`),
      any: db.prepare<[string], { one: number }>(`SELECT 1 AS one FROM prediction_blocks a WHERE a.slide_id = ? AND ${VISIBLE} LIMIT 1`),
      // the predictions (in blocks) that have a corrected object, live or deleted: the working layer leaves them out.
      // Read from the corrected objects (the partial index on parent: a few, made by people) and filtered by slide
      // here — with the slide in the condition, the planner walks every object of the slide instead (a million)
      superseded: db.prepare<[], { slide: string; rowid: number; id: string }>(
        `SELECT c.slide_id AS slide, p.rowid AS rowid, p.id AS id FROM annotations c JOIN annotations p ON p.id = c.parent
          WHERE c.parent IS NOT NULL AND p.import_job IN (SELECT import_job FROM prediction_blocks)`,
      ),
    };
  }

  /** Writes one block (inside the import's staging transaction). */
  put(b: NewBlock): void {
    this.stmts.insert.run(b.slideId, b.runId, b.jobId, b.firstRow, b.lastRow, b.n, b.bbox[0], b.bbox[1], b.bbox[2], b.bbox[3], b.frame);
  }

  /** Removes an import's blocks (its discard). */
  discard(jobId: number): void {
    this.stmts.discard.run(jobId);
  }

  /** Whether the slide has visible blocks. */
  has(slideId: string): boolean {
    return this.stmts.any.get(slideId) !== undefined;
  }

  /** The first visible block after `afterId` (0: from the start), and whether another follows. */
  next(slideId: string, afterId: number): { block: StoredBlock; more: boolean } | null {
    const rows = this.stmts.after.all(slideId, afterId);
    const r = rows[0];
    if (!r) return null;
    const frame = this.stmts.frame.get(r.id)?.frame;
    if (!frame) return null;
    // a damaged block is the server's fault (500), named, never sent half
    let len: number | null;
    try {
      len = columnarFrameLength(frame);
    } catch (err) {
      throw damagedBlock(r.id, (err as Error).message);
    }
    if (len !== frame.byteLength) throw damagedBlock(r.id, `${frame.byteLength} bytes stored, its frame says ${len ?? 'less than a header'}`);
    const n = frame.readUInt32LE(8);
    if (n !== r.n) throw damagedBlock(r.id, `its row says ${r.n} predictions, its frame ${n}`);
    return { block: { id: r.id, firstRow: r.first_row, lastRow: r.last_row, n: r.n, frame: new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength) }, more: rows.length > 1 };
  }

  /** The slide's block-stored predictions that have a corrected object: rowid → id. */
  superseded(slideId: string): Map<number, string> {
    const out = new Map<number, string>();
    for (const r of this.stmts.superseded.iterate()) if (r.slide === slideId) out.set(r.rowid, r.id);
    return out;
  }
}
