/**
 * The audit chain stays one chain when several writers append at once
 * (issue 16: server replicas on one store): four connections, each in its own
 * thread, append 60 records each, one at a time, all at once. Every append
 * succeeds, the sequence has no gap or repeat, each writer's records are all
 * there, and the chain verifies with its checkpoints (SEC-11). The writers
 * use the built server's modules (npm test builds first). Without the lock
 * (the append's transaction deferred), the same test fails on both engines:
 * "database is locked" on SQLite, duplicate sequence numbers on PostgreSQL.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { randomBytes } from 'node:crypto';
import { afterEach, expect, it } from 'vitest';
import { AuditLog } from '../../tiles-server/audit/audit-log.js';
import { SqliteAuditStore } from '../../tiles-server/store/audit-store.js';
import { requireBuild, ROOT } from '../helpers/paths.js';
import { describeEachEngine, type StoreUnderTest } from '../helpers/store-engines.js';

const WRITERS = 4;
const EACH = 60;

function writer(store: StoreUnderTest, id: number, barrier: SharedArrayBuffer): Promise<{ errors: string[] }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('../helpers/audit-writer-worker.mjs', import.meta.url), {
      workerData: { build: join(ROOT, 'build'), engine: store.engine, location: store.location, keyDir: store.dir, id, count: EACH, writers: WRITERS, barrier },
    });
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`writer ${id} exited with ${code}`))));
  });
}

describeEachEngine('the audit chain under concurrent writers', ({ make }) => {
  let store: StoreUnderTest | undefined;
  afterEach(() => store?.dispose());

  it(`${WRITERS} writers × ${EACH} appends at once: one gapless chain that verifies, nothing lost`, async () => {
    requireBuild();
    store = make();
    // the store migrated once, before the writers open it; the deployment's audit key beside it
    store.open().close();
    writeFileSync(join(store.dir, 'audit.key'), randomBytes(32).toString('hex'), { mode: 0o600 });
    const barrier = new SharedArrayBuffer(4);
    const results = await Promise.all(Array.from({ length: WRITERS }, (_, i) => writer(store as StoreUnderTest, i, barrier)));
    expect(results.flatMap((r) => r.errors)).toEqual([]);

    const db = store.open();
    const log = new AuditLog(new SqliteAuditStore(db), store.dir, { checkpointEvery: 7 });
    try {
      const records = new SqliteAuditStore(db).scan(1, WRITERS * EACH + 10);
      expect(records.map((r) => r.seq)).toEqual(Array.from({ length: WRITERS * EACH }, (_, i) => i + 1));
      for (let id = 0; id < WRITERS; id++) {
        const mine = records.filter((r) => r.actor === `writer-${id}`).map((r) => (JSON.parse(r.detail) as { i: number }).i);
        expect(mine).toEqual(Array.from({ length: EACH }, (_, i) => i));
      }
      expect(log.verify()).toMatchObject({ ok: true, records: WRITERS * EACH, brokenAt: null });
    } finally {
      log.close();
      db.close();
    }
  });
});
