/**
 * Backups and their check (SEC-18): SQLite's online backup of the live
 * database (consistent while the server runs), and a summary to compare a
 * backup with what it was taken from and with its restored copy: the rows
 * of every table, a SHA-256 over every annotation and mask version in
 * order, and the audit chain's verification (done by the caller, which
 * holds the audit key). SQLite-specific; a PostgreSQL store brings its own.
 */
import { createHash } from 'node:crypto';
import type { Db } from './database.js';

export interface StoreSummary {
  /** Rows per table. */
  rows: Record<string, number>;
  /** SHA-256 of every annotation version (history) in order. */
  annotationsSha256: string;
  /** SHA-256 of every mask tile version in order. */
  masksSha256: string;
}

export async function backupTo(db: Db, file: string): Promise<void> {
  await db.backup(file);
}

function digestOf(db: Db, sql: string): string {
  const h = createHash('sha256');
  for (const row of db.prepare(sql).iterate() as Iterable<Record<string, unknown>>) {
    for (const v of Object.values(row)) {
      const bytes = Buffer.isBuffer(v) ? v : Buffer.from(String(v ?? '\u0000'), 'utf8');
      h.update(`${bytes.length}:`).update(bytes);
    }
  }
  return h.digest('hex');
}

export function summarize(db: Db): StoreSummary {
  const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '%_rtree%' ORDER BY name`).all() as Array<{ name: string }>;
  const rows: Record<string, number> = {};
  for (const { name } of tables) rows[name] = (db.prepare(`SELECT count(*) AS n FROM "${name.replace(/"/g, '""')}"`).get() as { n: number }).n;
  return {
    rows,
    annotationsSha256: digestOf(db, 'SELECT seq, annotation_id, slide_id, version, op, data, author, at, op_id FROM history ORDER BY seq'),
    masksSha256: digestOf(db, 'SELECT seq, slide_id, annotator, tx, ty, version, op, encoding, data, pixels, author, at, op_id FROM mask_history ORDER BY seq'),
  };
}
