/**
 * The tile servers under test, started on loopback with a common interface:
 * ours (the built tiles-server), IIPImage (iipsrv under spawn-fcgi behind
 * nginx, DeepZoom protocol) and OpenSlide's deepzoom_server.py. The peers
 * are used when their Debian packages are installed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { cookiesOf, createToken, installCredentials, setupAdmin, setupTokenIn, type Session } from '../credentials.js';

export interface TileServer {
  name: 'ours' | 'ours-nocache' | 'ours-dicom' | 'iipimage' | 'openslide';
  dziUrl: string;
  tileUrl(level: number, col: number, row: number): string;
  /** Processes whose memory counts as the server's. */
  pids(): number[];
  stop(): Promise<void>;
}

const IIPSRV = '/usr/lib/iipimage-server/iipsrv.fcgi';
const SPAWN_FCGI = '/usr/bin/spawn-fcgi';
const NGINX = '/usr/sbin/nginx';
const DEEPZOOM = '/usr/share/doc/python-openslide-examples/examples/deepzoom/deepzoom_server.py';
const PYTHON = '/usr/bin/python3';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export async function waitFor(url: string, timeoutMs = 120_000): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      if (r.ok) return performance.now() - t0;
    } catch {
      // not up yet
    }
    if (performance.now() - t0 > timeoutMs) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function kill(p: ChildProcess | null): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    p.once('exit', () => resolve());
    p.kill('SIGTERM');
    setTimeout(() => p.kill('SIGKILL'), 5000).unref();
  });
}

/** Resident memory of a process and its children, in bytes (Linux /proc). */
export async function rssBytes(pids: number[]): Promise<{ rss: number; peak: number }> {
  let rss = 0;
  let peak = 0;
  for (const pid of pids) {
    try {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      rss += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
      peak += Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
    } catch {
      // gone
    }
  }
  return { rss, peak };
}

function childPids(parent: number): number[] {
  const r = spawnSync('pgrep', ['-P', String(parent)], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).map(Number);
}

export interface OursStarted extends TileServer {
  slideId: string;
  /** Spawn to first DZI descriptor, and the first tile after it (ms); the first admin's setup (Argon2) is not counted. */
  coldOpenMs: number;
  firstTileMs: number;
  /** The base URL, and the signed-in bench admin: its user id (the annotator of its mask) and its browser session; null on a server without accounts (BENCH_SERVER_ROOT of an older checkout). */
  base: string;
  userId: string;
  session: Session | null;
}

/** What a spawned server (stdout piped) has printed so far. */
export function collect(proc: ChildProcess): () => string {
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  return () => out;
}

/** Waits for the server's "Open …" line (its setup link, if any, comes before it). */
export async function ready(proc: ChildProcess, output: () => string): Promise<void> {
  while (!/\nOpen http/.test(output()) && proc.exitCode === null) await new Promise((r) => setTimeout(r, 20));
}

/** The bench admin's password (a throwaway server's only account; the policy refuses one containing the login name). */
export const BENCH_PASSWORD = 'throwaway server, not a secret';

/**
 * Signs in to a server that just printed its setup link: the first admin
 * ("bench"), a write token that this process's fetch carries to it from
 * now on, and the session for browsers. A server without accounts prints
 * no link: then nothing is needed.
 */
export async function signInOurs(base: string, output: () => string): Promise<{ userId: string; session: Session | null }> {
  const token = setupTokenIn(output());
  if (!token) return signInAgain(base);
  const admin = await setupAdmin(base, token, 'bench', BENCH_PASSWORD);
  installCredentials(base, await createToken(base, admin.session, 'write', 'bench'));
  return { userId: admin.id, session: admin.session };
}

/**
 * No setup link: a server from before accounts (no session), or a kept data
 * directory whose bench admin was made on an earlier start (signed in by password).
 */
async function signInAgain(base: string): Promise<{ userId: string; session: Session | null }> {
  const res = await fetch(`${base}/api/auth/session`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: 'bench', password: BENCH_PASSWORD }) });
  if (!res.ok) return { userId: 'bench', session: null };
  const session = cookiesOf(res);
  const me = (await res.json()) as { user: { id: string } };
  installCredentials(base, await createToken(base, session, 'write', 'bench'));
  return { userId: me.user.id, session };
}

/** `slideName`: the name the server lists the slide under, when it is not the file's (a DICOM series folder is `name/`). */
export async function startOurs(root: string, slideFile: string, dataDir: string, extraEnv: Record<string, string> = {}, slideName = basename(slideFile), label?: TileServer['name']): Promise<OursStarted> {
  const port = await freePort();
  const main = join(root, 'build', 'tiles-server', 'main.js');
  const t0 = performance.now();
  const proc = spawn(process.execPath, [main], {
    // LOCAL_USER names the author on servers from before accounts (BENCH_SERVER_ROOT)
    env: { ...process.env, PORT: String(port), SLIDES_DIR: dirname(slideFile), DATA_DIR: dataDir, SAMPLE_SLIDE: '0', STATIC_DIR: join(root, 'dist'), LOCAL_USER: 'bench', ...extraEnv },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const output = collect(proc);
  const base = `http://127.0.0.1:${port}`;
  await waitFor(`${base}/api/health`);
  await ready(proc, output);
  const tSignIn = performance.now();
  const { userId, session } = await signInOurs(base, output);
  const signInMs = performance.now() - tSignIn;
  const list = (await (await fetch(`${base}/api/slides`)).json()) as { slides: Array<{ id: string; name: string }> };
  const slide = list.slides.find((s) => s.name === slideName);
  if (!slide) throw new Error('bench slide not listed by our server');
  const dziUrl = `${base}/dzi/${slide.id}.dzi`;
  await (await fetch(dziUrl)).text();
  const coldOpenMs = performance.now() - t0 - signInMs;
  const t1 = performance.now();
  await (await fetch(`${base}/dzi/${slide.id}_files/10/1_1.jpeg`)).arrayBuffer();
  const firstTileMs = performance.now() - t1;
  return {
    name: label ?? (extraEnv['TILE_CACHE_MB'] === '0' ? 'ours-nocache' : 'ours'),
    slideId: slide.id,
    base,
    userId,
    session,
    coldOpenMs,
    firstTileMs,
    dziUrl,
    tileUrl: (l, c, r) => `${base}/dzi/${slide.id}_files/${l}/${c}_${r}.jpeg`,
    pids: () => [proc.pid as number],
    stop: () => kill(proc),
  };
}

export function iipimageAvailable(): boolean {
  return existsSync(IIPSRV) && existsSync(SPAWN_FCGI) && existsSync(NGINX);
}

export async function startIipimage(slideFile: string, workDir: string, jpegQuality: number): Promise<TileServer> {
  await mkdir(join(workDir, 'logs'), { recursive: true });
  const fcgiPort = await freePort();
  const httpPort = await freePort();
  const workers = Math.max(1, availableParallelism());
  const fcgi = spawn(SPAWN_FCGI, ['-n', '-a', '127.0.0.1', '-p', String(fcgiPort), '-F', String(workers), '--', IIPSRV], {
    env: {
      ...process.env,
      VERBOSITY: '0',
      FILESYSTEM_PREFIX: `${dirname(slideFile)}/`,
      MAX_IMAGE_CACHE_SIZE: '256',
      JPEG_QUALITY: String(jpegQuality),
      MAX_CVT: '8192',
    },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  const conf = `
worker_processes ${workers};
error_log ${workDir}/logs/error.log error;
pid ${workDir}/logs/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${workDir}/logs/body;
  fastcgi_temp_path ${workDir}/logs/fastcgi;
  proxy_temp_path ${workDir}/logs/proxy;
  uwsgi_temp_path ${workDir}/logs/uwsgi;
  scgi_temp_path ${workDir}/logs/scgi;
  keepalive_requests 100000;
  fastcgi_read_timeout 30s;
  upstream iip { server 127.0.0.1:${fcgiPort}; }
  server {
    listen 127.0.0.1:${httpPort};
    location /fcgi-bin/iipsrv.fcgi {
      fastcgi_pass iip;
      fastcgi_param QUERY_STRING $query_string;
      fastcgi_param REQUEST_METHOD $request_method;
      fastcgi_param REQUEST_URI $request_uri;
      fastcgi_param SERVER_PROTOCOL $server_protocol;
      fastcgi_param SERVER_NAME $server_name;
      fastcgi_param SERVER_PORT $server_port;
      fastcgi_param HTTP_HOST $host;
    }
  }
}`;
  await writeFile(join(workDir, 'nginx.conf'), conf);
  const nginx = spawn(NGINX, ['-p', workDir, '-c', join(workDir, 'nginx.conf'), '-g', 'daemon off; user root;'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const base = `http://127.0.0.1:${httpPort}/fcgi-bin/iipsrv.fcgi?DeepZoom=${basename(slideFile)}`;
  await waitFor(`${base}.dzi`);
  return {
    name: 'iipimage',
    dziUrl: `${base}.dzi`,
    tileUrl: (l, c, r) => `${base}_files/${l}/${c}_${r}.jpg`,
    pids: () => [...childPids(nginx.pid as number), nginx.pid as number, ...childPids(fcgi.pid as number), fcgi.pid as number],
    stop: async () => {
      await kill(nginx);
      await kill(fcgi);
      spawnSync('pkill', ['-f', IIPSRV]);
    },
  };
}

export function openslideAvailable(): boolean {
  if (!existsSync(DEEPZOOM) || !existsSync(PYTHON)) return false;
  return spawnSync(PYTHON, ['-c', 'import openslide, flask'], { stdio: 'ignore' }).status === 0;
}

export async function startOpenslide(slideFile: string, jpegQuality: number, tileSize: number): Promise<TileServer> {
  const port = await freePort();
  const proc = spawn(PYTHON, [DEEPZOOM, '-B', '-l', '127.0.0.1', '-p', String(port), '-s', String(tileSize), '-e', '0', '-Q', String(jpegQuality), slideFile], {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  const base = `http://127.0.0.1:${port}`;
  await waitFor(`${base}/slide.dzi`);
  return {
    name: 'openslide',
    dziUrl: `${base}/slide.dzi`,
    tileUrl: (l, c, r) => `${base}/slide_files/${l}/${c}_${r}.jpeg`,
    pids: () => [proc.pid as number],
    stop: () => kill(proc),
  };
}
