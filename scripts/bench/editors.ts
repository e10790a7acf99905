/**
 * Simulated annotators for the load suite (LOAD-04): each makes one edit a
 * second (create 40%, move a vertex 40%, delete 20% of its own polygons),
 * every edit with an Idempotency-Key and the If-Match of the version it
 * last saw, retried with the same key on a network error or a 503 as the
 * client's outbox would. The acknowledged answers form an oracle that the
 * server's state is checked against at the end: nothing acknowledged may be
 * missing, stale or duplicated.
 */
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { rng } from './workloads.js';
import type { Sample } from './viewer-trails.js';

interface Known {
  version: number;
  x: number;
  deleted: boolean;
}

export interface EditorsResult {
  writes: Sample[];
  /** Answers that were 503 STORE_BUSY (SQLITE_BUSY reaching a user). */
  storeBusy: number;
  retries: number;
  /** Writes that failed for good (after retries), with the first reason. */
  failed: number;
  firstFailure: string | null;
  oracle: Map<string, Known>;
}

function send(agent: Agent, base: URL, method: string, path: string, body: unknown, headers: Record<string, string>): Promise<{ status: number; text: string; etag: string | null }> {
  return new Promise((resolve) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      { host: base.hostname, port: base.port, path, agent, method, headers: { ...headers, ...(data ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {}) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, etag: (res.headers.etag as string | undefined) ?? null }));
        res.on('error', () => resolve({ status: 0, text: '', etag: null }));
      },
    );
    req.on('error', () => resolve({ status: 0, text: '', etag: null }));
    req.end(data);
  });
}

function polygon(x: number, y: number): Record<string, unknown> {
  const s = 40;
  return { type: 'Polygon', coordinates: [[[x, y], [x + s, y], [x + s, y + s], [x, y + s], [x, y]]] };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** `auth`: the credential header every request carries (the server has accounts). */
export async function runEditors(baseUrl: string, slideId: string, users: number, seconds: number, seed: number, t0 = performance.now(), auth: Record<string, string> = {}): Promise<EditorsResult> {
  const base = new URL(baseUrl);
  const result: EditorsResult = { writes: [], storeBusy: 0, retries: 0, failed: 0, firstFailure: null, oracle: new Map() };
  const deadline = performance.now() + seconds * 1000;
  const prefix = `/api/slides/${slideId}/annotations`;
  await Promise.all(
    Array.from({ length: users }, async (_, u) => {
      const r = rng(seed * 104729 + u + 1);
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const mine: string[] = [];
      await sleep(r() * 1000);
      let due = performance.now();
      while (performance.now() < deadline) {
        const live = mine.filter((id) => !result.oracle.get(id)?.deleted);
        const p = r();
        const key = randomUUID();
        let op: { method: string; path: string; body?: unknown; ifMatch?: number; apply(res: { status: number; text: string; etag: string | null }): void };
        if (live.length === 0 || p < 0.4) {
          const id = randomUUID();
          const x = Math.floor(r() * 20000);
          const y = Math.floor(r() * 20000);
          op = {
            method: 'POST',
            path: prefix,
            body: { id, kind: 'polygon', geometry: polygon(x, y), classification: 'Tumour', name: null, note: null, locked: false },
            apply: (res) => {
              const a = JSON.parse(res.text) as { version: number };
              mine.push(id);
              result.oracle.set(id, { version: a.version, x, deleted: false });
            },
          };
        } else {
          const id = live[Math.floor(r() * live.length)] as string;
          const known = result.oracle.get(id) as Known;
          if (p < 0.8) {
            const x = known.x + 1;
            op = {
              method: 'PATCH',
              path: `${prefix}/${id}`,
              body: { geometry: polygon(x, 100) },
              ifMatch: known.version,
              apply: (res) => {
                const a = JSON.parse(res.text) as { version: number };
                result.oracle.set(id, { version: a.version, x, deleted: false });
              },
            };
          } else {
            op = {
              method: 'DELETE',
              path: `${prefix}/${id}`,
              ifMatch: known.version,
              apply: (res) => {
                const a = res.text ? (JSON.parse(res.text) as { version?: number }) : {};
                result.oracle.set(id, { version: a.version ?? known.version + 1, x: known.x, deleted: true });
              },
            };
          }
        }
        const headers: Record<string, string> = { ...auth, 'Idempotency-Key': key, ...(op.ifMatch !== undefined ? { 'If-Match': `"${op.ifMatch}"` } : {}) };
        const issued = performance.now();
        let res = await send(agent, base, op.method, op.path, op.body, headers);
        for (let attempt = 1; (res.status === 0 || res.status === 503) && attempt <= 5; attempt++) {
          if (res.status === 503 && res.text.includes('STORE_BUSY')) result.storeBusy++;
          result.retries++;
          await sleep(100 * attempt);
          res = await send(agent, base, op.method, op.path, op.body, headers);
        }
        result.writes.push({ at: issued - t0, ms: performance.now() - issued, serverMs: performance.now() - issued, status: res.status, retryAfter: false });
        if (res.status >= 200 && res.status < 300) op.apply(res);
        else {
          result.failed++;
          result.firstFailure ??= `${res.status} ${op.method} ${res.text.slice(0, 200)}`;
        }
        due += 1000;
        await sleep(due - performance.now());
      }
      agent.destroy();
    }),
  );
  return result;
}

/** Compares the server's annotations with the oracle: lost, stale and unexpected ones. */
export async function checkOracle(baseUrl: string, slideId: string, oracle: Map<string, Known>, auth: Record<string, string> = {}): Promise<{ checked: number; lost: number; stale: number; unexpected: number }> {
  const server = new Map<string, { version: number; deleted: boolean; x: number }>();
  let after: string | number | null = null;
  for (;;) {
    const res = await fetch(`${baseUrl}/api/slides/${slideId}/annotations?limit=5000${after !== null ? `&after=${after}` : ''}`, { headers: auth });
    const page = (await res.json()) as { annotations: Array<{ id: string; version: number; deleted: boolean; geometry: { coordinates: number[][][] } }>; next: string | number | null };
    for (const a of page.annotations) server.set(a.id, { version: a.version, deleted: a.deleted, x: a.geometry.coordinates[0]?.[0]?.[0] ?? Number.NaN });
    if (!page.next) break;
    after = page.next;
  }
  let lost = 0;
  let stale = 0;
  for (const [id, k] of oracle) {
    const s = server.get(id);
    if (k.deleted) {
      if (s && !s.deleted) stale++;
      continue;
    }
    if (!s || s.deleted) lost++;
    else if (s.version !== k.version || s.x !== k.x) stale++;
  }
  const unexpected = [...server.entries()].filter(([id, s]) => !s.deleted && !oracle.has(id)).length;
  return { checked: oracle.size, lost, stale, unexpected };
}
