/**
 * A throwaway PostgreSQL cluster for the tests that run the store on both
 * engines: initdb into a temporary folder, started on a free loopback port,
 * with durability off (fsync, full pages: nothing to keep), stopped and
 * deleted at the end. One cluster for the whole run (global-setup.ts); each
 * test makes a fresh database in it (tests/helpers/store-engines.ts), and the store-pg bench does the same.
 * PostgreSQL refuses to run as root, and CI runs as root: then the cluster
 * runs as the `postgres` user that Debian's package creates (runuser).
 * A run that was killed leaves its cluster running: the next start stops
 * and deletes the clusters whose owning process is gone (owner.pid).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processAlive } from '../tiles-server/process-alive.js';

export interface PgCluster {
  /** postgres://… of the cluster's maintenance database (`postgres`), as the superuser `wsi`. */
  url: string;
  stop(): void;
}

/** The newest Debian PostgreSQL's binaries, or null when the `postgresql` package is absent. */
export function pgBinDir(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function uidOf(user: string): { uid: number; gid: number } | null {
  const r = spawnSync('id', ['-u', user], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', user], { encoding: 'utf8' });
  if (r.status !== 0 || g.status !== 0) return null;
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

/** Stops and deletes the clusters of runs that were killed (their owner is gone; a folder without an owner after 10 minutes). */
function reapOrphans(bin: string): void {
  for (const name of readdirSync(tmpdir()).filter((n) => n.startsWith('wsi-pg-'))) {
    const dir = join(tmpdir(), name);
    try {
      const owner = join(dir, 'owner.pid');
      if (existsSync(owner) ? processAlive(Number(readFileSync(owner, 'utf8'))) : Date.now() - statSync(dir).mtimeMs < 600_000) continue;
      const data = join(dir, 'data');
      if (existsSync(join(data, 'postmaster.pid'))) {
        const asPostgres = process.getuid?.() === 0 && uidOf('postgres') !== null;
        const [file, argv] = asPostgres ? ['runuser', ['-u', 'postgres', '--', join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop']] : [join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']];
        spawnSync(file, argv, { stdio: 'ignore', timeout: 30_000 });
      }
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // another user's folder, or gone meanwhile: not ours to clean
    }
  }
}

export async function startPgCluster(bin: string): Promise<PgCluster> {
  reapOrphans(bin);
  const dir = mkdtempSync(join(tmpdir(), 'wsi-pg-'));
  writeFileSync(join(dir, 'owner.pid'), String(process.pid));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  const pgUser = asRoot ? uidOf('postgres') : null;
  if (asRoot && !pgUser) throw new Error('PostgreSQL refuses to run as root and there is no `postgres` user (apt-get install postgresql creates it)');
  if (pgUser) {
    chownSync(dir, pgUser.uid, pgUser.gid);
    chmodSync(dir, 0o700);
  }
  const run = (cmd: string, args: string[]): void => {
    const [file, argv] = pgUser ? ['runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]] : [join(bin, cmd), args];
    execFileSync(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  };
  let port = 0;
  try {
    run('initdb', ['-D', data, '-U', 'wsi', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    // the port is picked just before the start, not before initdb's seconds, in which another run could take it
    port = await freePort();
    const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=200`;
    run('pg_ctl', ['-D', data, '-o', opts, '-l', join(dir, 'log'), '-w', '-t', '60', 'start']);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `postgres://wsi@127.0.0.1:${port}/postgres`,
    stop: () => {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
