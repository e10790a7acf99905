/**
 * Other users' writes while an import is running (issue 10 finding 1), on
 * the bench slide. One writer makes an annotation POST, a PUT /api/classes
 * and a mask-tile POST in turn, 50 ms apart, and records each answer's
 * status and latency:
 *
 * - `writes_idle`: the writer alone (the baseline, same run);
 * - `writes_stalled_upload`: while a chunked GeoJSON import has sent 1 MB
 *   and then stalls, as a client sending 1 byte/s does between its bytes;
 * - `writes_during_import`: while the million-cell file (BENCH_CELLS, the
 *   annotations suite's) is imported at full speed; the import's time too.
 *
 * BENCH_IMPORT_WRITE_SECONDS (default 15) is the length of the first two
 * phases. BENCH_SERVER_ROOT runs the server of another checkout (e.g.
 * main's build) for the figures before a change.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCells, importFile } from './annotations-suite.js';
import { startOurs } from './peers.js';
import { ensureSlide, type Emit } from './tiles-suite.js';
import { bearer } from '../credentials.js';

const SECONDS = Number(process.env['BENCH_IMPORT_WRITE_SECONDS'] ?? 15);

interface Sample {
  what: string;
  status: number;
  code: string | null;
  ms: number;
}

function square(x: number, y: number): Record<string, unknown> {
  return {
    id: crypto.randomUUID(),
    kind: 'polygon',
    geometry: { type: 'Polygon', coordinates: [[[x, y], [x + 20, y], [x + 20, y + 20], [x, y + 20], [x, y]]] },
    classification: 'Tumour',
    name: null,
    note: null,
    locked: false,
  };
}

/** A 512² mask tile with a stripe of class 1, zlib-compressed and base64 (built once). */
const TILE = (async () => {
  const { deflateSync } = await import('node:zlib');
  const px = new Uint8Array(512 * 512);
  for (let i = 0; i < 512 * 40; i++) px[i] = 1;
  return deflateSync(px).toString('base64');
})();

/** New mask tiles (ifMatch 0) across every writer of the run. */
let tile = 0;
/** The bench user's annotator id (its user id on a server with accounts). */
let annotator = 'bench';

/** The writer: runs until `stop()` resolves, then returns every sample. */
function writer(base: string, slide: string): { stop(): Promise<Sample[]> } {
  const samples: Sample[] = [];
  let running = true;
  const send = async (what: string, method: string, path: string, body: unknown): Promise<void> => {
    const t0 = performance.now();
    try {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { 'Content-Type': 'application/json', 'Idempotency-Key': `bench-${crypto.randomUUID()}` },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      });
      const json = (await res.json()) as { code?: string };
      samples.push({ what, status: res.status, code: res.ok ? null : (json.code ?? null), ms: performance.now() - t0 });
    } catch (err) {
      samples.push({ what, status: 0, code: (err as Error).name, ms: performance.now() - t0 });
    }
  };
  const loop = (async () => {
    const classes = ((await (await fetch(`${base}/api/classes`)).json()) as { classes: unknown[] }).classes;
    const data = await TILE;
    for (let i = 0; running; i++) {
      if (i % 3 === 0) await send('annotation', 'POST', `/api/slides/${slide}/annotations`, square((i * 37) % 40_000, (i * 53) % 40_000));
      else if (i % 3 === 1) await send('classes', 'PUT', '/api/classes', { classes });
      else {
        const n = tile++;
        await send('mask tile', 'POST', `/api/slides/${slide}/masks/${annotator}/tiles`, { ops: [{ tx: n % 90, ty: Math.floor(n / 90), ifMatch: 0, data }] });
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return samples;
    },
  };
}

function summary(samples: Sample[]): Record<string, unknown> {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const q = (f: number): number => +(ms[Math.min(ms.length - 1, Math.floor(f * ms.length))] ?? Number.NaN).toFixed(1);
  const errors: Record<string, number> = {};
  for (const s of samples) if (s.status < 200 || s.status > 299) errors[`${s.status} ${s.code ?? ''}`.trim()] = (errors[`${s.status} ${s.code ?? ''}`.trim()] ?? 0) + 1;
  const perKind: Record<string, number> = {};
  for (const s of samples) perKind[s.what] = Math.max(perKind[s.what] ?? 0, +s.ms.toFixed(1));
  return { writes: samples.length, medianMs: q(0.5), p95Ms: q(0.95), p99Ms: q(0.99), maxMs: +(ms[ms.length - 1] ?? Number.NaN).toFixed(1), maxMsByKind: perKind, errors };
}

/** Opens a chunked import, sends `first` bytes of a valid file, and leaves it stalled. */
function stalledUpload(base: string, slide: string, first: number): { close(): Promise<{ status: number; body: string }> } {
  const url = new URL(`${base}/api/slides/${slide}/annotations/import?format=qupath-geojson`);
  const key = `bench-stalled-${crypto.randomUUID()}`;
  const req = request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST', headers: { 'Content-Type': 'application/geo+json', 'Idempotency-Key': key, ...bearer(base) } });
  const answer = new Promise<{ status: number; body: string }>((resolve) => {
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', (err) => resolve({ status: 0, body: err.message }));
  });
  const parts: string[] = [];
  let n = 0;
  for (let i = 0; n < first; i++) {
    const f = `${i === 0 ? '{"type":"FeatureCollection","features":[' : ','}{"type":"Feature","geometry":{"type":"Point","coordinates":[${i % 1000},${Math.floor(i / 1000)}]},"properties":{}}`;
    parts.push(f);
    n += f.length;
  }
  req.write(parts.join(''));
  return {
    async close() {
      // cancel it (the route exists after the change); before it, only dropping the connection ends it
      const cancel = await fetch(`${base}/api/slides/${slide}/annotations/import/${key}`, { method: 'DELETE' }).catch(() => null);
      const timeout = new Promise<{ status: number; body: string }>((r) => setTimeout(() => r({ status: 0, body: 'no answer' }), 5000));
      const got = cancel && cancel.status < 400 ? await Promise.race([answer, timeout]) : { status: 0, body: `no cancel route (${cancel?.status ?? 'error'})` };
      req.destroy();
      return got;
    },
  };
}

export async function importsSuite(root: string, emit: Emit): Promise<void> {
  const serverRoot = process.env['BENCH_SERVER_ROOT'] ?? root;
  const slideFile = await ensureSlide(root, emit);
  const cells = await ensureCells(root, emit);
  const work = await mkdtemp(join(tmpdir(), 'wsi-bench-imports-'));
  const server = await startOurs(serverRoot, slideFile, work);
  annotator = server.userId;
  const base = new URL(server.dziUrl).origin;
  const wait = (s: number): Promise<void> => new Promise((r) => setTimeout(r, s * 1000));
  try {
    let w = writer(base, server.slideId);
    await wait(SECONDS);
    emit({ suite: 'imports', metric: 'writes_idle', seconds: SECONDS, ...summary(await w.stop()) });

    const upload = stalledUpload(base, server.slideId, 1 << 20);
    await wait(1);
    w = writer(base, server.slideId);
    await wait(SECONDS);
    const stalled = summary(await w.stop());
    const closed = await upload.close();
    emit({ suite: 'imports', metric: 'writes_stalled_upload', seconds: SECONDS, uploadSentMB: 1, ...stalled, uploadAnswer: `${closed.status} ${closed.body.slice(0, 120)}` });

    w = writer(base, server.slideId);
    const imp = await importFile(base, server.slideId, cells);
    const during = summary(await w.stop());
    emit({
      suite: 'imports',
      metric: 'writes_during_import',
      importStatus: imp.status,
      imported: imp.report['imported'],
      importSeconds: +(imp.ms / 1000).toFixed(1),
      ...during,
    });
  } finally {
    await server.stop();
    await rm(work, { recursive: true, force: true });
  }
}
