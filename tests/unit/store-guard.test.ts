/**
 * The write guard of a damaged database (TEST-CATALOGUE FAULT-06, the case
 * found while serving rather than at start): SQLite's corruption codes met
 * by any request flip it, once, with one log line; from then on writes are
 * refused with 503 STORE_DAMAGED and reads pass.
 */
import { describe, expect, it } from 'vitest';
import { WsiError } from '../../src/core/errors.js';
import { storeProblem } from '../../tiles-server/store/database.js';
import { PgError } from '../../tiles-server/store/pg-sync.js';
import { StoreGuard } from '../../tiles-server/store/store-guard.js';

const sqliteError = (code: string, message: string): Error => Object.assign(new Error(message), { code });

describe('StoreGuard', () => {
  it('lets everything through while the database is sound', () => {
    const guard = new StoreGuard('wsi.db', () => undefined);
    for (const m of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) expect(() => guard.checkWrite(m)).not.toThrow();
    guard.noteError(sqliteError('SQLITE_BUSY', 'database is locked'), '/data/wsi.db');
    guard.noteError(new WsiError('BAD_REQUEST', 'no'), '/data/wsi.db');
    expect(guard.damaged).toBe(false);
    expect(guard.health()).toEqual({ status: 'ok' });
  });

  it('turns writes away once SQLite reports a damaged file, and says what to restore once', () => {
    const said: string[] = [];
    const guard = new StoreGuard('wsi.db', (l) => said.push(l));
    guard.noteError(sqliteError('SQLITE_CORRUPT', 'database disk image is malformed'), '/data/wsi.db');
    guard.noteError(sqliteError('SQLITE_CORRUPT_INDEX', 'again'), '/data/wsi.db');
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/DATABASE DAMAGED: \/data\/wsi\.db \(SQLITE_CORRUPT: database disk image is malformed\).*latest backup/);
    for (const m of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      let err: unknown;
      try {
        guard.checkWrite(m);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(WsiError);
      expect((err as WsiError).code).toBe('STORE_DAMAGED');
      expect((err as WsiError).status).toBe(503);
      expect((err as WsiError).message).not.toContain('/data');
    }
    for (const m of ['GET', 'HEAD', 'OPTIONS']) expect(() => guard.checkWrite(m)).not.toThrow();
    expect(guard.health()).toMatchObject({ status: 'damaged', restore: expect.stringMatching(/latest backup/) as unknown });
  });

  it('maps SQLite corruption met by a request to 503 STORE_DAMAGED, not 500', () => {
    for (const code of ['SQLITE_CORRUPT', 'SQLITE_CORRUPT_VTAB', 'SQLITE_NOTADB']) {
      const p = storeProblem(sqliteError(code, 'bad page'));
      expect(p).toBeInstanceOf(WsiError);
      expect((p as WsiError).code).toBe('STORE_DAMAGED');
    }
  });

  it("maps PostgreSQL's SQLSTATEs the same way: disk full, lock and connection trouble, corruption; anything else stays itself", () => {
    const pgError = (code: string): PgError => new PgError('from the server', code, undefined);
    const cases: Array<[string, string]> = [
      ['53100', 'STORE_FULL'],
      ['40P01', 'STORE_BUSY'],
      ['55P03', 'STORE_BUSY'],
      ['57014', 'STORE_BUSY'],
      ['08006', 'STORE_BUSY'],
      ['XX001', 'STORE_DAMAGED'],
    ];
    for (const [code, want] of cases) expect((storeProblem(pgError(code)) as WsiError).code, code).toBe(want);
    // a unique violation or a bad statement is the caller's to handle (a 409, or a bug: 500), not the store's state
    for (const err of [pgError('23505'), pgError('42P18'), sqliteError('SQLITE_CONSTRAINT_UNIQUE', 'x')]) expect(storeProblem(err)).toBe(err);
  });
});
