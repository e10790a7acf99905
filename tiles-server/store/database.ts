/**
 * The embedded SQLite database (better-sqlite3) in DATA_DIR: WAL journal,
 * synchronous=FULL so a commit survives a crash or power loss (the server's
 * own connection trades it for a grouped sync before each answer: wal-sync.ts),
 * a versioned schema applied by numbered migrations, files only the
 * server's user can read, and an integrity check at open so a damaged file
 * is never silently written to (openStore keeps serving what still reads).
 */
import Database from 'better-sqlite3';
import { WsiError } from '../../src/core/errors.js';
import { privateFile, tighten, PRIVATE_FILE_MODE, type LogLine } from '../private-files.js';
import { AUDIT_COMPACT_SCHEMA, AUDIT_SCHEMA } from './audit-store.js';
import { IDENTITY_SCHEMA } from './identity-store.js';
import { MODEL_RUN_SCHEMA } from './model-runs.js';
import { DEID_JOB_SCHEMA } from './deid-jobs.js';
import { PROJECT_RECORDS_SCHEMA } from './project-records-schema.js';
import { PROJECT_PALETTE_SCHEMA } from './project-palettes.js';
import { READING_SCHEMA } from './readings.js';
import { CONSENSUS_SCHEMA } from './consensus-store.js';
import { MODEL_MASK_SCHEMA } from './model-masks.js';
import { PREDICTION_BLOCK_SCHEMA } from './prediction-blocks-schema.js';
import { SLIDE_DESCRIPTOR_SCHEMA } from './slide-descriptors-schema.js';
import { REVIEW_SCHEMA } from './reviews.js';
import { compactMaskHistory } from './mask-history-migration.js';
import { WriteGate } from './write-gate.js';
import { storeFailureOf } from './dialect.js';

export type Db = Database.Database;

interface Migration {
  version: number;
  description: string;
  sql: string;
  /** Work SQL cannot do (kept in TypeScript so any SQL store can run it), in the same transaction, after `sql`. */
  run?: (db: Db, log: LogLine) => void;
}

/** Never edit a released migration: add a new one. */
export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'annotations, append-only history, idempotent operations, classes',
    sql: `
      CREATE TABLE history (
        seq INTEGER PRIMARY KEY,
        annotation_id TEXT NOT NULL,
        slide_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        op TEXT NOT NULL CHECK (op IN ('create', 'update', 'delete', 'restore', 'import')),
        data TEXT NOT NULL,
        author TEXT NOT NULL,
        at TEXT NOT NULL,
        op_id TEXT NOT NULL,
        UNIQUE (annotation_id, version)
      );
      CREATE TRIGGER history_append_only_update BEFORE UPDATE ON history BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
      CREATE TRIGGER history_append_only_delete BEFORE DELETE ON history BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;

      -- the head of each annotation: its current version in history
      CREATE TABLE annotations (
        rowid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        slide_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0,
        head_seq INTEGER NOT NULL REFERENCES history(seq),
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE INDEX annotations_by_slide ON annotations (slide_id, deleted);
      CREATE VIRTUAL TABLE annotations_rtree USING rtree (rowid, min_x, max_x, min_y, max_y);

      CREATE TABLE operations (
        op_id TEXT PRIMARY KEY,
        slide_id TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        status INTEGER NOT NULL,
        response TEXT NOT NULL,
        at TEXT NOT NULL
      );

      CREATE TABLE classes (
        position INTEGER NOT NULL,
        name TEXT PRIMARY KEY,
        color TEXT NOT NULL,
        hotkey TEXT
      );
    `,
  },
  {
    version: 2,
    description: 'stable mask ids for classes, painted mask tiles with append-only history',
    sql: `
      -- every class name that was ever given a mask id keeps it; an id is never given to another name
      CREATE TABLE class_ids (
        id INTEGER PRIMARY KEY CHECK (id BETWEEN 1 AND 255),
        name TEXT NOT NULL UNIQUE,
        color TEXT NOT NULL
      );
      CREATE TRIGGER class_ids_never_deleted BEFORE DELETE ON class_ids BEGIN SELECT RAISE(ABORT, 'class ids are permanent'); END;
      CREATE TRIGGER class_ids_never_renumbered BEFORE UPDATE OF id, name ON class_ids BEGIN SELECT RAISE(ABORT, 'class ids are permanent'); END;
      CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
      -- the classes of a version-1 database get ids in palette order
      INSERT INTO class_ids (id, name, color)
        SELECT rn, name, color FROM (SELECT ROW_NUMBER() OVER (ORDER BY position, name) AS rn, name, color FROM classes) WHERE rn <= 255;
      INSERT INTO counters (name, value) VALUES ('class_id', (SELECT count(*) FROM class_ids));

      -- every version of every mask tile (512 x 512 Uint8 class ids, zlib)
      CREATE TABLE mask_history (
        seq INTEGER PRIMARY KEY,
        slide_id TEXT NOT NULL,
        annotator TEXT NOT NULL,
        tx INTEGER NOT NULL,
        ty INTEGER NOT NULL,
        version INTEGER NOT NULL CHECK (version >= 1),
        op TEXT NOT NULL CHECK (op IN ('paint', 'import')),
        data BLOB NOT NULL,
        pixels TEXT NOT NULL,
        author TEXT NOT NULL,
        at TEXT NOT NULL,
        op_id TEXT NOT NULL,
        UNIQUE (slide_id, annotator, tx, ty, version)
      );
      CREATE TRIGGER mask_history_append_only_update BEFORE UPDATE ON mask_history BEGIN SELECT RAISE(ABORT, 'mask history is append-only'); END;
      CREATE TRIGGER mask_history_append_only_delete BEFORE DELETE ON mask_history BEGIN SELECT RAISE(ABORT, 'mask history is append-only'); END;

      -- the head of each tile: its current version, data and pixel counts per class id (JSON)
      CREATE TABLE mask_tiles (
        slide_id TEXT NOT NULL,
        annotator TEXT NOT NULL,
        tx INTEGER NOT NULL,
        ty INTEGER NOT NULL,
        version INTEGER NOT NULL,
        head_seq INTEGER NOT NULL REFERENCES mask_history(seq),
        data BLOB NOT NULL,
        pixels TEXT NOT NULL,
        updated_by TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (slide_id, annotator, tx, ty)
      );
    `,
  },
  {
    version: 3,
    description: 'mask history as keyframes and deltas (store/mask-history.ts)',
    sql: `
      -- zlib: the whole tile as its writer sent it; xor-runs: a delta from the version before
      ALTER TABLE mask_history ADD COLUMN encoding TEXT NOT NULL DEFAULT 'zlib' CHECK (encoding IN ('zlib', 'xor-runs'));
    `,
    run: compactMaskHistory,
  },
  {
    version: 4,
    description: 'imports staged in bounded transactions, made visible in one step',
    sql: `
      -- one row per import; its rows carry its id and stay hidden until state = 'committed'
      CREATE TABLE import_jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        slide_id TEXT NOT NULL,
        op_id TEXT NOT NULL,
        format TEXT NOT NULL,
        author TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('staging', 'committed', 'discarding')),
        staged INTEGER NOT NULL DEFAULT 0,
        first_row INTEGER,
        first_seq INTEGER,
        started_at TEXT NOT NULL,
        finished_at TEXT
      );
      CREATE INDEX import_jobs_by_state ON import_jobs (state);
      -- deleting a history row checks that no head points at it: without this, a scan of every head
      CREATE INDEX annotations_by_head ON annotations (head_seq);
      ALTER TABLE annotations ADD COLUMN import_job INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE history ADD COLUMN import_job INTEGER NOT NULL DEFAULT 0;
      -- history stays append-only; only the rows of an import that never became visible may go
      DROP TRIGGER history_append_only_delete;
      CREATE TRIGGER history_append_only_delete BEFORE DELETE ON history
        WHEN OLD.import_job = 0 OR NOT EXISTS (SELECT 1 FROM import_jobs j WHERE j.id = OLD.import_job AND j.state = 'discarding')
        BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
    `,
  },
  {
    version: 5,
    description: 'accounts, sessions, tokens, projects, memberships, project slides; the audit log and its checkpoints',
    sql: IDENTITY_SCHEMA + AUDIT_SCHEMA,
  },
  {
    version: 6,
    description: 'a compact audit log: no stored copy of the previous hash, UUIDs as 16 bytes',
    sql: AUDIT_COMPACT_SCHEMA,
  },
  {
    version: 7,
    description: 'a class palette per project (store/project-palettes.ts); the global palette becomes each existing project\'s',
    sql: PROJECT_PALETTE_SCHEMA,
  },
  {
    version: 8,
    description: 'model runs; provenance of annotations (source, parent, score); checked areas (store/model-runs.ts)',
    sql: MODEL_RUN_SCHEMA,
  },
  {
    version: 9,
    description: 'review items and events, comments, reject reasons, significant classes and ROIs, experts; readings (store/reviews.ts, store/readings.ts)',
    sql: REVIEW_SCHEMA + READING_SCHEMA,
  },
  {
    version: 11,
    description: 'de-identification jobs of the quarantine inbox (store/deid-jobs.ts)',
    sql: DEID_JOB_SCHEMA,
  },
  {
    version: 12,
    description: 'versioned annotation protocols and member qualifications for the regulatory report (store/project-records.ts)',
    sql: PROJECT_RECORDS_SCHEMA,
  },
  {
    version: 13,
    description: 'the provenance of reference masks: accepted consensuses and restores (store/consensus-store.ts)',
    sql: CONSENSUS_SCHEMA,
  },
  {
    version: 16,
    description: 'the site and stain a manager sets per project slide, one row per version (store/slide-descriptors.ts)',
    sql: SLIDE_DESCRIPTOR_SCHEMA,
  },
  {
    // numbered after 16 (not 15) so that a store already at 16 still gets it: versions only go up
    version: 19,
    description: 'AI masks of model runs and the corrected layers derived from them (store/model-masks.ts)',
    sql: MODEL_MASK_SCHEMA,
  },
  {
    version: 20,
    description: "a model run's predictions also kept in blocks of WSCA frames, for the columnar listing (store/prediction-blocks.ts)",
    sql: PREDICTION_BLOCK_SCHEMA,
  },
];

export function currentSchemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

export function migrate(db: Db, log: LogLine = () => undefined): { from: number; to: number } {
  const from = currentSchemaVersion(db);
  const latest = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
  if (from > latest) {
    throw new WsiError('INTERNAL', `the database schema (version ${from}) is newer than this server (${latest}); upgrade the server`);
  }
  for (const m of MIGRATIONS) {
    if (m.version <= from) continue;
    db.transaction(() => {
      db.exec(m.sql);
      m.run?.(db, log);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
  return { from, to: latest };
}

export interface OpenOptions {
  /** Run PRAGMA quick_check at open (default true). */
  check?: boolean;
  busyTimeoutMs?: number;
  /** Refuse writes that would grow the database past this many bytes (0: no cap). */
  maxBytes?: number;
  /** Where to say that an existing file's permissions were tightened. */
  log?: LogLine;
}

/** What to do about a damaged database file (FAULT-06): the same words in the log, /api/health and every refused write. */
export function restoreAdvice(path: string): string {
  return `stop the server, move ${path} and its ${path}-wal and ${path}-shm files aside (keep them: a copy may be salvaged with "sqlite3 ${path} .recover"), put your latest backup of the database in its place, and start the server again`;
}

/**
 * Runs `fn` as a write transaction that takes the write lock when it begins
 * (BEGIN IMMEDIATE), waiting up to the busy timeout for it. A deferred
 * transaction would read first and then try to upgrade; in WAL mode, if
 * another connection (an import's worker) committed in between, the upgrade
 * fails at once with SQLITE_BUSY_SNAPSHOT, which no waiting can cure — a
 * user's write would get 503 for nothing. Inside another transaction it is a
 * savepoint, as any nested better-sqlite3 transaction.
 */
export function writeTransaction<T>(db: Db, fn: () => T): T {
  const gate = gates.get(db);
  gate?.enter();
  try {
    return db.transaction(fn).immediate();
  } finally {
    gate?.leave();
  }
}

const gates = new WeakMap<Db, WriteGate>();

/** The gate of a connection's write transactions (made at open; import workers wait on it). */
export function writeGateOf(db: Db): WriteGate {
  let gate = gates.get(db);
  if (!gate) gates.set(db, (gate = new WriteGate()));
  return gate;
}

/**
 * The store's storage failures as the API's problems: a full disk (or the
 * DB_MAX_MB cap) is 507 STORE_FULL, a locked database 503 STORE_BUSY, a
 * damaged file 503 STORE_DAMAGED. The transaction was rolled back, so
 * nothing of the write was kept. Which engine codes mean which: dialect.ts.
 */
export function storeProblem(err: unknown): unknown {
  const failure = storeFailureOf(err);
  if (failure === 'full') {
    return new WsiError('STORE_FULL', 'the annotation store is full (the disk, or the DB_MAX_MB cap): nothing of this change was saved; it is kept in your browser and will be sent once space is freed');
  }
  if (failure === 'busy') return new WsiError('STORE_BUSY', 'the annotation store is busy (an import may be running); retry shortly');
  if (failure === 'damaged') {
    return new WsiError('STORE_DAMAGED', 'this part of the annotation store cannot be read: the database file is damaged. Writes are refused until it is restored from a backup (GET /api/health says how)');
  }
  return err;
}

/** An engine's codes for a store whose pages are not what they should be. */
export function isCorruption(err: unknown): boolean {
  return storeFailureOf(err) === 'damaged';
}

/** The database file, its WAL and its shared-memory file. */
function databaseFiles(path: string): string[] {
  return [path, `${path}-wal`, `${path}-shm`];
}

function connect(path: string, opts: OpenOptions): Db {
  if (path !== ':memory:') {
    // SQLite gives the WAL and shared-memory files the database file's mode: create it private
    const log = opts.log ?? (() => undefined);
    privateFile(path, log);
    for (const f of databaseFiles(path).slice(1)) tighten(f, PRIVATE_FILE_MODE, log);
  }
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    // a large import writes its whole transaction to the WAL; give the disk back after checkpoints
    db.pragma('journal_size_limit = 67108864');
    db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 5000}`);
    if (opts.maxBytes) {
      const pageSize = db.pragma('page_size', { simple: true }) as number;
      db.pragma(`max_page_count = ${Math.max(1, Math.floor(opts.maxBytes / pageSize))}`);
    }
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** PRAGMA quick_check: null when the file is sound, else what SQLite found (shortened). */
function damageOf(db: Db): string | null {
  let rows: Array<{ quick_check: string }>;
  try {
    rows = db.pragma('quick_check') as Array<{ quick_check: string }>;
  } catch (err) {
    // some damage stops the check itself
    if (isCorruption(err)) return `${(err as { code: string }).code}: ${(err as Error).message}`;
    throw err;
  }
  if (rows.length === 1 && rows[0]?.quick_check === 'ok') return null;
  return rows.map((r) => r.quick_check).join('; ').slice(0, 300);
}

/** Opens the database, checked and migrated; a damaged file is refused with an error that says what to restore. */
export function openDatabase(path: string, opts: OpenOptions = {}): Db {
  const { db, damage } = openStore(path, opts);
  if (damage) {
    db.close();
    throw new WsiError('STORE_DAMAGED', `the database ${path} failed its integrity check (${damage}); ${restoreAdvice(path)}`);
  }
  return db;
}

/**
 * Opens the database for the server. A file that fails its check is still
 * opened, read-only (query_only), so what can be read goes on being served;
 * `damage` says what SQLite found. A file SQLite cannot open at all, or a
 * damaged one that still needs a migration, is refused.
 */
export function openStore(path: string, opts: OpenOptions = {}): { db: Db; damage: string | null } {
  let db: Db;
  try {
    db = connect(path, opts);
  } catch (err) {
    if (!isCorruption(err)) throw err;
    throw new WsiError('STORE_DAMAGED', `the database ${path} cannot be opened (${(err as Error).message}); ${restoreAdvice(path)}`);
  }
  try {
    const damage = opts.check === false ? null : damageOf(db);
    if (damage) {
      db.pragma('query_only = ON');
      const latest = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
      if (currentSchemaVersion(db) !== latest) {
        throw new WsiError('STORE_DAMAGED', `the database ${path} failed its integrity check (${damage}) and needs a schema upgrade, which is not done on a damaged file; ${restoreAdvice(path)}`);
      }
      return { db, damage };
    }
    migrate(db, opts.log);
    return { db, damage: null };
  } catch (err) {
    db.close();
    if (isCorruption(err)) throw new WsiError('STORE_DAMAGED', `the database ${path} cannot be read (${(err as Error).message}); ${restoreAdvice(path)}`);
    throw err;
  }
}
