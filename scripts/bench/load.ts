/**
 * A closed-loop HTTP load generator: `concurrency` clients, each sending its
 * next request when the previous one finished, over keep-alive connections,
 * for a fixed time. Latency is measured per request from send to last byte.
 */
import { Agent, request } from 'node:http';
import { bearer } from '../credentials.js';

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  tilesPerSec: number;
  p50ms: number;
  p99ms: number;
  meanBytes: number;
  firstError: string | null;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

function get(agent: Agent, url: URL): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname + url.search, agent, method: 'GET', headers: bearer(url.origin) }, (res) => {
      let bytes = 0;
      res.on('data', (d: Buffer) => (bytes += d.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Runs `clients` lists of URLs (one list per client, cycled) for `seconds`.
 * With one shared list, clients take URLs from it in turn.
 */
export async function runLoad(clients: string[][], seconds: number): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: clients.length, maxFreeSockets: clients.length });
  const latencies: number[] = [];
  let errors = 0;
  let bytes = 0;
  let firstError: string | null = null;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(
    clients.map(async (urls) => {
      let i = 0;
      while (performance.now() < deadline) {
        const url = new URL(urls[i++ % urls.length] as string);
        const start = performance.now();
        try {
          const r = await get(agent, url);
          if (r.status !== 200) {
            errors++;
            firstError ??= `${r.status} ${url.pathname}${url.search}`;
          }
          bytes += r.bytes;
        } catch (err) {
          errors++;
          firstError ??= `${(err as Error).message} ${url.pathname}`;
        }
        latencies.push(performance.now() - start);
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    seconds: +elapsed.toFixed(3),
    tilesPerSec: +(latencies.length / elapsed).toFixed(1),
    p50ms: +percentile(latencies, 50).toFixed(2),
    p99ms: +percentile(latencies, 99).toFixed(2),
    meanBytes: Math.round(bytes / Math.max(1, latencies.length)),
    firstError,
  };
}
