/**
 * One writer of tests/integration/audit-writers.test.ts: a worker thread
 * with its own connection to the store (as another server replica has),
 * appending `count` audit records one at a time through the built server's
 * AuditLog, after every writer has opened its connection (a barrier), so the
 * appends of all writers overlap.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';

const { build, engine, location, keyDir, id, count, writers, barrier } = workerData;
const { openDatabase } = await import(`${build}/tiles-server/store/database.js`);
const { openPgDatabase } = await import(`${build}/tiles-server/store/pg-schema.js`);
const { SqliteAuditStore } = await import(`${build}/tiles-server/store/audit-store.js`);
const { AuditLog } = await import(`${build}/tiles-server/audit/audit-log.js`);

// a replica's own data folder, with the deployment's audit key
const dir = join(keyDir, `writer-${id}`);
mkdirSync(dir, { recursive: true });
copyFileSync(join(keyDir, 'audit.key'), join(dir, 'audit.key'));
const db = engine === 'postgres' ? openPgDatabase(location, { allowIncomplete: true }) : openDatabase(location);
const log = new AuditLog(new SqliteAuditStore(db), dir, { checkpointEvery: 7 });

const ready = new Int32Array(barrier);
Atomics.add(ready, 0, 1);
while (Atomics.load(ready, 0) < writers) Atomics.wait(ready, 0, Atomics.load(ready, 0), 50);

const errors = [];
for (let i = 0; i < count; i++) {
  try {
    log.append([{ actor: `writer-${id}`, action: 'annotation.write', target: `t-${i}`, detail: { i } }]);
  } catch (e) {
    errors.push(String(e instanceof Error ? e.message : e));
  }
}
log.close();
db.close();
parentPort.postMessage({ errors });
