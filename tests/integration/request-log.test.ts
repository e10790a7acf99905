/**
 * The request log tells the truth (issue 10, finding 9; TEST-CATALOGUE
 * DEID-10 and SEC-12 for what may appear in it): a POST whose client hangs
 * up mid-body is logged as aborted with no status (it was logged 200), a
 * request is timed from arrival to the end of its handler, refused
 * requests carry their real status, and paths hold only opaque ids —
 * never a file name, an annotator's name or a query. With LOG_FILE the
 * lines go to a private (0600) file instead of stdout.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer } from '../helpers/accounts.js';
import { square } from '../helpers/annotations.js';
import { FIXTURES } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

interface Line {
  t: string;
  method: string;
  path: string;
  status: number | null;
  ms: number;
  aborted?: boolean;
  abortedAtMs?: number;
}

let server: TestServer;
let logDir: string;
let logFile: string;
let slide = '';

async function lines(): Promise<Line[]> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
}

/** Waits for the first log line that `pick` accepts. */
async function waitLine(pick: (l: Line) => boolean): Promise<Line> {
  for (let i = 0; i < 200; i++) {
    const hit = (await lines()).find(pick);
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no such log line in:\n${(await lines()).map((l) => JSON.stringify(l)).join('\n')}`);
}

/** The Authorization header line of the signed-in admin's token. */
const authLine = (): string => `Authorization: ${bearer(server.url)['Authorization'] ?? ''}\r\n`;

/** Sends a raw HTTP request: the head, then the body in `parts` spaced `gapMs` apart; `hangUp` closes the socket after the parts instead of waiting for the answer. */
function rawRequest(head: string, parts: string[], gapMs: number, hangUp: boolean): Promise<string> {
  const u = new URL(server.url);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(u.port), u.hostname, async () => {
      sock.write(head);
      for (const p of parts) {
        await new Promise((r) => setTimeout(r, gapMs));
        sock.write(p);
      }
      if (hangUp) {
        await new Promise((r) => setTimeout(r, 50));
        sock.destroy();
        resolve('');
      }
    });
    let got = '';
    sock.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (/\r\n\r\n/.test(got) && !hangUp) {
        sock.destroy();
        resolve(got);
      }
    });
    sock.on('error', reject);
  });
}

beforeAll(async () => {
  logDir = await mkdtemp(join(tmpdir(), 'wsi-log-'));
  logFile = join(logDir, 'requests.log');
  server = await startTestServer(FIXTURES, { LOG_FILE: logFile });
  const { body } = await getJson<{ slides: Array<{ id: string; name: string }> }>(`${server.url}/api/slides`);
  slide = body.slides.find((s) => s.name === 'slides/aperio-jpeg-240-x4.svs')?.id ?? '';
});

afterAll(async () => {
  await server?.stop();
  await rm(logDir, { recursive: true, force: true });
});

describe('request log', () => {
  it('logs a POST whose client hung up mid-body as aborted, with no status', async () => {
    const body = JSON.stringify(square(10, 10, 50));
    const head = `POST /api/slides/${slide}/annotations HTTP/1.1\r\nHost: 127.0.0.1\r\n${authLine()}Content-Type: application/json\r\nIdempotency-Key: ${randomUUID()}\r\nContent-Length: ${body.length}\r\n\r\n`;
    await rawRequest(head, [body.slice(0, 20)], 300, true);
    const line = await waitLine((l) => l.method === 'POST' && l.path === `/api/slides/${slide}/annotations`);
    expect(line.status).toBeNull();
    expect(line.aborted).toBe(true);
    expect(line.abortedAtMs).toBeGreaterThanOrEqual(300);
    expect(line.ms).toBeGreaterThanOrEqual(line.abortedAtMs as number);
  });

  it('times a request from its arrival to the end of its handler, with the status sent', async () => {
    const a = square(100, 100, 50);
    const body = JSON.stringify(a);
    const head = `POST /api/slides/${slide}/annotations HTTP/1.1\r\nHost: 127.0.0.1\r\n${authLine()}Content-Type: application/json\r\nIdempotency-Key: ${randomUUID()}\r\nContent-Length: ${body.length}\r\n\r\n`;
    // the body dribbles in over about 1.2 s
    const parts = Array.from({ length: 4 }, (_, i) => body.slice((i * body.length) / 4, ((i + 1) * body.length) / 4));
    const answer = await rawRequest(head, parts, 300, false);
    expect(answer).toMatch(/^HTTP\/1\.1 201/);
    const line = await waitLine((l) => l.method === 'POST' && l.status === 201 && l.path === `/api/slides/${slide}/annotations`);
    expect(line.ms).toBeGreaterThanOrEqual(1150);
    expect(line.aborted).toBeUndefined();
  });

  it('logs refusals with their real status', async () => {
    const r = await fetch(`${server.url}/api/slides/${slide}/annotations/${randomUUID()}`);
    expect(r.status).toBe(404);
    await r.arrayBuffer();
    const line = await waitLine((l) => l.status === 404 && l.path.startsWith(`/api/slides/${slide}/annotations/`));
    expect(line.aborted).toBeUndefined();
  });

  it('keeps file names, annotator names and queries out of the log (DEID-10)', async () => {
    const sentinel = 'Doe_Jane_MRN123456';
    for (const path of [`/api/slides/${sentinel}.svs`, `/api/slides/${slide}/masks/${sentinel}/tiles?bbox=0,0,10,10&who=${sentinel}`, `/dzi/${sentinel}.dzi`, `/${sentinel}.html`, `/api/slides/${slide}/thumbnail?size=64&name=${sentinel}`]) {
      await (await fetch(`${server.url}${path}`)).arrayBuffer();
    }
    await waitLine((l) => l.path.startsWith(`/api/slides/${slide}/thumbnail`));
    const text = await readFile(logFile, 'utf8');
    expect(text).not.toContain(sentinel);
    expect(text).not.toContain('MRN');
    expect(text).not.toContain('bbox');
    expect(text).toContain(`/api/slides/${slide}/masks/*/tiles`);
  });

  it('writes to LOG_FILE (0600), not stdout', async () => {
    expect((await stat(logFile)).mode & 0o777).toBe(0o600);
    expect(server.output()).not.toContain('"method"');
  });
});
