/**
 * File modes (issue 10, finding 10): a fresh installation creates its data
 * folder 0700 and the database, its WAL and shared-memory files and the
 * server secret 0600; an installation made with looser modes is tightened
 * at start, and the server says so.
 */
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { call, square } from '../helpers/annotations.js';
import { FIXTURES } from '../helpers/paths.js';
import { getJson, startTestServer } from '../helpers/server.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const mode = async (p: string): Promise<string> => ((await stat(p)).mode & 0o777).toString(8);

async function writeOne(url: string): Promise<void> {
  const { body } = await getJson<{ slides: Array<{ id: string; name: string }> }>(`${url}/api/slides`);
  const slide = body.slides.find((s) => s.name === 'slides/aperio-jpeg-240-x4.svs')?.id ?? '';
  expect((await call(url, 'POST', `/api/slides/${slide}/annotations`, { body: square(1, 1, 5) })).status).toBe(201);
}

describe('file modes', () => {
  it('creates the data folder 0700 and the database, WAL, SHM and secret 0600', async () => {
    const root = await mkdtemp(join(tmpdir(), 'wsi-modes-'));
    dirs.push(root);
    const data = join(root, 'data');
    const server = await startTestServer(FIXTURES, { DATA_DIR: data });
    try {
      await writeOne(server.url);
      expect(await mode(data)).toBe('700');
      for (const f of ['wsi.db', 'wsi.db-wal', 'wsi.db-shm', 'server-secret']) expect(await mode(join(data, f)), f).toBe('600');
      expect(server.output()).not.toMatch(/tightened/);
    } finally {
      await server.stop();
    }
  });

  it('tightens an older installation at start and says so', async () => {
    const data = await mkdtemp(join(tmpdir(), 'wsi-modes-old-'));
    dirs.push(data);
    await chmod(data, 0o755);
    await writeFile(join(data, 'server-secret'), `${'ab'.repeat(32)}\n`);
    await chmod(join(data, 'server-secret'), 0o644);
    const db = new Database(join(data, 'wsi.db'));
    db.pragma('journal_mode = WAL');
    db.close();
    await chmod(join(data, 'wsi.db'), 0o644);
    const server = await startTestServer(FIXTURES, { DATA_DIR: data });
    try {
      await writeOne(server.url);
      expect(await mode(data)).toBe('700');
      for (const f of ['wsi.db', 'wsi.db-wal', 'wsi.db-shm', 'server-secret']) expect(await mode(join(data, f)), f).toBe('600');
      const out = server.output();
      expect(out).toMatch(new RegExp(`tightened the permissions of ${data} from 0755 to 0700`));
      expect(out).toMatch(/tightened the permissions of \S+wsi\.db from 0644 to 0600/);
      expect(out).toMatch(/tightened the permissions of \S+server-secret from 0644 to 0600/);
    } finally {
      await server.stop();
    }
  });
});
