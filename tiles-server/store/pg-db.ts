/**
 * The store's connection (`Db`) on PostgreSQL.
 *
 * Architecture (README, "Store engines"): the store keeps ONE synchronous
 * interface — the subset of better-sqlite3's connection its modules use:
 * `prepare(sql)` with `run/get/all/iterate`, `exec`, `transaction(fn)` (with
 * `.immediate`: the store's write lock, WRITE_LOCK), `pragma('user_version')`, `close`. SQLite is better-sqlite3
 * itself; PostgreSQL is this class, over a synchronous bridge to a `pg`
 * connection in a worker thread (pg-sync.ts). Each statement blocks the
 * event loop for one loopback round trip, as a better-sqlite3 call blocks it
 * for one SQLite call, and a transaction's statements share the connection.
 * An asynchronous store interface is the end state for stateless replicas,
 * but it changes every caller in tiles-server; this bridge lets the same
 * store modules run on both engines now, and an async interface can replace
 * it module by module later.
 *
 * Dialect differences are translated here and nowhere else:
 * - placeholders: `?` and `@name` become `$1…` (named parameters bind from
 *   one object, as better-sqlite3 binds them);
 * - `INSERT OR IGNORE` becomes `INSERT … ON CONFLICT DO NOTHING`;
 * - `run()` gives `changes`; `lastInsertRowid` is refused (use RETURNING);
 * - the schema version (`PRAGMA user_version`) is a row of `store_meta`;
 *   other pragmas are SQLite's and are refused by name;
 * - BLOBs are bytea and come back as Buffers; int8 and numeric as numbers.
 * The schema itself is in pg-schema.ts (its own DDL: plpgsql triggers,
 * bytea, box indexes).
 */
import { PgError, PgSyncConnection } from './pg-sync.js';

export interface PgRunResult {
  changes: number;
  readonly lastInsertRowid: number;
}

type Bind = { positional: unknown[] } | { named: string[] };

/** `?` / `@name` / `:name` / `$name` outside quotes become `$n`; string literals, quoted names and comments are left alone. */
export function translatePlaceholders(sql: string): { text: string; bind: Bind } {
  let out = '';
  let n = 0;
  const names: string[] = [];
  let positional = false;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i] as string;
    if (c === "'" || c === '"') {
      const end = sql.indexOf(c, i + 1);
      const j = end < 0 ? sql.length : end;
      out += sql.slice(i, j + 1);
      i = j;
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      const j = end < 0 ? sql.length : end;
      out += sql.slice(i, j);
      i = j - 1;
    } else if (c === '?') {
      positional = true;
      out += `$${++n}`;
    } else if ((c === '@' || c === ':' || c === '$') && /[A-Za-z_]/.test(sql[i + 1] ?? '') && !(c === ':' && sql[i - 1] === ':')) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i + 1)) as RegExpExecArray;
      const name = m[0];
      let k = names.indexOf(name);
      if (k < 0) k = names.push(name) - 1;
      out += `$${k + 1}`;
      i += name.length;
    } else {
      out += c;
    }
  }
  if (positional && names.length) throw new TypeError('a statement mixes ? and named parameters');
  return { text: out, bind: names.length ? { named: names } : { positional: [] } };
}

/** SQLite's INSERT spellings PostgreSQL does not have. */
function translateStatement(sql: string): string {
  const ignore = /^\s*INSERT\s+OR\s+IGNORE\s+INTO\b/i;
  if (ignore.test(sql)) {
    const body = sql.replace(ignore, 'INSERT INTO').replace(/;\s*$/, '');
    const ret = /\sRETURNING\s/i.exec(body);
    return ret ? `${body.slice(0, ret.index)} ON CONFLICT DO NOTHING${body.slice(ret.index)}` : `${body} ON CONFLICT DO NOTHING`;
  }
  if (/^\s*(INSERT\s+OR\s+REPLACE|REPLACE)\s+INTO\b/i.test(sql)) {
    throw new TypeError('INSERT OR REPLACE has no PostgreSQL form: write INSERT … ON CONFLICT (…) DO UPDATE, which both engines run');
  }
  return sql;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v) && !(v instanceof Date);
}

/** better-sqlite3's rule: booleans are refused; everything else binds as it is. */
function bindValue(v: unknown): unknown {
  if (typeof v === 'boolean') throw new TypeError('SQLite3 can only bind numbers, strings, bigints, buffers, and null');
  return v === undefined ? null : v;
}

export class PgStatement {
  private readonly text: string;
  private readonly named: string[] | null;

  constructor(private readonly conn: PgSyncConnection, readonly source: string) {
    const t = translatePlaceholders(translateStatement(source));
    this.text = t.text;
    this.named = 'named' in t.bind ? t.bind.named : null;
  }

  private values(args: unknown[]): unknown[] {
    if (this.named) {
      const obj = args[0];
      if (args.length !== 1 || !isPlainObject(obj)) throw new RangeError('named parameters need one object argument');
      return this.named.map((k) => {
        if (!(k in obj)) throw new RangeError(`Missing named parameter "${k}"`);
        return bindValue(obj[k]);
      });
    }
    return args.flat().map(bindValue);
  }

  run(...args: unknown[]): PgRunResult {
    const r = this.conn.query(this.text, this.values(args));
    return {
      changes: r.rowCount,
      get lastInsertRowid(): number {
        throw new TypeError('lastInsertRowid is SQLite\'s: on PostgreSQL the statement must say RETURNING');
      },
    };
  }

  get(...args: unknown[]): unknown {
    return this.conn.query(this.text, this.values(args)).rows[0];
  }

  all(...args: unknown[]): unknown[] {
    return this.conn.query(this.text, this.values(args)).rows;
  }

  iterate(...args: unknown[]): IterableIterator<unknown> {
    return this.all(...args)[Symbol.iterator]();
  }
}

type TxFn<F extends (...a: never[]) => unknown> = F & { deferred: F; immediate: F; exclusive: F; default: F };

/**
 * SQLite's BEGIN IMMEDIATE on PostgreSQL: a transaction-level advisory lock
 * that every immediate (write) transaction of the store takes first, so the
 * store's writers run one at a time on every connection and every replica,
 * as SQLite's single writer does. The store's read-check-write steps
 * (optimistic versions, the next class id, the audit chain's head) rely on
 * that; without it two writers that read the same version would both write
 * it, and the second would fail on a unique index instead of getting 412.
 * The key is a constant of this store ('wsi' in ASCII).
 */
const WRITE_LOCK = 'SELECT pg_advisory_xact_lock(7828329)';

export class PgDb {
  readonly engine = 'postgres' as const;
  private depth = 0;
  /** Whether the open transaction holds WRITE_LOCK. */
  private writeLocked = false;
  private conn: PgSyncConnection | null;

  constructor(readonly name: string) {
    this.conn = new PgSyncConnection(name);
  }

  get open(): boolean {
    return this.conn !== null;
  }

  get inTransaction(): boolean {
    return this.depth > 0;
  }

  private live(): PgSyncConnection {
    if (!this.conn) throw new TypeError('The database connection is not open');
    return this.conn;
  }

  prepare(sql: string): PgStatement {
    return new PgStatement(this.live(), sql);
  }

  exec(sql: string): this {
    this.live().query(sql, [], true);
    return this;
  }

  /** `user_version` only: the schema version, kept in store_meta. */
  pragma(source: string, opts: { simple?: boolean } = {}): unknown {
    const set = /^\s*user_version\s*=\s*(\d+)\s*$/i.exec(source);
    if (set) {
      this.live().query(`UPDATE store_meta SET value = $1 WHERE name = 'user_version'`, [Number(set[1])]);
      return [];
    }
    if (/^\s*user_version\s*$/i.test(source)) {
      const v = (this.live().query(`SELECT value FROM store_meta WHERE name = 'user_version'`).rows[0]?.['value'] as number | undefined) ?? 0;
      return opts.simple ? v : [{ user_version: v }];
    }
    throw new TypeError(`PRAGMA ${source} is SQLite's; the PostgreSQL store has no such setting`);
  }

  transaction<F extends (...a: never[]) => unknown>(fn: F): TxFn<F> {
    const make = (writes: boolean): F =>
      ((...a: Parameters<F>) => {
        const conn = this.live();
        const outer = this.depth === 0;
        const savepoint = `sp${this.depth}`;
        const lock = writes && !this.writeLocked;
        // one round trip for both: BEGIN, and the store's write lock for an immediate transaction
        if (outer) conn.query(lock ? `BEGIN; ${WRITE_LOCK}` : 'BEGIN', [], lock);
        else conn.query(lock ? `SAVEPOINT ${savepoint}; ${WRITE_LOCK}` : `SAVEPOINT ${savepoint}`, [], lock);
        // a lock taken in a savepoint stays until the outer transaction ends (it is transaction-level), unless the savepoint is rolled back
        if (lock) this.writeLocked = true;
        this.depth++;
        let result: ReturnType<F>;
        try {
          result = fn(...a) as ReturnType<F>;
          // a COMMIT the server refuses (a deferred constraint, a serialization failure) is rolled back below like any failure
          conn.query(outer ? 'COMMIT' : `RELEASE SAVEPOINT ${savepoint}`);
        } catch (err) {
          try {
            conn.query(outer ? 'ROLLBACK' : `ROLLBACK TO SAVEPOINT ${savepoint}`);
            if (!outer) conn.query(`RELEASE SAVEPOINT ${savepoint}`);
          } catch {
            // the connection is gone: the server rolled the transaction back
          }
          // a lock taken in the rolled-back savepoint went with it
          if (lock) this.writeLocked = false;
          throw err;
        } finally {
          this.depth--;
          if (outer) this.writeLocked = false;
        }
        return result;
      }) as F;
    const wrapped = make(false) as TxFn<F>;
    wrapped.deferred = wrapped;
    wrapped.default = wrapped;
    wrapped.immediate = make(true);
    wrapped.exclusive = wrapped.immediate;
    return wrapped;
  }

  close(): this {
    this.conn?.close();
    this.conn = null;
    return this;
  }
}

export { PgError };
