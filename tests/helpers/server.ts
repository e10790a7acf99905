/**
 * Starts the built tiles-server as a child process for a test, and signs
 * in: the first admin is made through the setup link the server prints (or,
 * on a data folder that has one, signs in as it), and the process's fetch
 * carries that admin's API token to this server (helpers/accounts.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_PASSWORD, createToken, installCredentials, setupTestAdmin, setupTokenIn, signIn, type Session, type TestUser } from './accounts.js';
import { DIST, SERVER_MAIN, requireBuild } from './paths.js';

export interface TestServer {
  url: string;
  proc: ChildProcess;
  dataDir: string;
  /** The admin the helper signed in as (null with `signIn: false`). */
  admin: TestUser | null;
  session: Session | null;
  /** The admin's write-scoped API token, which `fetch` carries to this server. */
  token: string | null;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** The admin, session and token the helper has for each data folder (a restarted server keeps them). */
const signedIn = new Map<string, { admin: TestUser; session: Session; token: string }>();

export interface StartOptions {
  /** Sign in as the first admin and give fetch its token (default true). */
  signIn?: boolean;
}

export async function startTestServer(slidesDir: string, env: Record<string, string> = {}, opts: StartOptions = {}): Promise<TestServer> {
  requireBuild();
  const dataDir = await mkdtemp(join(tmpdir(), 'wsi-test-data-'));
  const proc = spawn(process.execPath, [SERVER_MAIN], {
    // load shedding (MAX_LAG_MS, IMAGE_QUEUE_WAIT_MS) answers 503 on a busy machine: tests that want it turn it on
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', SLIDES_DIR: slidesDir, DATA_DIR: dataDir, STATIC_DIR: DIST, SAMPLE_SLIDE: '0', MAX_LAG_MS: '0', IMAGE_QUEUE_WAIT_MS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 60_000);
    const check = (): void => {
      const m = /Open (https?:\/\/[^\s/]+)\//.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    };
    proc.stdout?.on('data', check);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
  });
  let admin: TestUser | null = null;
  let session: Session | null = null;
  let token: string | null = null;
  if (opts.signIn !== false) {
    const setup = setupTokenIn(out);
    const dataDirUsed = env['DATA_DIR'] ?? dataDir;
    const earlier = signedIn.get(dataDirUsed);
    if (setup) {
      ({ user: admin, session } = await setupTestAdmin(url, setup));
      token = await createToken(url, session);
    } else if (earlier) {
      // a restart on a data folder the helper signed in to: its token still works (even on a store opened read-only)
      ({ admin, session, token } = earlier);
    } else {
      session = await signIn(url, 'admin');
      const me = (await (await fetch(`${url}/api/auth/me`, { headers: { Cookie: session.cookie } })).json()) as { user: TestUser };
      admin = { ...me.user, password: TEST_PASSWORD };
      token = await createToken(url, session);
    }
    signedIn.set(dataDirUsed, { admin, session, token });
    installCredentials(url, token);
  }
  return {
    url,
    proc,
    dataDir,
    admin,
    session,
    token,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = waitExit(proc);
        proc.kill(signal);
        await exited;
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Resolves when the process has exited (by code or by signal), even if it already has. */
export function waitExit(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => proc.once('exit', () => resolve()));
}

export async function getJson<T = Record<string, unknown>>(url: string): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await fetch(url);
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body: body as T, headers: res.headers };
}
