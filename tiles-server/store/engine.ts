/**
 * Which engine a store connection runs on, for the few dialect choices the
 * store modules make themselves (tiles-server/store/ only; everything outside
 * the folder is engine-blind). A PostgreSQL connection (pg-db.ts) says so
 * in its `engine` field; better-sqlite3's has none.
 */
export type Engine = 'sqlite' | 'postgres';

export function engineOf(db: object): Engine {
  return (db as { engine?: unknown }).engine === 'postgres' ? 'postgres' : 'sqlite';
}
