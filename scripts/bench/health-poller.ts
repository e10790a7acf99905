/**
 * Polls a URL (the server's /api/health) from a worker thread of its own, so
 * that the load generator's busy event loop (a hundred simulated viewers in
 * LOAD-06) does not add its own delays to the latency measured: a sample is
 * the server's answer time plus the network, not the bench's backlog.
 */
import { parentPort, Worker, workerData } from 'node:worker_threads';
import { poll, type Sample } from './viewer-trails.js';

interface PollerData {
  healthPoller: true;
  url: string;
  everyMs: number;
}

const data = workerData as PollerData | undefined;
const port = parentPort;
if (port && data?.healthPoller) {
  const polling = poll(data.url, data.everyMs);
  port.once('message', () => void polling.stop().then((samples) => port.postMessage(samples)));
}

/** Starts polling in a worker thread; stop() ends it and gives its samples. */
export function pollInWorker(url: string, everyMs: number): { stop(): Promise<Sample[]> } {
  const worker = new Worker(new URL(import.meta.url), { workerData: { healthPoller: true, url, everyMs } satisfies PollerData });
  return {
    stop: () =>
      new Promise<Sample[]>((resolve, reject) => {
        worker.once('message', (samples: Sample[]) => {
          void worker.terminate();
          resolve(samples);
        });
        worker.once('error', reject);
        worker.postMessage('stop');
      }),
  };
}
