/**
 * Which engine a store connection runs on (tiles-server/store/ only;
 * everything outside the folder is engine-blind). The SQL the engines write
 * differently is in dialect.ts, chosen by this. A PostgreSQL connection
 * (pg-db.ts) says so in its `engine` field; better-sqlite3's has none.
 */
export type Engine = 'sqlite' | 'postgres';

export function engineOf(db: object): Engine {
  return (db as { engine?: unknown }).engine === 'postgres' ? 'postgres' : 'sqlite';
}
