/**
 * Durable commits off the event loop (LOAD-05; FAULT cases of a lost
 * acknowledgement): the server's connection commits with synchronous=NORMAL
 * and a change's answer is held until the WAL is synced; syncs are grouped;
 * a failed sync answers nothing.
 */
import { createServer, request, type Server } from 'node:http';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../tiles-server/store/database.js';
import { walSyncOf, type Durability } from '../../tiles-server/store/wal-sync.js';
import { holdUntilDurable } from '../../tiles-server/http/durable-answer.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('the WAL sync', () => {
  it('switches the server connection to synchronous=NORMAL only when it can sync the WAL itself', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wal-sync-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'wsi.db');
    const { db } = openStore(path, { check: false });
    expect(db.pragma('synchronous', { simple: true })).toBe(2);
    const sync = walSyncOf(db, path);
    cleanups.push(async () => {
      db.close();
      await sync.close();
    });
    expect(db.pragma('synchronous', { simple: true })).toBe(1);
    db.prepare("INSERT INTO classes (position, name, color) VALUES (99, 'x', '#000000')").run();
    await expect(sync.flush()).resolves.toBeUndefined();

    const mem = openStore(':memory:', { check: false }).db;
    const none = walSyncOf(mem, ':memory:');
    expect(mem.pragma('synchronous', { simple: true })).toBe(2);
    await expect(none.flush()).resolves.toBeUndefined();
    mem.close();
  });

  it('groups syncs: callers during a running sync share the next one, which starts after it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wal-sync-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'wsi.db');
    const { db } = openStore(path, { check: false });
    const sync = walSyncOf(db, path);
    cleanups.push(async () => {
      db.close();
      await sync.close();
    });
    const first = sync.flush();
    const a = sync.flush();
    const b = sync.flush();
    expect(a).toBe(b);
    expect(a).not.toBe(first);
    const order: string[] = [];
    await Promise.all([first.then(() => order.push('first')), a.then(() => order.push('next'))]);
    expect(order).toEqual(['first', 'next']);
  });
});

async function serve(durability: Durability, lines: string[], afterEnd: () => void = () => undefined): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const held = holdUntilDurable(req.method, res, durability, (l) => lines.push(l));
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('done');
    // what dispatch does after the handler: the audit record, then the release
    afterEnd();
    void held.release();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return { server, port: (server.address() as { port: number }).port };
}

function call(port: number, method: string): Promise<{ status: number; at: number } | { error: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, method, path: '/x' }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, at: performance.now() }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end();
  });
}

describe('holding a change until it is durable', () => {
  it('answers a change only after the flush, and a read at once', async () => {
    let release: () => void = () => undefined;
    let flushes = 0;
    const durability: Durability = {
      flush: () => {
        flushes++;
        return new Promise<void>((r) => (release = r));
      },
      close: () => Promise.resolve(),
    };
    const { port } = await serve(durability, []);
    await expect(call(port, 'GET')).resolves.toMatchObject({ status: 200 });
    expect(flushes).toBe(0);
    let answered = false;
    const put = call(port, 'PUT').then((r) => {
      answered = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(flushes).toBe(1);
    expect(answered).toBe(false);
    release();
    await expect(put).resolves.toMatchObject({ status: 200 });
  });

  it('answers nothing when the sync fails (the client retries under its Idempotency-Key), and says why in the log', async () => {
    const lines: string[] = [];
    const failing: Durability = { flush: () => Promise.reject(Object.assign(new Error('I/O error'), { code: 'EIO' })), close: () => Promise.resolve() };
    const { port } = await serve(failing, lines);
    const r = await call(port, 'POST');
    expect(r).toMatchObject({ error: expect.stringMatching(/ECONNRESET|socket hang up/) });
    expect(lines.join('\n')).toMatch(/could not be synced to disk \(EIO\)/);
  });

  it('syncs after what the request wrote once its answer was ended (its audit record), not from the end', async () => {
    const events: string[] = [];
    const durability: Durability = {
      flush: () => {
        events.push('flush');
        return Promise.resolve();
      },
      close: () => Promise.resolve(),
    };
    const { port } = await serve(durability, [], () => events.push('audit commit'));
    await expect(call(port, 'POST')).resolves.toMatchObject({ status: 200 });
    expect(events).toEqual(['audit commit', 'flush']);
  });
});

describe('a failed sync', () => {
  it('fails every later flush too (a write-back error is reported once), tells the server once, and a closed sync flushes nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wal-sync-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'wsi.db');
    const { db } = openStore(path, { check: false });
    const failures: Error[] = [];
    const sync = walSyncOf(db, path, (e) => failures.push(e));
    await sync.flush();
    // the descriptor fails: closed under the sync (EBADF stands in for EIO)
    const fd = (sync as unknown as { fd: number }).fd;
    closeSync(fd);
    await expect(sync.flush()).rejects.toMatchObject({ code: 'EBADF' });
    // a new descriptor on the same number would sync fine: the failure must stay
    (sync as unknown as { fd: number }).fd = openSync(`${path}-wal`, 'r');
    await expect(sync.flush()).rejects.toMatchObject({ code: 'EBADF' });
    expect(failures).toHaveLength(1);
    db.close();
    await sync.close();
    await expect(sync.flush()).rejects.toThrow();
  });
});
