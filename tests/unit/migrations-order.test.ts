// Stores only migrate upwards (tiles-server/store/database.ts skips every
// version at or below the store's own), so a migration added between two
// released ones would never reach a store already past it: versions must
// strictly ascend in the list, and a new one must come after the last.
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { MIGRATIONS, migrate } from '../../tiles-server/store/database.js';

describe('schema migrations', () => {
  it('are listed in strictly ascending versions', () => {
    const versions = MIGRATIONS.map((m) => m.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);
  });

  it('add nothing below a released version: stores in use are at 16 (the release of 2026-12-07)', () => {
    // a new migration numbered 14 or 15 would be skipped by every store already at 16
    const RELEASED = [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 16];
    const released = RELEASED[RELEASED.length - 1] as number;
    expect(MIGRATIONS.map((m) => m.version).filter((v) => v <= released)).toEqual(RELEASED);
  });

  it('bring a store at the second-to-last version up to the last, applying only the last', () => {
    const db = new Database(':memory:');
    const before = MIGRATIONS.slice(0, -1);
    for (const m of before) db.exec(m.sql);
    db.pragma(`user_version = ${before[before.length - 1]?.version ?? 0}`);
    const r = migrate(db as never);
    expect(r.to).toBe(MIGRATIONS[MIGRATIONS.length - 1]?.version);
    expect(db.pragma('user_version', { simple: true })).toBe(r.to);
    db.close();
  });
});
