/**
 * The store under test on each engine: SQLite (a file in a temporary folder)
 * and PostgreSQL (a fresh database in the run's throwaway cluster, from
 * global-setup.ts). A test file runs its cases once per engine with
 * `describe.each(storeEngines())`. Without PostgreSQL (outside CI only:
 * global-setup fails the run in CI) the PostgreSQL cases are skipped, and
 * say so in their name.
 */
import Database from 'better-sqlite3';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, inject } from 'vitest';
import { openDatabase, type Db } from '../../tiles-server/store/database.js';
import { PgDb } from '../../tiles-server/store/pg-db.js';
import { openPgDatabase } from '../../tiles-server/store/pg-schema.js';

/** One store, opened and reopened as the server would, plus what someone with direct access to the database can do. */
export interface StoreUnderTest {
  engine: 'sqlite' | 'postgres';
  /** Where the store is: the SQLite file, or the PostgreSQL database's URL (for a second connection in another thread). */
  url: string;
  /** A folder for the test's other files (keys, spools), removed by dispose(). */
  dir: string;
  /** Where another connection opens the same store: the SQLite file, or the PostgreSQL database's URL. */
  location: string;
  /** Opens the store (again, after close). */
  open(): Db;
  /** Runs `fn` on a second connection with the append-only triggers of `tables` off: a person with the database's credentials. */
  tamper(tables: string[], fn: (raw: Db) => void): void;
  /** Saves the whole store aside (close it first); restore() puts that copy back. */
  snapshot(): void;
  restore(): void;
  dispose(): void;
}

export interface EngineCase {
  name: string;
  skip: boolean;
  make(): StoreUnderTest;
}

let counter = 0;
let template: string | null = null;

function sqliteStore(): StoreUnderTest {
  const dir = mkdtempSync(join(tmpdir(), 'wsi-store-'));
  const file = join(dir, 'wsi.db');
  return {
    engine: 'sqlite',
    url: file,
    dir,
    location: file,
    open: () => openDatabase(file),
    tamper(tables, fn) {
      const raw = new Database(file);
      try {
        const triggers = raw.prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN (${tables.map(() => '?').join(', ')})`).all(...tables) as Array<{ name: string }>;
        for (const t of triggers) raw.exec(`DROP TRIGGER ${t.name}`);
        fn(raw);
      } finally {
        raw.close();
      }
    },
    snapshot: () => copyFileSync(file, join(dir, 'snapshot.db')),
    restore: () => copyFileSync(join(dir, 'snapshot.db'), file),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function pgStore(clusterUrl: string): StoreUnderTest {
  const dir = mkdtempSync(join(tmpdir(), 'wsi-store-pg-'));
  const name = `t${process.pid}_${++counter}`;
  const urlOf = (db: string): string => clusterUrl.replace(/\/[^/]*$/, `/${db}`);
  // CREATE and DROP DATABASE refuse to share a statement string (it would be one transaction)
  const admin = (...sql: string[]): void => {
    const m = new PgDb(clusterUrl);
    try {
      for (const q of sql) m.exec(q);
    } finally {
      m.close();
    }
  };
  // the run's migrated template (global-setup.ts), else one per test process: each store is then a file copy, not the baseline's DDL again
  if (!template) {
    const shared = inject('pgTemplate');
    if (shared) template = shared;
    else {
      template = `tpl${process.pid}`;
      admin(`CREATE DATABASE ${template}`);
      openPgDatabase(urlOf(template), { allowIncomplete: true }).close();
    }
  }
  admin(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  return {
    engine: 'postgres',
    url: urlOf(name),
    dir,
    location: urlOf(name),
    open: () => openPgDatabase(urlOf(name), { allowIncomplete: true }),
    tamper(tables, fn) {
      const raw = new PgDb(urlOf(name));
      try {
        for (const t of tables) raw.exec(`ALTER TABLE ${t} DISABLE TRIGGER USER`);
        fn(raw as unknown as Db);
      } finally {
        raw.close();
      }
    },
    snapshot: () => admin(`DROP DATABASE IF EXISTS ${name}_snap`, `CREATE DATABASE ${name}_snap TEMPLATE ${name}`),
    restore: () => admin(`DROP DATABASE ${name}`, `ALTER DATABASE ${name}_snap RENAME TO ${name}`),
    dispose() {
      admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`, `DROP DATABASE IF EXISTS ${name}_snap WITH (FORCE)`);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The engines to run a store test file on. */
export function storeEngines(): EngineCase[] {
  const url = inject('pgUrl');
  return [
    { name: 'sqlite', skip: false, make: sqliteStore },
    {
      name: url ? 'postgres' : 'postgres (SKIPPED: PostgreSQL is not installed here)',
      skip: !url,
      make: () => pgStore(url as string),
    },
  ];
}

/** `describe(title on <engine>)` once per engine, skipped (and named so) where PostgreSQL is absent outside CI. */
export function describeEachEngine(title: string, body: (engine: EngineCase) => void): void {
  for (const e of storeEngines()) describe.skipIf(e.skip)(`${title} on ${e.name}`, () => body(e));
}
