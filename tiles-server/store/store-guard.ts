/**
 * Whether the database may be written to (TEST-CATALOGUE FAULT-06). A file
 * that failed its check at start, or that SQLite later finds damaged while
 * serving, is never written to again by this process: every write request
 * is refused with 503 STORE_DAMAGED, reads that still work go on, and the
 * log and /api/health say what SQLite found and what to restore.
 */
import { WsiError } from '../../src/core/errors.js';
import { isCorruption, restoreAdvice } from './database.js';

export interface StoreHealth {
  status: 'ok' | 'damaged';
  problem?: string;
  since?: string;
  restore?: string;
}

/** Methods that never change anything. */
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export class StoreGuard {
  private damage: { problem: string; since: string } | null = null;

  /**
   * @param shownPath the database as named to clients ("wsi.db in DATA_DIR"): no server paths in answers
   */
  constructor(
    private readonly shownPath: string,
    private readonly log: (line: string) => void,
  ) {}

  get damaged(): boolean {
    return this.damage !== null;
  }

  /** Records damage (once) and says so in the log, with what to restore. */
  markDamaged(problem: string, logPath: string): void {
    if (this.damage) return;
    this.damage = { problem, since: new Date().toISOString() };
    this.log(`DATABASE DAMAGED: ${logPath} (${problem}). Writes are refused from now on; reads that still work are served. To recover: ${restoreAdvice(logPath)}`);
  }

  /** Notes an error met while serving: SQLite's corruption codes mean the file is damaged. */
  noteError(err: unknown, logPath: string): void {
    if (isCorruption(err)) this.markDamaged(`${(err as { code?: string }).code ?? 'SQLITE_CORRUPT'}: ${(err as Error).message}`.slice(0, 300), logPath);
  }

  /** Throws 503 STORE_DAMAGED for a write while the database is damaged. */
  checkWrite(method: string | undefined): void {
    if (!this.damage || READ_METHODS.has(method ?? 'GET')) return;
    throw new WsiError(
      'STORE_DAMAGED',
      `the annotation database failed its integrity check (${this.damage.problem}); writes are refused so nothing is built on a damaged file, and nothing of this request was saved. An administrator must restore it: ${restoreAdvice(this.shownPath)}`,
      { since: this.damage.since },
    );
  }

  health(): StoreHealth {
    if (!this.damage) return { status: 'ok' };
    return { status: 'damaged', problem: this.damage.problem, since: this.damage.since, restore: restoreAdvice(this.shownPath) };
  }
}
