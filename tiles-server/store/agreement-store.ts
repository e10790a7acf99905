/**
 * What agreement reads from the mask tables, and nothing else (it writes
 * nothing): the current tiles of a tile row for one reader, with their
 * per-class counts (so a tile of one class need not be inflated), and a
 * version stamp of a reader's mask (its newest history row and tile count)
 * that keys the disagreement-map cache. The counting workers open the
 * database read-only through openAgreementReader, each on its own
 * connection. The SQL is portable.
 */
import Database from 'better-sqlite3';
import type { Db } from './database.js';

export interface RowTile {
  tx: number;
  data: Buffer;
  /** Pixel counts per class id as JSON ({} = nothing painted). */
  pixels: string;
}

export class AgreementStore {
  private readonly stmts;

  constructor(db: Db) {
    this.stmts = {
      row: db.prepare<[string, string, number, number, number], RowTile>(
        `SELECT tx, data, pixels FROM mask_tiles WHERE slide_id = ? AND annotator = ? AND ty = ? AND tx BETWEEN ? AND ? ORDER BY tx`,
      ),
      rows: db.prepare<[string, string], { ty: number }>(`SELECT DISTINCT ty FROM mask_tiles WHERE slide_id = ? AND annotator = ? ORDER BY ty`),
      stamp: db.prepare<[string, string], { seq: number | null; tiles: number }>(`SELECT max(head_seq) AS seq, count(*) AS tiles FROM mask_tiles WHERE slide_id = ? AND annotator = ?`),
    };
  }

  /** A reader's current tiles in row `ty`, columns tx0 … tx1. */
  row(slideId: string, reader: string, ty: number, tx0: number, tx1: number): RowTile[] {
    return this.stmts.row.all(slideId, reader, ty, tx0, tx1);
  }

  /** The tile rows a reader painted in. */
  paintedRows(slideId: string, reader: string): number[] {
    return this.stmts.rows.all(slideId, reader).map((r) => r.ty);
  }

  /** Changes whenever the reader's mask changes (a new history row, or a tile more or less). */
  stamp(slideId: string, reader: string): string {
    const s = this.stmts.stamp.get(slideId, reader);
    return `${s?.seq ?? 0}/${s?.tiles ?? 0}`;
  }
}

/** A read-only connection of a counting worker's own. */
export function openAgreementReader(path: string): { store: AgreementStore; close(): void } {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  return { store: new AgreementStore(db), close: () => db.close() };
}
