/**
 * WAL checkpoints off the event loop (tiles-server/store/checkpointer.ts):
 * the server's connection never checkpoints by itself, a worker thread
 * copies the WAL into the database file, and when that thread is gone the
 * connection checkpoints by itself again — so the WAL never grows without
 * bound (FAULT: a failed helper thread loses nothing).
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkpointerOf, type Checkpointer } from '../../tiles-server/store/checkpointer.js';
import { openDatabase, type Db } from '../../tiles-server/store/database.js';

const opened: Array<{ db: Db; cp: Checkpointer; dir: string }> = [];

afterEach(async () => {
  for (const o of opened.splice(0)) {
    await o.cp.close();
    o.db.close();
    await rm(o.dir, { recursive: true, force: true });
  }
});

async function fresh(everyMs: number | null): Promise<{ db: Db; cp: Checkpointer; path: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'wsi-checkpoint-'));
  const path = join(dir, 'wsi.db');
  const db = openDatabase(path);
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)');
  const cp = everyMs === null ? { stats: { checkpoints: 0, pages: 0, failed: null }, close: () => Promise.resolve() } : checkpointerOf(db, path, { everyMs });
  if (everyMs === null) db.pragma('wal_autocheckpoint = 0');
  opened.push({ db, cp, dir });
  return { db, cp, path };
}

/** 2,000 commits of 4 kB each: about 8 MB through the WAL. */
function write(db: Db): void {
  const insert = db.prepare('INSERT INTO blobs (data) VALUES (?)');
  const blob = Buffer.alloc(4096, 7);
  for (let i = 0; i < 2000; i++) insert.run(blob);
}

const size = async (p: string): Promise<number> => (await stat(p)).size;

describe('WAL checkpoints in a worker thread', () => {
  it('the connection never checkpoints by itself; the thread copies the WAL into the file', async () => {
    const { db, cp, path } = await fresh(50);
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    const before = await size(path);
    write(db);
    // nothing reached the file during the commits (the event loop was busy writing): the WAL holds it all
    expect(await size(path)).toBe(before);
    await expect.poll(async () => size(path), { timeout: 10_000 }).toBeGreaterThan(before + 7_000_000);
    await expect.poll(() => cp.stats.checkpoints).toBeGreaterThan(0);
    expect(cp.stats.failed).toBeNull();
    // and every row is there, read through the server's connection
    expect((db.prepare('SELECT count(*) AS n FROM blobs').get() as { n: number }).n).toBe(2000);
  });

  it('without the thread the file stays as it was (the control: the thread is what copies)', async () => {
    const { db, path } = await fresh(null);
    const before = await size(path);
    write(db);
    await new Promise((r) => setTimeout(r, 500));
    expect(await size(path)).toBe(before);
  });

  it('when the thread fails (here: it cannot open the file) the connection checkpoints by itself again, and says so', async () => {
    const { db, path } = await fresh(null);
    const lines: string[] = [];
    const broken = checkpointerOf(db, join(path, 'not-a-directory', 'wsi.db'), { everyMs: 50, log: (l) => lines.push(l) });
    await expect.poll(() => broken.stats.failed, { timeout: 10_000 }).not.toBeNull();
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    expect(lines.join('\n')).toMatch(/checkpoint thread stopped .*checkpoints by itself again/);
    await broken.close();
    // SQLite's own checkpoints now copy the WAL into the file during the commits
    const before = await size(path);
    write(db);
    expect(await size(path)).toBeGreaterThan(before + 3_000_000);
  });
});
