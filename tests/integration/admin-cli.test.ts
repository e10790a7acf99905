/**
 * `npm run admin`: secrets from stdin, the audit chain verified, and the
 * backup drill (SEC-18, FAULT-07): an online backup of a running server's
 * store, restored into an empty DATA_DIR (with the audit key the admin
 * keeps apart), checks out — the same rows, annotation and mask hashes,
 * an intact audit chain — and a server started on it serves the same
 * annotations. Restoring over an existing database is refused.
 */
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anonymous, signIn, TEST_PASSWORD } from '../helpers/accounts.js';
import { b64, postTiles, tile, zlib } from '../helpers/masks.js';
import { call, square } from '../helpers/annotations.js';
import { FIXTURES, ROOT } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

const CLI = join(ROOT, 'build', 'tiles-server', 'admin-cli.js');
let server: TestServer;
let slide = '';
let work = '';

function admin(dataDir: string, args: string[], stdin = ''): { code: number; out: Record<string, unknown>; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, DATA_DIR: dataDir }, input: stdin, encoding: 'utf8', timeout: 60_000 });
  let out: Record<string, unknown> = {};
  try {
    out = JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return { code: r.status ?? -1, out, err: r.stderr };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'wsi-admin-cli-'));
  server = await startTestServer(FIXTURES);
  const { body } = await getJson<{ slides: Array<{ id: string; name: string }> }>(`${server.url}/api/slides`);
  slide = body.slides.find((s) => s.name === 'slides/aperio-jpeg-240-x4.svs')?.id ?? '';
  for (let i = 0; i < 30; i++) expect((await call(server.url, 'POST', `/api/slides/${slide}/annotations`, { body: square(i * 20, 10, 10) })).status).toBe(201);
  expect((await postTiles(server.url, slide, server.admin?.id ?? '', { ops: [{ tx: 0, ty: 0, ifMatch: 0, data: b64(zlib(tile((x) => (x < 50 ? 2 : 0)))) }] })).status).toBe(200);
});

afterAll(async () => {
  await server?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('npm run admin', () => {
  it('adds a user with the password from stdin (never an argument), disables them, and sets a member', async () => {
    const added = admin(server.dataDir, ['user', 'add', 'cli-user'], `${TEST_PASSWORD}\n`);
    expect([added.code, added.out['username']], added.err).toEqual([0, 'cli-user']);
    await signIn(server.url, 'cli-user');
    expect(admin(server.dataDir, ['user', 'add', 'weak'], 'short\n').err).toMatch(/WEAK_PASSWORD/);
    expect(admin(server.dataDir, ['project', 'add', 'CLI study', '--mode', 'restricted']).code).toBe(0);
    expect(admin(server.dataDir, ['member', 'set', 'CLI study', 'cli-user', 'annotator']).out['role']).toBe('annotator');
    const token = admin(server.dataDir, ['token', 'add', 'cli-user', 'pipeline', '--scope', 'read']).out['token'] as string;
    expect(token).toMatch(/^wsi_at_/);
    expect((await anonymous(`${server.url}/api/auth/me`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
    expect(admin(server.dataDir, ['user', 'disable', 'cli-user']).code).toBe(0);
    // the running server notices within its 5 s credential cache
    await expect.poll(async () => (await anonymous(`${server.url}/api/auth/me`, { headers: { Authorization: `Bearer ${token}` } })).status, { timeout: 10_000, interval: 250 }).toBe(401);
    expect(admin(server.dataDir, ['nonsense']).code).toBe(1);
  });

  it('verifies the audit chain', () => {
    const r = admin(server.dataDir, ['audit', 'verify']);
    expect([r.code, r.out['ok']], r.err).toEqual([0, true]);
    expect(r.out['records'] as number).toBeGreaterThan(3);
  });

  it('restores a backup of the running server into an empty DATA_DIR: same rows, same hashes, the chain intact, the same annotations served (SEC-18)', async () => {
    const file = join(work, 'backup.db');
    const backup = admin(server.dataDir, ['backup', file]);
    expect(backup.code, backup.err).toBe(0);
    expect(admin(server.dataDir, ['backup', file]).code).toBe(1);
    const fresh = join(work, 'restored');
    await mkdir(fresh, { mode: 0o700 });
    // the audit key and the server secret (slide ids) are kept apart from the database, and come back with the backup
    await copyFile(join(server.dataDir, 'audit.key'), join(fresh, 'audit.key'));
    await copyFile(join(server.dataDir, 'server-secret'), join(fresh, 'server-secret'));
    const restored = admin(fresh, ['restore', file]);
    expect(restored.code, restored.err).toBe(0);
    process.stdout.write(`[admin] restore drill: backup ${String(backup.out['ms'])} ms, restore and check ${String(restored.out['ms'])} ms\n`);
    expect(restored.out['rows']).toEqual(backup.out['rows']);
    expect((restored.out['rows'] as Record<string, number>)['history']).toBeGreaterThanOrEqual(30);
    expect(restored.out['annotationsSha256']).toBe(backup.out['annotationsSha256']);
    expect(restored.out['masksSha256']).toBe(backup.out['masksSha256']);
    expect((restored.out['audit'] as { ok: boolean }).ok).toBe(true);
    expect(restored.out['warnings']).toEqual([]);
    expect(admin(fresh, ['restore', file]).err).toMatch(/exists/);
    const again = await startTestServer(FIXTURES, { DATA_DIR: fresh });
    try {
      const before = await call<{ annotations: Array<{ id: string; version: number }> }>(server.url, 'GET', `/api/slides/${slide}/annotations`);
      const after = await call<{ annotations: Array<{ id: string; version: number }> }>(again.url, 'GET', `/api/slides/${slide}/annotations`);
      expect(after.body.annotations).toEqual(before.body.annotations);
      expect(after.body.annotations).toHaveLength(30);
    } finally {
      await again.stop();
    }
  });

  it('a restore without the audit key is not passed as intact', async () => {
    const fresh = join(work, 'no-key');
    const restored = admin(fresh, ['restore', join(work, 'backup.db')]);
    expect(restored.code).toBe(2);
    expect((restored.out['audit'] as { ok: boolean; reason: string }).reason).toMatch(/signature/);
    expect(restored.out['warnings']).toEqual([expect.stringMatching(/server-secret/)]);
  });
});
